# Two commands matter: `make run` and `make test`. Everything else here is what they depend on.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
RASA_VENV  := .venv-rasa
PY         := $(VENV)/bin/python
RASA_PY    := $(RASA_VENV)/bin/python
RASA       := $(RASA_VENV)/bin/rasa
MODEL      := models/current.tar.gz
SPACY_MODEL := var/spacy/en_lookup
WIDGET_DIR := bot/web/widget
WIDGET     := bot/web/static/widget.js
CHROMIUM   := /usr/bin/chromium
PANGO      := /usr/lib/$(shell uname -m)-linux-gnu/libpangoft2-1.0.so.0
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)
# Debian packages, installed one apt-get at a time: `make test` runs two stages at once, and
# two apt-gets would fight over dpkg's lock.
apt_install = $(SUDO) flock /tmp/companion-apt.lock sh -c 'apt-get update -qq && apt-get install -y -qq $(1)'
export PYTHONPATH := $(CURDIR)
# Runs a command as a named stage and notes its time (printed at the end of make test).
STAGE      := tests/timed.sh
# endpoints.yml reads the action server's secret from the environment (Rasa refuses to start
# without the variable): the key `make run` made, or empty where no action server is called.
export COMPANION_ACTION_SECRET ?= $(shell cat var/secrets/action.key 2>/dev/null)

# Rasa 3.6 needs Python 3.10; the application runs on 3.11+. pyenv's shims may hide a
# version that is installed, so look in pyenv's folder as well as on PATH.
find_python = $(firstword $(foreach p,$(1) $(wildcard $(HOME)/.pyenv/versions/$(2)*/bin/$(1)) $(wildcard /usr/local/bin/$(1) /usr/bin/$(1)),$(shell $(p) -c 'import sys; sys.exit(0 if sys.version_info[:2] == ($(subst .,$(comma),$(2))) else 1)' >/dev/null 2>&1 && echo $(p))))
comma := ,
PYTHON310 ?= $(call find_python,python3.10,3.10)
PYTHON3   ?= $(or $(call find_python,python3.11,3.11),$(call find_python,python3.12,3.12),python3)

# What the trained model is made from: the training data, the domain, the pipeline and the
# custom components config.yml names (bot/nlu/, with the safety kernel they read). The channels,
# stores and gates in bot/chat/ run around the model and do not call for training.
MODEL_COMPONENTS := bot/nlu/intent_guards.py bot/nlu/crisis_detector.py bot/nlu/crisis_policy.py \
                    bot/nlu/risk_wording_classifier.py
