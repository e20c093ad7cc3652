"""The shipped process definitions (deploy/systemd/) without systemd: what they start runs.

test_cluster.py starts ``rasa@N`` and ``actions@N`` from these units and ``migrate.service``
before them; here the web app's unit is started the same way, and the files are checked for
what systemd itself would refuse or silently get wrong: a variable used but never set, a
unit ``systemd-analyze verify`` rejects.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import cluster
import requests
import yaml

from bot import runner, settings

SERVICES = ["rasa@.service", "actions@.service", "web.service", "migrate.service"]


def _defined() -> set[str]:
    found = set(cluster.read_environment_file(cluster.UNITS_DIR / "companion.env"))
    for instance in ("1", "2"):
        env = cluster.read_environment_file(cluster.UNITS_DIR / f"instance-{instance}.env")
        assert set(env) == {"RASA_INTERFACE", "RASA_PORT", "COMPANION_ACTION_PORT"}
        found |= set(env)
    return found


def test_every_variable_the_units_and_endpoints_use_is_set():
    defined = _defined()
    for name in SERVICES:
        unit = cluster.read_unit(cluster.UNITS_DIR / name)
        used = set(re.findall(r"\$\{(\w+)\}", unit.exec_start))
        assert used <= defined | set(unit.environment), (name, used - defined)
    endpoints = (cluster.DEPLOY_DIR / "endpoints.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", endpoints))
    assert used <= defined, used - defined
    config = yaml.safe_load(endpoints)
    assert config["lock_store"]["type"] == "bot.chat.lock_store.AtomicRedisLockStore"
    assert config["tracker_store"] == {"type": "bot.chat.tracker_store.DatabaseUrlTrackerStore"}


def test_instances_do_not_share_ports():
    ports = [
        cluster.read_environment_file(cluster.UNITS_DIR / f"instance-{n}.env") for n in ("1", "2")
    ]
    assert ports[0]["RASA_PORT"] != ports[1]["RASA_PORT"]
    assert ports[0]["COMPANION_ACTION_PORT"] != ports[1]["COMPANION_ACTION_PORT"]
    nginx = cluster.NGINX_SITE.read_text()
    for instance in ports:
        assert nginx.count(f"127.0.0.1:{instance['RASA_PORT']} ") == 2  # REST and socket.io


def test_web_unit_starts_and_answers(tmp_path: Path):
    """migrate.service then web.service, as systemd would run them, on a SQLite file."""
    config_dir = tmp_path / "etc"
    web_port = runner.free_port()
    cluster.write_environment(
        config_dir,
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'companion.db'}",
            "COMPANION_DATA_KEYS_FILE": str(tmp_path / "data.keys"),
            "COMPANION_WEB_PORT": str(web_port),
            "COMPANION_TOKEN_SECRET": "units-test-token-key-0123456789abcdef",
        },
        [5005, 5006],
        [5055, 5056],
    )
    result = cluster.migrate(config_dir)
    assert result.returncode == 0, result.stderr[-2000:]

    web = cluster.unit_service(
        "web.service", config_dir=config_dir, ready_url=f"http://127.0.0.1:{web_port}/healthz"
    )
    assert "--proxy-headers" in web.command
    try:
        web.start()
        runner.wait_until_ready(web, timeout=60)
        page = requests.get(f"http://127.0.0.1:{web_port}/widget.js", timeout=10)
        assert page.status_code == 200 and "socket" in page.text
    finally:
        runner.stop_all([web])


def test_systemd_analyze_accepts_the_units(tmp_path: Path):
    """``systemd-analyze verify`` on copies pointing at this checkout (it checks that the
    programs exist). ``make test`` installs systemd-analyze (``cluster-deps``)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: `make cluster-deps` installs it"
    root = str(settings.PROJECT_ROOT)
    for path in cluster.UNITS_DIR.iterdir():
        if path.suffix in (".service", ".target"):
            text = path.read_text().replace(cluster.INSTALL_ROOT, root)
            text = text.replace(cluster.CONFIG_ROOT, str(cluster.UNITS_DIR))
            text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M)
            (tmp_path / path.name.replace("@.", "@1.")).write_text(text)
    units = sorted(str(path) for path in tmp_path.glob("*.service"))
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=60)
    problems = [
        line
        for line in result.stderr.splitlines()
        # Not running under systemd here; those are about this machine, not the units.
        if line.strip()
        and "System has not been booted" not in line
        and "Failed to connect to bus" not in line
    ]
    assert result.returncode == 0 and not problems, result.stderr
