"""The care-team reply through Rasa's response generator (bot/chat/clinic_nlg.py): the clinic's
contact details and hours, the last copy read when the database is down, and words that say
where to look when the clinic has set none."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import patient_tokens
from bot.chat import clinic_nlg
from bot.clinics import care_team
from bot.settings import PROJECT_ROOT


@pytest.fixture
def generator() -> clinic_nlg.ClinicResponseGenerator:
    clinic_nlg._care_team_cache.clear()
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    return clinic_nlg.ClinicResponseGenerator(domain=domain)


def reply(generator: clinic_nlg.ClinicResponseGenerator, clinic: str | None, name: str) -> str:
    tracker = DialogueStateTracker.from_events(
        "patient", [UserUttered("can i talk to my therapist", metadata={"clinic": clinic})]
    )
    response: dict[str, Any] = asyncio.run(generator.generate(name, tracker, "rest"))
    return response["text"]


@pytest.mark.slow
def test_the_clinics_contact_hours_and_response_time_are_said(
    generator: clinic_nlg.ClinicResponseGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "care_team_contact": "call Thameside on 020 7946 0000",
        "care_team_hours": "weekdays 8 am to 6 pm",
        "response_time": "by the next working day",
    }
    monkeypatch.setattr(
        patient_tokens, "clinic_care_team", lambda slug: settings if slug == "tham" else None
    )
    text = reply(generator, "tham", "utter_care_team")
    assert "call Thameside on 020 7946 0000 (weekdays 8 am to 6 pm)." in text
    assert "usually by the next working day" in text
    assert "{" not in text
    sent = reply(generator, "tham", "utter_care_team_message_sent")
    assert "usually by the next working day" in sent and "020 7946 0000" in sent

    def down(slug: str) -> None:
        raise OSError("database down")

    monkeypatch.setattr(patient_tokens, "clinic_care_team", down)
    monkeypatch.setattr(clinic_nlg, "REFRESH_SECONDS", 0.0)
    assert "020 7946 0000" in reply(generator, "tham", "utter_care_team")  # the last copy


def test_a_clinic_without_details_or_unknown_gets_where_to_look(
    generator: clinic_nlg.ClinicResponseGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patient_tokens, "clinic_care_team", lambda slug: None)
    for clinic in ("nowhere", None):
        text = reply(generator, clinic, "utter_care_team")
        assert care_team.NO_CARE_TEAM_CONTACT in text
        assert "usually within one working day" in text
