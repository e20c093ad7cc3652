"""The Makefile's test targets install the servers their tests start, so that `make test`
passes on a fresh machine (one without Redis, nginx or PostgreSQL) and not only on one where
an earlier run installed them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The harnesses the suites share (test modules import them by name).
SUPPORT = ROOT / "tests" / "support"

#: A server binary a test suite starts -> the Makefile target that installs it.
SERVERS = {
    "redis-server": "cluster-deps",
    "nginx": "cluster-deps",
    "systemd-analyze": "cluster-deps",
    "initdb": "postgres-server",
}

#: Test target -> the folder of tests it runs.
SUITES = {
    "test-app": "tests/app",
    "test-rasa-side": "tests/rasa",
    "test-integration": "tests/integration",
}


def prerequisites(target: str) -> set[str]:
    """Every target ``make test`` builds before ``target`` (transitively), from make's own
    database of rules."""
    database = subprocess.run(
        ["make", "-pnq", "-C", str(ROOT), "help"], capture_output=True, text=True
    ).stdout
    rules: dict[str, set[str]] = {}
    for line in database.splitlines():
        found = re.match(r"^([\w.$()/-]+):(?!=)\s*(.*)$", line)
        if found and not line.startswith(("#", "\t")):
            rules.setdefault(found.group(1), set()).update(found.group(2).split())
    seen: set[str] = set()
    todo = [target]
    while todo:
        for name in rules.get(todo.pop(), set()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


def servers_started_by(folder: str) -> set[str]:
    """Server binaries named in a suite's Python files and in the shared harnesses of
    tests/support/ they import (directly or through one another)."""
    here = Path(__file__).resolve()
    text = "\n".join(
        path.read_text() for path in (ROOT / folder).rglob("*.py") if path.resolve() != here
    )
    read: set[str] = set()
    while True:
        imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", text, flags=re.M))
        harnesses = {name for name in imported - read if (SUPPORT / f"{name}.py").is_file()}
        if not harnesses:
            break
        read |= harnesses
        text += "\n".join((SUPPORT / f"{name}.py").read_text() for name in sorted(harnesses))
    return {server for server in SERVERS if re.search(rf"\b{re.escape(server)}\b", text)}


@pytest.mark.parametrize("target, folder", SUITES.items())
def test_a_suite_that_starts_a_server_depends_on_the_target_that_installs_it(
    target: str, folder: str
) -> None:
    needed = {SERVERS[server] for server in servers_started_by(folder)}
    missing = needed - prerequisites(target)
    assert not missing, f"{target} starts servers that {missing} installs, without depending on it"


def test_the_rasa_side_suite_starts_redis() -> None:
    """The case a fresh machine hit: tests/rasa starts redis-server (the lock store tests)."""
    assert "redis-server" in servers_started_by("tests/rasa")


def test_make_help_names_every_target() -> None:
    """Every target a contributor can call (phony or not) is in ``make help`` with one line
    saying what it does."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.M))
    phony = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", makefile, re.M)
    assert phony is not None
    assert set(phony.group(1).replace("\\\n", " ").split()) <= targets
    shown = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0] for line in shown.splitlines() if line.startswith("  ")}
    assert targets and targets == listed, sorted(targets ^ listed)


def test_every_custom_component_of_the_model_is_a_training_input():
    """A change to a component config.yml names must retrain the model; the modules that run
    around the model (channels, stores, gates) are left out so that changing them does not."""
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text())
    custom = {
        item["name"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        for item in [*config["pipeline"], *config["policies"]]
        if item["name"].startswith("bot.")
    }
    database = subprocess.run(
        ["make", "-pnq", "-C", str(ROOT), "help"], capture_output=True, text=True
    ).stdout
    [line] = [line for line in database.splitlines() if line.startswith("MODEL_COMPONENTS :=")]
    listed = set(line.split(":=", 1)[1].split())
    assert custom == listed
    assert "bot/chat/patient_channel.py" not in listed