RASA_INPUTS := domain.yml config.yml $(wildcard data/*.yml) $(MODEL_COMPONENTS) \
               $(wildcard bot/safety/*.py) $(wildcard bot/safety/lexicon/*.yml) \
               $(wildcard bot/safety/wordings/*.yml)

.PHONY: help install postgres-server run shell train test lint format validate test-app test-rasa-side test-stories \
        test-nlu test-safety test-integration test-browser screenshots bench clean cluster-deps figures stage-times-reset check test-stages

help: ## this list
	@echo "make run    install what is missing, train if needed, start the assistant"
	@echo "make test   the whole test suite"
	@echo "every target:"
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)/  \1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{printf "%-20s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- environments
$(VENV)/.installed: requirements/app.in requirements/app.lock requirements/install.sh
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(STAGE) install-app requirements/install.sh $(PY) requirements/app.in requirements/app.lock
	touch $@

$(RASA_VENV)/.installed: requirements/rasa.in requirements/rasa.lock requirements/install.sh
	@test -n "$(PYTHON310)" || { echo "Rasa 3.6 needs Python 3.10 (python3.10 or pyenv's 3.10.x); none found." >&2; exit 1; }
	test -x $(RASA_PY) || $(PYTHON310) -m venv $(RASA_VENV)
	$(STAGE) install-rasa requirements/install.sh $(RASA_PY) requirements/rasa.in requirements/rasa.lock
	touch $@

$(SPACY_MODEL)/config.cfg: $(RASA_VENV)/.installed bot/safety/spacy_pipeline.py
	$(RASA_PY) -m bot.nlu.spacy_model $(SPACY_MODEL)

# The chat widget: socket.io-client bundled with our source into one file (esbuild).
$(WIDGET_DIR)/node_modules/.package-lock.json: $(WIDGET_DIR)/package.json $(WIDGET_DIR)/package-lock.json
	@command -v npm >/dev/null || $(call apt_install,nodejs npm)
	npm ci --prefix $(WIDGET_DIR) --no-audit --no-fund
	touch $@

$(WIDGET): $(WIDGET_DIR)/node_modules/.package-lock.json $(wildcard $(WIDGET_DIR)/src/*.js) $(wildcard $(WIDGET_DIR)/*.mjs)
	npm run build --prefix $(WIDGET_DIR)

install: $(VENV)/.installed $(RASA_VENV)/.installed $(SPACY_MODEL)/config.cfg $(WIDGET) $(PANGO) ## install what is missing: Python environments, spaCy model, widget, system packages
# PDF exports (WeasyPrint) need Pango from Debian.
$(PANGO):
	$(call apt_install,libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
	  libfontconfig1 libglib2.0-0 fonts-dejavu-core openssl)

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
$(CHROMIUM):
	$(call apt_install,chromium)

# ---------------------------------------------------------------- model
# Trains only when the domain, config, training data or the Rasa-side code changed.
$(MODEL): $(RASA_INPUTS) $(RASA_VENV)/.installed $(SPACY_MODEL)/config.cfg
	mkdir -p models
	$(STAGE) train $(RASA) train --fixed-model-name current --out models
	touch $@

train: $(MODEL) ## train the Rasa model (only when its inputs changed)
# ---------------------------------------------------------------- run
run: install $(MODEL) ## install what is missing, train if needed, start the assistant
	$(PY) -m bot run

# A terminal chat; needs the action server, so run it next to `make run`.
shell: install $(MODEL) ## a terminal chat with the trained model (next to make run)
	$(RASA) shell --model $(MODEL) --endpoints endpoints.yml --port 5006

# ---------------------------------------------------------------- checks
lint: $(VENV)/.installed ## ruff format --check and ruff check
	$(STAGE) lint-format $(VENV)/bin/ruff format --check .
	$(STAGE) lint $(VENV)/bin/ruff check .

format: $(VENV)/.installed ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

validate: $(RASA_VENV)/.installed $(SPACY_MODEL)/config.cfg ## rasa data validate --fail-on-warning
	$(STAGE) $@ $(RASA) data validate --fail-on-warning

test-app: $(VENV)/.installed $(WIDGET) $(PANGO) cluster-deps ## the application's tests (tests/app), on SQLite and PostgreSQL
	$(STAGE) $@ $(PY) -m pytest tests/app -q -n auto $(PYTEST_SELECT)

# The everyday loop: lint, then the application's and the Rasa side's suites side by side,
# each on every core (pytest-xdist), without training or the assistant's servers, on SQLite,
# and without the tests marked slow (they start servers or processes, or wait on purpose):
# make test runs every test.
CHECK_TESTS := -m "not slow and not postgresql"
check: $(VENV)/.installed $(RASA_VENV)/.installed $(SPACY_MODEL)/config.cfg $(WIDGET) $(PANGO) cluster-deps ## lint and the fast tests of the app and Rasa-side suites side by side, without training: the everyday loop
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target PYTEST_SELECT='$(CHECK_TESTS)' test-app test-rasa-side

# The storage and tracker-store tests run on SQLite and on a throwaway PostgreSQL server
# (tests/support/pg_server.py) started from Debian's package: initdb, pg_ctl and psql.
postgres-server: ## install PostgreSQL from Debian's packages if missing
	@ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/psql >/dev/null 2>&1 || \
	  { command -v initdb && command -v psql; } >/dev/null || \
	  $(call apt_install,postgresql)

# The two-server tests (tests/integration/test_cluster.py) start throwaway Redis and nginx
# servers from Debian's packages, next to PostgreSQL; tests/integration/test_deploy_units.py
# checks the systemd units with systemd-analyze (Debian's systemd package).
cluster-deps: postgres-server ## install Redis, nginx and systemd-analyze (and PostgreSQL) if missing
	@command -v redis-server >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } \
	  && command -v systemd-analyze >/dev/null || \
	  $(call apt_install,redis-server nginx systemd)

# tests/rasa/chat/test_lock_store.py starts a real redis-server: cluster-deps installs it.
test-rasa-side: $(RASA_VENV)/.installed $(SPACY_MODEL)/config.cfg cluster-deps ## the tests that run in the Rasa environment (tests/rasa)
	$(STAGE) $@ $(RASA_PY) -m pytest -c tests/rasa/pytest.ini tests/rasa -q -p no:cacheprovider -n auto $(PYTEST_SELECT)

# End-to-end conversation tests (tests/test_*.yml) through the trained model.
test-stories: $(MODEL) ## end-to-end conversation stories through the trained model
	$(STAGE) $@ $(RASA) test core --model $(MODEL) --stories tests/ --fail-on-prediction-errors --out results/stories

# NLU evaluation on the held-out split in tests/nlu_eval/ (never trained on).
test-nlu: $(MODEL) ## NLU evaluation on the held-out split (tests/nlu_eval)
	$(STAGE) $@ $(RASA_PY) tests/nlu_eval/evaluate.py --model $(MODEL) --out results/nlu

# Safety evaluation on tests/safety_eval/messages.yml, written apart from the lexicon and the
# training data and never trained on. The floors are the targets: a change that takes urgent
# recall below 0.95 or raises false alarms above them fails.
SAFETY_FLOORS := --explicit-urgent-recall 1.0 --urgent-recall 0.95 --false-urgent-rate 0.02 --false-ask-rate 0.05
test-safety: $(MODEL) ## safety evaluation on the held-out set (tests/safety_eval)
	$(STAGE) $@ $(RASA_PY) tests/safety_eval/evaluate.py --model $(MODEL) --out results/safety $(SAFETY_FLOORS)

# The real Rasa server and action server over HTTP, on their own ports and database.
test-integration: install $(MODEL) cluster-deps ## the real Rasa and action servers over HTTP (tests/integration)
	$(STAGE) $@ $(PY) -m pytest tests/integration -q

# The widget in a real browser against the real servers (web app, Rasa, actions).
test-browser: install $(MODEL) $(CHROMIUM) ## the widget and dashboard in a real browser (tests/browser)
	$(STAGE) $@ $(PY) -m pytest tests/browser -q

# Refresh the README's screenshots (docs/screenshots/) from a real conversation.
screenshots: install $(MODEL) $(CHROMIUM) ## refresh the README's screenshots from a real conversation
	COMPANION_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/browser -q -k "checkin or phone or reviews or invite"

# The whole suite, two stages at a time (the machine's two cores are rarely both busy with
# one): the model trains while the suites that need none run, then the server suites and the
# model's evaluations share the cores, the longest first. --output-sync prints each stage's
# output whole as it ends.
TEST_STAGES := $(MODEL) lint validate test-app test-integration test-browser test-rasa-side \
               test-stories test-nlu test-safety
test: stage-times-reset ## the whole test suite, then how long each stage took
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target test-stages
	@echo "make test: every stage passed; seconds per stage (wall clock, processor):"
	@cat results/stage-times.txt

test-stages: $(TEST_STAGES) ## every stage of make test, in whatever order make -j chooses

# Each stage notes its time in results/stage-times.txt (tests/timed.sh); make test starts afresh.
stage-times-reset: ## start make test's table of stage times afresh
	@mkdir -p results && rm -f results/stage-times.txt
bench: install $(MODEL) $(CHROMIUM) postgres-server ## run the benchmarks and regenerate docs/benchmarks.md
	$(PY) bench/latency.py --out bench/results/latency.json
	$(PY) bench/widget.py --out bench/results/widget.json
	$(PY) bench/dashboard.py --out bench/results/dashboard.json
	$(PY) bench/load.py --out bench/results/load.json
	$(PY) bench/scale_out.py --out bench/results/scale_out.json
	$(PY) bench/journal_writes.py --out bench/results/journal_writes.json
	$(RASA_PY) bench/tracker_store.py --out bench/results/tracker_store.json
	$(PY) bench/startup.py --out bench/results/startup.json
	$(PY) bench/report.py --results bench/results --doc docs/benchmarks.md
	$(PY) bench/readme_figures.py

# README's "Measured" table from committed results: the figures of the last evaluation runs
# (results/, written by make test) are copied into bench/results/evaluations.json first.
figures: $(VENV)/.installed ## copy the last evaluation figures into bench/results and regenerate README's table
	$(PY) bench/readme_figures.py --collect results

clean: ## remove models, results and caches
	rm -rf models results .pytest_cache
