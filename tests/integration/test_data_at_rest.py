"""What a patient types reaches the database only sealed: a real check-in and a chat message
through the Rasa server and the action server, then the raw bytes of the database files; and
the dashboard (bot.records) and the journal still read every word."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot import records
from bot.storage import db
from bot.storage.models import Patient

NOTE = "Grandpa Teodor's accordion played at the ferry terminal in Harlingen"
CHAT = "I keep remembering the chestnut tree behind the Oudegracht bakery"


def database_files(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def forms(text: str) -> list[bytes]:
    """The sentence as UTF-8 and as a JSON string, and its most distinctive words."""
    words = [word for word in text.replace("'", " ").split() if len(word) > 7]
    return [text.encode(), *(word.encode() for word in words)]


def test_what_a_patient_says_is_sealed_in_the_database(assistant, sender, journal):
    assistant.say(sender, "quick check-in please")
    assistant.say(sender, "6")
    assistant.say(sender, "2")
    assert "journal" in assistant.say(sender, NOTE).lower()
    assert assistant.send(sender, CHAT)  # some reply; the words are what matters here

    raw = database_files(assistant.database_url)
    for text in (NOTE, CHAT):
        for form in forms(text):
            assert form not in raw, form

    [entry] = journal.recent_entries(sender)
    assert entry.fields["note"] == NOTE
    with db.session_scope(assistant.database_url, write=False) as session:
        clinic_id = session.scalars(
            select(Patient.clinic_id).where(Patient.sender_id == sender)
        ).one()
    patient = records.find_patient(clinic_id, sender)
    assert patient is not None
    said = [
        message.text
        for conversation in records.load_record(patient).conversations
        for message in conversation.messages
        if message.speaker == "patient"
    ]
    assert NOTE in said and CHAT in said
