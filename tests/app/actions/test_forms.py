"""What the journal forms share (actions/forms.py), run the way the action server runs them
against a real journal, on SQLite and on PostgreSQL: every slot's validation (text answers
verbatim, ratings, skips, limits, a crisis message never an answer, answers checked again when a
form resumes), and the person's words given back when the journal cannot be written.

Trackers are built the way Rasa sends them (action_support.py); the journal forms' slots and
validators, and the turns built per slot, are form_support.py's (both in tests/support/).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from action_support import responses, run, texts, turn
from form_support import FORM_OF_SLOT, activation_turn, form_turn, validate
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ActionSaveCheckin
from actions.forms import ACKNOWLEDGED_SLOTS
from actions.integration import ActionSaveIntegration
from actions.triggers import ActionSaveTrigger
from actions.urge_surfing import ActionFinishUrgeSurfing
from bot.journal.acknowledgements import all_lines
from bot.journal.parsing import MAX_ANSWER_CHARS, SKIPPED

pytestmark = pytest.mark.databases("sqlite", "postgresql")

RATING_SLOTS = {
    "mood",
    "craving",
    "trigger_craving",
    "surf_before",
    "surf_after",
    "checkin_mood",
    "checkin_craving",
}
TEXT_SLOTS = {
    "stood_out",
    "feelings",
    "insight",
    "intention",
    "small_step",
    "trigger_type",
    "halt",
    "trigger_context",
    "coping_response",
    "surf_location",
    "surf_change",
    "checkin_note",
}
ALL_SLOTS = sorted(FORM_OF_SLOT)

ACK_LINES = all_lines()


@pytest.mark.parametrize("slot", sorted(TEXT_SLOTS))
@pytest.mark.parametrize(
    "text",
    [
        "It felt like coming home",
        "Ich habe mich zum ersten Mal seit Jahren ruhig gefühlt 🌊",
        "شعرت بالهدوء",
        "我感到平静",
        "🙏🏽👩‍❤️‍👨",
        "  spaces kept \n\tand lines  ",
    ],
)
def test_text_answers_are_kept_verbatim(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str
) -> None:
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {slot: text}
    said = [message["text"] for message in dispatcher.messages]
    if slot in ACKNOWLEDGED_SLOTS:
        assert len(said) == 1 and said[0] in ACK_LINES
    else:
        assert said == []


@pytest.mark.parametrize("slot", sorted(TEXT_SLOTS))
def test_text_answers_lose_control_characters_only(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    slots = validate(domain, dispatcher, form_turn(domain, slot, "calm\x00er\x1b than before"))
    assert slots == {slot: "calmer than before"}


@pytest.mark.parametrize("slot", sorted(TEXT_SLOTS))
def test_a_long_answer_mentioning_a_skip_word_is_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    text = "next time I'll call my sponsor first"
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {slot: text}


@pytest.mark.parametrize("slot", sorted(RATING_SLOTS))
@pytest.mark.parametrize(
    ("text", "stored"),
    [("7", "7"), ("7/10", "7"), ("seven", "7"), ("about 0", "0"), ("10", "10")],
)
def test_ratings_are_stored_as_whole_numbers(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    slot: str,
    text: str,
    stored: str,
) -> None:
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {slot: stored}
    assert dispatcher.messages == []


@pytest.mark.parametrize("slot", sorted(RATING_SLOTS))
@pytest.mark.parametrize("text", ["-3", "11", "12/10"])
def test_ratings_out_of_range_are_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str
) -> None:
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {
        slot: None,
        "reask": "once",
    }
    assert responses(dispatcher) == ["utter_rating_out_of_range"]


@pytest.mark.parametrize("slot", sorted(RATING_SLOTS))
@pytest.mark.parametrize("text", ["banana", "🙂", "6.5", "très bien"])
def test_ratings_not_understood_are_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str
) -> None:
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {
        slot: None,
        "reask": "once",
    }
    assert responses(dispatcher) == ["utter_rating_not_understood"]


@pytest.mark.parametrize("slot", ALL_SLOTS)
@pytest.mark.parametrize("text", ["", "   ", "\x00\x07"])
def test_empty_answers_are_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str
) -> None:
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {
        slot: None,
        "reask": "once",
    }
    assert responses(dispatcher) == ["utter_answer_empty"]


@pytest.mark.parametrize("slot", ALL_SLOTS)
def test_answers_over_the_limit_are_refused_with_the_limit(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    text = "I remember " + "so much " * 2500  # 20,011 characters
    assert len(text) > 20_000
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {
        slot: None,
        "reask": "once",
    }
    assert responses(dispatcher) == ["utter_answer_too_long"]
    assert dispatcher.messages[0]["max_chars"] == MAX_ANSWER_CHARS


@pytest.mark.parametrize("slot", sorted(TEXT_SLOTS))
def test_an_answer_at_the_limit_is_kept(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    text = "a" * MAX_ANSWER_CHARS
    assert validate(domain, dispatcher, form_turn(domain, slot, text)) == {slot: text}


@pytest.mark.parametrize("slot", ALL_SLOTS)
@pytest.mark.parametrize(
    ("text", "intent"),
    [("skip", "inform"), ("Next!", "inform"), ("not this one", "skip")],
)
def test_any_question_can_be_skipped(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    slot: str,
    text: str,
    intent: str,
) -> None:
    tracker = form_turn(domain, slot, text, intent=intent)
    assert validate(domain, dispatcher, tracker) == {slot: SKIPPED}
    assert responses(dispatcher) == ["utter_skipped"]


@pytest.mark.parametrize("slot", ALL_SLOTS)
def test_a_crisis_message_is_never_taken_as_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    # Nothing extracted and nothing validated: Rasa rejects the form and the crisis
    # sequence answers instead.
    tracker = form_turn(domain, slot, "I want to end it all", intent="crisis")
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


def test_answers_given_earlier_are_validated_again_silently_when_a_form_resumes(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    earlier = {
        "session_date": SKIPPED,
        "stood_out": "the music",
        "mood": "6",
        "craving": SKIPPED,
    }
    tracker = activation_turn(
        domain,
        "integration_form",
        "let's carry on",
        intent="continue_form",
        slots=earlier,
    )
    assert validate(domain, dispatcher, tracker) == earlier
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("action", "slots"),
    [
        (
            ActionSaveCheckin(),
            {"checkin_mood": "3", "checkin_note": "my private words 🌧"},
        ),
        (ActionSaveIntegration(), {"stood_out": "my private words 🌧", "mood": "5"}),
        (
            ActionSaveTrigger(),
            {"trigger_kind": "lapse", "trigger_context": "my private words 🌧"},
        ),
        (
            ActionFinishUrgeSurfing(),
            {"surf_location": "my private words 🌧", "surf_before": "9"},
        ),
    ],
)
def test_when_the_journal_is_down_the_person_gets_their_words_back(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    failing_journal: None,
    caplog: pytest.LogCaptureFixture,
    action: Action,
    slots: dict[str, Any],
) -> None:
    with caplog.at_level(logging.DEBUG):
        events = run(action, dispatcher, turn(domain, slots=slots), domain)
    assert responses(dispatcher)[0] == "utter_journal_unavailable"
    assert "my private words 🌧" in texts(dispatcher)
    # The answers stay in their slots: starting the form again goes straight to saving.
    assert events == []
    assert caplog.records, "the failure is logged"
    assert "my private words" not in caplog.text
