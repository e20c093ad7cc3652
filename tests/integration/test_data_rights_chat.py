"""The patient's rights over their data, through the real Rasa server and action server:
"delete my data" asks first, then erases the journal and the conversation so that not even a
turn in flight writes it back; "export my data" answers with a link to the patient's own data."""

from __future__ import annotations

import json

from deployment import eventually
from sqlalchemy import create_engine, text

from bot import encryption

NOTE = "The lighthouse keeper's daughter brought me soup"
CRISIS = "i want to kill myself"


def stored_events(database_url: str, sender: str) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
            ).scalars()
            return [json.loads(encryption.open_value(row)) for row in rows]
    finally:
        engine.dispose()


FLAGS = (
    "SELECT COUNT(*) FROM risk_flags JOIN patients ON patients.id = risk_flags.patient_id "
    "WHERE patients.sender_id = :s"
)
FLAGS_WITH_TEXT = (
    "SELECT COUNT(*) FROM risk_flags JOIN patients ON patients.id = risk_flags.patient_id "
    "WHERE patients.sender_id = :s AND risk_flags.erased_at IS NULL"
)


def flags(database_url: str, sender: str, *, with_text: bool = False) -> int:
    """The patient's risk flags (with a message left in them, if ``with_text``)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(FLAGS_WITH_TEXT if with_text else FLAGS), {"s": sender}
            ).scalar_one()
    finally:
        engine.dispose()


def test_delete_my_data_asks_then_erases_everything(assistant, sender, journal) -> None:
    assistant.say(sender, "quick check-in please")
    assistant.say(sender, "6")
    assistant.say(sender, "2")
    assistant.say(sender, NOTE)
    assert "glad you told me" in assistant.say(sender, CRISIS)
    assert [entry.fields.get("note") for entry in journal.recent_entries(sender)] == [NOTE]
    assert eventually(lambda: flags(assistant.database_url, sender), 1) == 1
    assert any(e.get("text") == NOTE for e in stored_events(assistant.database_url, sender))

    question = assistant.say(sender, "please delete all my data")
    assert "can't be undone" in question
    # Saying no keeps everything.
    assert "haven't deleted anything" in assistant.say(sender, "no")
    assert journal.recent_entries(sender)

    assistant.say(sender, "delete my data")
    done = assistant.say(sender, "yes")
    assert "deleted" in done.lower()

    assert journal.recent_entries(sender) == []
    # The flag has not reached the care team yet (no notifier runs here): it stays, without the
    # patient's words, until it does (docs/privacy.md).
    assert flags(assistant.database_url, sender) == 1
    assert flags(assistant.database_url, sender, with_text=True) == 0
    events = stored_events(assistant.database_url, sender)
    said = [e.get("text") for e in events if e.get("event") == "user"]
    assert said == []  # not even "yes", nor anything the turn in flight held in memory
    assert not any(NOTE in json.dumps(e) or CRISIS in json.dumps(e) for e in events)

    # The conversation goes on, and a crisis still gets the crisis reply.
    assert assistant.say(sender, "hello")
    assert "glad you told me" in assistant.say(sender, CRISIS)


def test_export_my_data_offers_a_download_without_a_link(assistant, sender) -> None:
    assistant.say(sender, "quick check-in please")
    assistant.say(sender, "5")
    assistant.say(sender, "1")
    assistant.say(sender, "skip")
    replies = assistant.send(sender, "export my data")
    texts = " ".join(m.get("text", "") for m in replies)
    # A "Download my data" button beside a readable copy; the widget asks the web app for the
    # link when it is pressed, so no link is in the message or in the stored conversation.
    assert "minutes" in texts and "/api/my-data/" not in json.dumps(replies)
    [custom] = [m["custom"] for m in replies if m.get("custom")]
    download = custom["download"]
    assert download["label"] == "Download my data"
    assert (download["url"], download["readable_url"]) == ("", "")
    assert "/api/my-data/" not in json.dumps(stored_events(assistant.database_url, sender))
