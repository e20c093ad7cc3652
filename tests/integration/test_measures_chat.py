"""A validated measure the care team scheduled, answered through the real servers: offered
after the greeting, asked item by item with buttons, and PHQ-9 item 9 above 0 reaching the
safety path whatever the total (yes: the crisis reply and an urgent flag; no: thanks, and the
answers kept)."""

from __future__ import annotations

import pytest
from deployment import CRISIS_MARK, eventually
from sqlalchemy import select

from bot.journal import measure_records, measures
from bot.storage import db
from bot.storage.models import Patient

ASK_MARK = "thoughts of ending your life"


@pytest.fixture
def phq9_due(assistant, sender, journal) -> str:
    """A patient whose clinic scheduled a PHQ-9 for today."""
    journal.save_entry(sender, "checkin", fields={"note": "first"}, mood=6)
    db.reset_engines()
    with db.session_scope(write=False) as session:
        clinic = session.scalars(select(Patient.clinic_id).where(Patient.sender_id == sender)).one()
    measure_records.schedule(clinic, sender, "phq9", by="dr.lee@clinic.example")
    return sender


def buttons(messages: list[dict]) -> list[dict]:
    return [button for message in messages for button in message.get("buttons", [])]


def answer_items(assistant, sender: str, payloads: list[str]) -> list[dict]:
    """Tap one answer per item; the replies to the last tap."""
    replies: list[dict] = []
    for payload in payloads:
        replies = assistant.send(sender, payload)
    return replies


def test_the_greeting_offers_it_and_item_nine_leads_to_the_crisis_reply(
    assistant, phq9_due: str, journal
) -> None:
    sender = phq9_due
    greeting = assistant.send(sender, "hi")
    assert "Your care team asked you to fill in the PHQ-9" in " ".join(
        m.get("text", "") for m in greeting
    )
    start = [b for b in buttons(greeting) if b["title"] == "Fill it in now"]
    assert start and start[0]["payload"] == "/start_measure"

    first = assistant.send(sender, "/start_measure")
    text = "\n".join(m.get("text", "") for m in first)
    phq9 = measures.measure("phq9")
    assert phq9.stem in text and phq9.items[0].text in text
    assert [b["title"] for b in buttons(first)] == [o.text for o in phq9.items[0].options]

    # Eight items at 0 by button, then "several days" typed for item 9: total 1, minimal.
    answer_items(assistant, sender, [f"phq9.{n}.0" for n in range(1, 9)])
    asked = assistant.say(sender, "several days")
    assert ASK_MARK in asked, asked
    reply = assistant.say(sender, "yes")
    assert CRISIS_MARK in reply and "988" in reply
    found = eventually(
        lambda: [(f["level"], f["source"]) for f in journal.export_patient(sender)["risk_flags"]],
        [("urgent", "phq9_item9")],
    )
    assert found == [("urgent", "phq9_item9")]
    (result,) = measure_records.results_of(sender)
    assert (result.total, result.band, result.safety_item_positive) == (1, "minimal", True)


def test_no_to_the_safety_question_thanks_and_keeps_the_answers(
    assistant, phq9_due: str, journal
) -> None:
    sender = phq9_due
    assistant.send(sender, "questionnaire")
    answer_items(assistant, sender, [f"phq9.{n}.2" for n in range(1, 9)])
    assert ASK_MARK in assistant.say(sender, "phq9.9.1")
    reply = assistant.say(sender, "no")
    assert "That's all of the PHQ-9" in reply
    assert journal.export_patient(sender)["risk_flags"] == []
    (result,) = measure_records.results_of(sender)
    assert (result.total, result.band) == (17, "moderately severe")
    assert measure_records.due_for(sender) is None


def test_a_question_in_the_middle_is_answered_and_the_item_asked_again(
    assistant, phq9_due: str
) -> None:
    sender = phq9_due
    assistant.send(sender, "questionnaire")
    reply = assistant.say(sender, "what do you mean by little interest?")
    assert "asked exactly as written" in reply
    assert measures.measure("phq9").items[0].text in reply
    assert "Question 2 of 9" in assistant.say(sender, "not at all")
    assert "Nothing half-answered is kept" in assistant.say(sender, "stop")
    assert measure_records.results_of(sender) == []
