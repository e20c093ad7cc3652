"""Every endpoints.yml a Rasa server is started with names the project's tracker store and the
response generator that puts the clinic's numbers into crisis replies: the project's own, the
deployment's, and the copies tests and benchmarks write (bot.runner.write_endpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import runner, settings

NLG = "bot.chat.clinic_nlg.ClinicResponseGenerator"
TRACKER_STORE = "bot.chat.tracker_store.DatabaseUrlTrackerStore"


@pytest.mark.parametrize("path", ["endpoints.yml", "deploy/endpoints.yml"])
def test_the_projects_endpoints_name_the_response_generator(path: str) -> None:
    endpoints = yaml.safe_load((settings.PROJECT_ROOT / path).read_text())
    assert endpoints["nlg"]["type"] == NLG


def test_written_endpoints_are_the_projects_with_another_action_port(tmp_path: Path) -> None:
    written = yaml.safe_load(runner.write_endpoints(tmp_path / "endpoints.yml", 6123).read_text())
    assert written["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook"
    assert written["nlg"]["type"] == NLG
    assert written["tracker_store"]["type"] == TRACKER_STORE
