"""Reaching the care team through the real servers: the demo clinic's contact details from
anywhere (a check-in carries on after them), and a message left for the care team, stored
as a request the dashboard shows (data/care_team.yml, actions/care_team.py)."""

from __future__ import annotations

import pytest
from deployment import eventually

DEMO_CONTACT = "(555) 010-0100"


@pytest.fixture
def demo_clinic(assistant, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", assistant.database_url)
    from bot.clinics import registry

    return registry.ensure_demo_clinic()


def requests_of(journal, sender: str) -> list[tuple[str, str]]:
    flags = (journal.export_patient(sender) or {}).get("risk_flags", [])
    return [(flag["level"], flag["message"]) for flag in flags if flag["level"] == "request"]


def test_asking_for_a_person_gives_the_clinics_contact_and_hours(assistant, sender, demo_clinic):
    reply = assistant.say(sender, "can i talk to my therapist?")
    assert DEMO_CONTACT in reply and demo_clinic.care_team_hours in reply
    assert "Nobody reads this chat live" in reply


def test_asking_for_the_care_team_inside_a_check_in_keeps_the_check_in(
    assistant, sender, demo_clinic
):
    assert "mood" in assistant.say(sender, "quick check-in").lower()
    reply = assistant.say(sender, "how do i reach my care team")
    assert DEMO_CONTACT in reply
    assert "mood" in reply.lower()  # the same question again, nothing saved as an answer
    assert "craving" in assistant.say(sender, "6").lower()


def test_a_message_left_for_the_care_team_is_stored_as_a_request(
    assistant, sender, journal, demo_clinic
):
    assistant.say(sender, "quick check-in")
    assert "care team to know" in assistant.say(sender, "can i leave a message for my therapist")
    words = "i need to move thursday's session, i have a job interview"
    reply = assistant.say(sender, words)
    assert "passed your message on" in reply and "carry on" in reply
    found = eventually(lambda: requests_of(journal, sender), [("request", words)])
    assert found == [("request", words)]
    assert "mood" in assistant.say(sender, "carry on").lower()
