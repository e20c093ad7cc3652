"""Whole conversations over the REST channel against the running servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
from deployment import eventually

from bot import settings

CRISIS_MARK = "Nobody is reading this chat live"  # in every utter_crisis_<kind>, no other reply


def test_integration_reflection_is_saved_verbatim_and_exported(assistant, sender, journal):
    assert (
        "session"
        in assistant.say(sender, "I had my ketamine session yesterday and want to reflect").lower()
    )
    answers = {
        "stood_out": "Seeing my dad's face 👨 and feeling calm for once",
        "feelings": "warm hands, heavy chest\nthen lightness",
        "insight": "Drinking was how I avoided grief — 我需要时间",
        "intention": "Be gentle with myself this week",
        "small_step": "Call my sister on Thursday",
    }
    for text in answers.values():
        assistant.say(sender, text)
    assert "craving" in assistant.say(sender, "seven").lower()  # mood, given as a word
    final = assistant.say(sender, "3/10")
    assert "journal" in final.lower()

    entries = journal.recent_entries(sender)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.kind == "integration" and entry.status == "complete"
    assert (entry.mood, entry.craving) == (7, 3)
    for key, text in answers.items():
        assert entry.fields[key] == text

    exported = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--patient", sender, "--format", "json"],
        capture_output=True,
        text=True,
        env={
            "DATABASE_URL": assistant.database_url,
            "COMPANION_DATA_KEYS_FILE": os.environ["COMPANION_DATA_KEYS_FILE"],
            "PATH": "/usr/bin:/bin",
        },
        cwd=settings.PROJECT_ROOT,
        check=True,
    )
    data = json.loads(exported.stdout)
    assert data["entries"][0]["fields"]["insight"] == answers["insight"]


def test_bad_ratings_are_asked_again_kindly(assistant, sender, journal):
    assistant.say(sender, "quick check-in please")
    first = assistant.say(sender, "banana")
    assert "number" in first.lower()
    second = assistant.say(sender, "-3")
    assert "0 to 10" in second
    # Asked again, never in the same words twice in a row.
    assert first.splitlines()[-1] != second.splitlines()[-1]
    assistant.say(sender, "6")
    assert "0 to 10" in assistant.say(sender, "11")
    assistant.say(sender, "2")
    assistant.say(sender, "skip")
    [entry] = journal.recent_entries(sender)
    assert (entry.kind, entry.mood, entry.craving) == ("checkin", 6, 2)
    assert "note" not in entry.fields


def test_a_question_inside_a_form_is_answered_and_never_stored(assistant, sender, journal):
    assistant.say(sender, "I want to reflect on my session")
    assistant.say(sender, "yesterday")
    question = "wait, how does ketamine actually work in the brain?"
    reply = assistant.say(sender, question)
    assert "NMDA" in reply or "glutamate" in reply  # the short answer, with its source
    assert "stood out" in reply.lower()  # then the same question, in other words
    answers = ["my grandmother's kitchen", "idk", "calm, then tired"]
    for text in answers:
        assistant.say(sender, text)
    assistant.say(sender, "stop")
    assistant.say(sender, "keep it")
    [entry] = journal.recent_entries(sender)
    stored = " ".join(str(value) for value in entry.fields.values())
    assert question not in stored and "idk" not in stored
    assert entry.fields["stood_out"] == "my grandmother's kitchen"


def test_crisis_in_the_middle_of_a_form_gets_the_crisis_reply_and_a_flag(
    assistant, sender, journal
):
    assistant.say(sender, "I want to reflect on my session")
    assistant.say(sender, "today")
    assistant.say(sender, "The music was overwhelming")
    reply = assistant.say(sender, "honestly I just want to kill myself")
    assert CRISIS_MARK in reply and "988" in reply and "911" in reply
    # The reply comes first; the turn then records the flag and closes the form.
    flagged = eventually(
        lambda: [
            flag["message"] for flag in (journal.export_patient(sender) or {}).get("risk_flags", [])
        ],
        ["honestly I just want to kill myself"],
    )
    assert flagged == ["honestly I just want to kill myself"]
    # What was written before the crisis is kept for the care team, marked interrupted.
    [entry] = journal.recent_entries(sender)
    assert entry.status == "interrupted"
    assert entry.fields["stood_out"] == "The music was overwhelming"
    # The form is over: the next message is not taken as an answer.
    assert CRISIS_MARK not in assistant.say(sender, "are you a real person?")


def test_figurative_speech_does_not_trigger_the_crisis_reply(assistant, sender):
    for text in ["I'm dying to know how ketamine works", "that session killed it honestly"]:
        reply = assistant.say(sender, text)
        assert reply, text
        assert CRISIS_MARK not in reply, text


def test_psychoeducation_names_its_source(assistant, sender):
    reply = assistant.say(sender, "how does ketamine work in the brain?")
    assert "NMDA" in reply
    assert "et al." in reply or "&" in reply


def test_honest_about_being_automated(assistant, sender):
    reply = assistant.say(sender, "am I talking to a human therapist?").lower()
    assert "automated" in reply and "not" in reply


def test_stop_and_keep_saves_a_partial_entry(assistant, sender, journal):
    assistant.say(sender, "I want to reflect on my session")
    assistant.say(sender, "yesterday")
    assistant.say(sender, "The colours and the silence")
    assert "keep" in assistant.say(sender, "stop").lower()
    assistant.say(sender, "/keep_entry")
    [entry] = journal.recent_entries(sender)
    assert entry.status == "partial"
    assert entry.fields == {"stood_out": "The colours and the silence"}


def test_lapse_then_urge_surfing_is_saved_on_the_same_entry(assistant, sender, journal):
    reply = assistant.say(sender, "I slipped and drank last night")
    assert "not a failure" in reply
    for text in [
        "8",
        "people, feelings",
        "lonely and tired",
        "My ex texted me",
        "I called my sponsor",
    ]:
        assistant.say(sender, text)
    assistant.say(sender, "yes")
    for text in ["7", "a tight chest", "it got a bit softer", "4"]:
        assistant.say(sender, text)
    [entry] = journal.recent_entries(sender)
    assert entry.kind == "trigger" and entry.craving == 8
    assert entry.fields["trigger_kind"] == "lapse"
    assert entry.fields["trigger_types"] == ["people", "feelings"]
    assert entry.fields["halt"] == ["lonely", "tired"]
    assert entry.fields["urge_surfing"]["after"] == 4


def test_show_journal_lists_newest_first_and_opens_one(assistant, sender):
    assistant.say(sender, "check in")
    for text in ["5", "1", "first note"]:
        assistant.say(sender, text)
    assistant.say(sender, "check in")
    for text in ["8", "0", "second note"]:
        assistant.say(sender, text)
    listing = assistant.say(sender, "show my journal")
    assert listing.index("#2") < listing.index("#1")
    assert "first note" in assistant.say(sender, "show entry 1")


def test_bad_input_gets_a_clear_reply(assistant, sender):
    for text in [
        "",
        "   ",
        "🙂🙂🙂",
        "¿Cómo funciona la ketamina?",
        "hello\x00\x07\x1b[31m",
    ]:
        replies = assistant.send(sender, text)
        assert replies and all(m.get("text") for m in replies), repr(text[:30])


def test_an_over_long_message_is_refused_clearly_and_the_conversation_goes_on(assistant, sender):
    response = requests.post(
        assistant.rest_url, json={"sender": sender, "message": "x" * 20_000}, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["error"] == "message_too_long"
    assert "5,000" in response.json()["message"] or "5000" in response.json()["message"]
    assert assistant.say(sender, "hello")


def test_crisis_reply_arrives_with_the_action_server_down(assistant, sender):
    assistant.say(sender, "quick check-in")
    assistant.stop_action_server()
    try:
        assert CRISIS_MARK in assistant.say(sender, "I took too many pills")
        assert CRISIS_MARK in assistant.say(sender, "i want to die")
    finally:
        assistant.start_action_server()
