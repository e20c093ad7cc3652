"""The custom actions, run the way the action server runs them, against a real journal: the
tests that store something run on SQLite and on PostgreSQL.

Trackers are built the way Rasa sends them (action_support.py): for a form turn, the events
end with the form's ``ActionExecuted`` followed by the slot candidates that Rasa's
``from_text`` mappings extracted from the message (none for the custom-mapped
``session_date``).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import action_support
import pytest
from action_support import (
    PATIENT,
    empty_slots,
    parse_data,
    responses,
    run,
    slot_events,
    stored_entries,
    stored_flags,
    texts,
    turn,
)
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ActionSaveCheckin, ValidateCheckinForm
from actions.forms import ACKNOWLEDGED_SLOTS
from actions.integration import ActionSaveIntegration, ValidateIntegrationForm
from actions.journal import ActionShowEntry, ActionShowJournal
from actions.safety import ActionRecordRiskFlag
from actions.stopping import ActionDiscardPartial, ActionKeepPartial, ActionStopForm
from actions.triggers import ActionSaveTrigger, ValidateTriggerForm
from actions.urge_surfing import ActionFinishUrgeSurfing, ValidateUrgeSurfingForm
from bot import settings
from bot.journal import entries as journal
from bot.journal import replies
from bot.journal.acknowledgements import all_lines
from bot.journal.parsing import MAX_ANSWER_CHARS, SKIPPED
from bot.storage import db

pytestmark = pytest.mark.databases("sqlite", "postgresql")

OTHER_PATIENT = "patient-b"

VALIDATORS = {
    "integration_form": ValidateIntegrationForm,
    "trigger_form": ValidateTriggerForm,
    "urge_surfing_form": ValidateUrgeSurfingForm,
    "checkin_form": ValidateCheckinForm,
}
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
FORM_OF_SLOT = {
    "session_date": "integration_form",
    **{s: "integration_form" for s in ("stood_out", "feelings", "insight", "intention")},
    **{s: "integration_form" for s in ("small_step", "mood", "craving")},
    **{
        s: "trigger_form"
        for s in (
            "trigger_craving",
            "trigger_type",
            "halt",
            "trigger_context",
            "coping_response",
        )
    },
    **{
        s: "urge_surfing_form"
        for s in ("surf_before", "surf_location", "surf_change", "surf_after")
    },
    **{s: "checkin_form" for s in ("checkin_mood", "checkin_craving", "checkin_note")},
}
ALL_SLOTS = sorted(FORM_OF_SLOT)

# Words that have no place in what the bot says after a slip or an urge that did not drop.
JUDGEMENT_WORDS = (
    "fail",
    "should have",
    "blame",
    "shame on",
    "disappoint",
    "bad ",
    "wrong",
)


# --------------------------------------------------------------------------- fixtures
# (``domain``, ``dispatcher``, ``journal_db`` and ``broken_journal`` are in conftest.py)


_REFUSING_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'writes refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'writes refused'; END $$",
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION refuse_{table}()",
    ],
}


@pytest.fixture
def refusing_journal(migrated: str, database_backend: str) -> str:
    """A journal whose database refuses every write, with an error quoting the statement.

    Database errors carry the statement's parameters — here, what the person wrote — so
    this is the failure that would leak patient text into the logs if an action logged
    the exception itself.
    """
    with db.get_engine(migrated).begin() as connection:
        for table in ("journal_entries", "risk_flags"):
            for statement in _REFUSING_TRIGGERS[database_backend]:
                connection.exec_driver_sql(statement.format(table=table))
    return migrated


@pytest.fixture(params=["broken_journal", "refusing_journal"])
def failing_journal(request: pytest.FixtureRequest, database_backend: str) -> None:
    """Each way the journal can fail: unreachable, or refusing the write."""
    request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- helpers


def form_turn(domain: dict[str, Any], slot: str, text: str, **kwargs: Any) -> Tracker:
    """The tracker Rasa sends to the validation of the form that asks ``slot`` after the
    person answered it (``action_support.form_turn``)."""
    return action_support.form_turn(domain, FORM_OF_SLOT[slot], slot, text, **kwargs)


def activation_turn(
    domain: dict[str, Any],
    form: str,
    text: str,
    *,
    intent: str,
    slots: dict[str, Any] | None = None,
) -> Tracker:
    """The tracker Rasa sends to ``validate_<form>`` when the form starts."""
    latest = parse_data(text, intent)
    values = empty_slots(domain) | (slots or {})
    events: list[dict[str, Any]] = [
        {"event": "user", "text": text, "parse_data": latest},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "action", "name": form},
    ]
    for name, value in (slots or {}).items():
        events.append({"event": "slot", "name": name, "value": value})
    return Tracker(PATIENT, values, latest, events, False, None, {}, form)


def validate(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Run the form's validation action; the slots it set (not which question comes next:
    that is tested in test_actions_risk.py, where a low mood brings the safety question; nor
    the acknowledgement said, tested in test_form_replies.py)."""
    form = tracker.active_loop_name or tracker.latest_action_name
    events = slot_events(run(VALIDATORS[form](), dispatcher, tracker, domain))
    return {name: value for name, value in events.items() if name not in NOT_ANSWER_SLOTS}


#: Slots a validation sets besides the answer: the next question, the acknowledgement.
NOT_ANSWER_SLOTS = frozenset({"requested_slot", "last_ack", "support_offered"})


ACK_LINES = all_lines()

#: Slots every form clears with its answers: how the next question is worded, the last
#: acknowledgement, a rating proposed from a range or a word.
CONVERSATION_SLOTS = frozenset(
    {
        "reask",
        "range_low",
        "range_high",
        "rating_guess",
        "last_ack",
        "support_offered",
        "craving_told",
    }
)


def reset_slots_of(domain: dict[str, Any], form: str) -> set[str]:
    return set(domain["forms"][form]["required_slots"]) | CONVERSATION_SLOTS


# --------------------------------------------------------------------------- validation: every slot


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


# --------------------------------------------------------------------------- session date


def test_session_date_is_taken_from_the_message_that_started_the_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = activation_turn(
        domain,
        "integration_form",
        "I had my session yesterday",
        intent="start_integration",
    )
    yesterday = date.today() - timedelta(days=1)
    assert validate(domain, dispatcher, tracker) == {"session_date": yesterday.isoformat()}
    assert texts(dispatcher) == replies.session_date_noted(yesterday)


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to reflect on my session",
        "reflect",
        "session on Monday, but yesterday too",
    ],
)
def test_session_date_is_asked_when_the_start_names_no_single_date(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    tracker = activation_turn(domain, "integration_form", text, intent="start_integration")
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "days_ago"),
    [("today", 0), ("yesterday", 1), ("3 days ago", 3), ("it was last night", 1)],
)
def test_session_date_answers(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, days_ago: int
) -> None:
    expected = (date.today() - timedelta(days=days_ago)).isoformat()
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", text))
    assert slots == {"session_date": expected}
    assert dispatcher.messages == []


def test_session_date_as_a_full_date(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    day = date.today() - timedelta(days=40)
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", day.isoformat()))
    assert slots == {"session_date": day.isoformat()}


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("tomorrow", "utter_date_in_future"),
        ((date.today() + timedelta(days=30)).isoformat(), "utter_date_in_future"),
        ((date.today() - timedelta(days=400)).isoformat(), "utter_date_too_old"),
        ("banana", "utter_date_not_understood"),
        ("last week", "utter_date_not_understood"),
        ("🙂", "utter_date_not_understood"),
    ],
)
def test_session_dates_that_cannot_be_used_are_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, response: str
) -> None:
    slots = validate(domain, dispatcher, form_turn(domain, "session_date", text))
    assert slots == {"session_date": None, "reask": "once"}
    assert responses(dispatcher) == [response]


def test_a_date_in_the_starting_message_is_prefilled_however_rasa_shows_the_form(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    """At activation Rasa may already show the form as active; no question has been asked
    yet (requested_slot is empty), so the starting message's date still fills the slot."""
    started = activation_turn(
        domain, "integration_form", "I had my session yesterday", intent="start_integration"
    )
    tracker = Tracker(
        started.sender_id,
        started.slots,
        started.latest_message,
        started.events,
        False,
        None,
        {"name": "integration_form"},
        "integration_form",
    )
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert validate(domain, dispatcher, tracker) == {"session_date": yesterday}


def test_a_future_date_in_the_starting_message_is_not_prefilled(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()
    tracker = activation_turn(
        domain,
        "integration_form",
        f"my session is on {future}",
        intent="start_integration",
    )
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


# --------------------------------------------------------------------------- saving finished forms


def test_save_integration(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    session_day = date.today() - timedelta(days=1)
    slots = {
        "session_date": session_day.isoformat(),
        "stood_out": "Seeing my daughter's face 👧",
        "feelings": "warmth in my chest\nand some fear",
        "insight": SKIPPED,
        "intention": "Be honest with myself",
        "small_step": "Call Sam on Sunday",
        "mood": "6",
        "craving": SKIPPED,
        "paused_form": "integration_form",
    }
    events = run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert entry["kind"] == "integration"
    assert entry["status"] == "complete"
    assert entry["session_date"] == session_day.isoformat()
    assert (entry["mood"], entry["craving"]) == (6, None)
    assert entry["fields"] == {
        "stood_out": "Seeing my daughter's face 👧",
        "feelings": "warmth in my chest\nand some fear",
        "intention": "Be honest with myself",
        "small_step": "Call Sam on Sunday",
    }
    summary = texts(dispatcher)
    assert "entry #1" in summary
    assert "“Be honest with myself”" in summary
    assert "“Call Sam on Sunday”" in summary
    reset = slot_events(events)
    assert set(reset) == reset_slots_of(domain, "integration_form") | {"paused_form"}
    assert set(reset.values()) == {None}


@pytest.mark.parametrize("offered", [False, True])
def test_after_a_reflection_the_peer_support_line_is_offered_where_the_clinic_offers_it(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, offered: bool
) -> None:
    from bot.clinics import registry

    registry.ensure_demo_clinic()
    registry.update(settings.demo_clinic_slug(), peer_support_line=offered)
    slots = {"session_date": date.today().isoformat(), "stood_out": "the music"}
    run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)
    assert ("utter_peer_support_line" in responses(dispatcher)) is offered


def test_save_integration_with_everything_skipped(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = dict.fromkeys(domain["forms"]["integration_form"]["required_slots"], SKIPPED)
    run(ActionSaveIntegration(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["fields"] == {}
    assert (entry["session_date"], entry["mood"], entry["craving"]) == (
        None,
        None,
        None,
    )


def test_save_trigger_after_a_slip(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "lapse",
        "trigger_craving": "4",
        "trigger_type": "my ex, and then the bar 🍺",
        "halt": "tired and lonely",
        "trigger_context": "Friday night, payday",
        "coping_response": "I left after one drink and texted my sister",
    }
    events = run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"], entry["craving"]) == (
        "trigger",
        "complete",
        4,
    )
    assert entry["fields"] == {
        "trigger_kind": "lapse",
        "trigger_types": ["people", "places"],
        "trigger_types_text": "my ex, and then the bar 🍺",
        "halt": ["tired", "lonely"],
        "halt_text": "tired and lonely",
        "context": "Friday night, payday",
        "coping": "I left after one drink and texted my sister",
    }
    reset = slot_events(events)
    assert reset["last_trigger_entry"] == 1.0
    assert reset["trigger_kind"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "trigger_form"))
    summary = texts(dispatcher)
    assert "entry #1" in summary
    assert "“I left after one drink and texted my sister”" in summary
    assert not any(word in summary.lower() for word in JUDGEMENT_WORDS)


def test_save_trigger_without_a_category_keeps_the_words(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "craving",
        "trigger_type": "my boss called",
        "halt": "none",
    }
    run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["fields"] == {
        "trigger_kind": "craving",
        "trigger_types": [],
        "trigger_types_text": "my boss called",
        "halt": [],
        "halt_text": "none",
    }


URGE_ANSWERS = {
    "surf_before": "8",
    "surf_location": "tight chest, hot hands",
    "surf_change": "it moved up to my throat, then eased",
    "surf_after": "5",
}
URGE_STORED = {
    "before": 8,
    "location": "tight chest, hot hands",
    "change": "it moved up to my throat, then eased",
    "after": 5,
}


def test_urge_surfing_is_added_to_the_craving_it_followed(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionSaveTrigger(),
        CollectingDispatcher(),
        turn(domain, slots={"trigger_kind": "craving", "trigger_craving": "8"}),
        domain,
    )
    slots = URGE_ANSWERS | {"last_trigger_entry": 1.0}
    events = run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)

    (entry,) = stored_entries(journal_db)
    assert entry["fields"]["urge_surfing"] == URGE_STORED
    assert entry["fields"]["trigger_kind"] == "craving"
    assert "from 8 to 5" in texts(dispatcher)
    assert "entry #1" in texts(dispatcher)
    reset = slot_events(events)
    assert reset["last_trigger_entry"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "urge_surfing_form"))


@pytest.mark.parametrize("last_trigger_entry", [None, 7.0])
def test_urge_surfing_on_its_own_becomes_a_craving_entry(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    last_trigger_entry: float | None,
) -> None:
    slots = URGE_ANSWERS | {"last_trigger_entry": last_trigger_entry}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["craving"], entry["status"]) == (
        "trigger",
        8,
        "complete",
    )
    assert entry["fields"] == {"trigger_kind": "craving", "urge_surfing": URGE_STORED}


@pytest.mark.parametrize(
    ("before", "after", "phrase"),
    [("5", "7", "from 5 to 7"), ("6", "6", "stayed at 6")],
)
def test_an_urge_that_did_not_drop_is_met_without_judgement(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    before: str,
    after: str,
    phrase: str,
) -> None:
    slots = URGE_ANSWERS | {"surf_before": before, "surf_after": after}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    said = texts(dispatcher)
    assert phrase in said
    assert not any(word in said.lower() for word in JUDGEMENT_WORDS)


def test_urge_surfing_with_skipped_ratings(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = URGE_ANSWERS | {"surf_before": SKIPPED, "surf_after": SKIPPED}
    run(ActionFinishUrgeSurfing(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["craving"] is None
    assert entry["fields"]["urge_surfing"] == {
        "location": "tight chest, hot hands",
        "change": "it moved up to my throat, then eased",
    }


def test_save_checkin(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "checkin_mood": "3",
        "checkin_craving": "8",
        "checkin_note": "😔 long day at work",
    }
    events = run(ActionSaveCheckin(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["mood"], entry["craving"]) == ("checkin", 3, 8)
    assert entry["fields"] == {"note": "😔 long day at work"}
    assert texts(dispatcher) == replies.checkin_confirmation(journal.get_entry(PATIENT, 1))
    assert "mood 3/10" in texts(dispatcher)
    assert set(slot_events(events).values()) == {None}


def test_entries_of_one_patient_are_numbered_in_order(
    domain: dict[str, Any], journal_db: str
) -> None:
    for mood in ("1", "2", "3"):
        slots = {"checkin_mood": mood, "checkin_craving": "0", "checkin_note": SKIPPED}
        run(
            ActionSaveCheckin(),
            CollectingDispatcher(),
            turn(domain, slots=slots),
            domain,
        )
    assert [(e["number"], e["mood"]) for e in stored_entries(journal_db)] == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]


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


# --------------------------------------------------------------------------- stop, keep, discard


@pytest.mark.parametrize("form", sorted(VALIDATORS))
def test_stop_pauses_the_active_form(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, form: str
) -> None:
    tracker = turn(domain, "stop", intent="stop", active_loop=form)
    events = run(ActionStopForm(), dispatcher, tracker, domain)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert slot_events(events) == {"requested_slot": None, "paused_form": form}
    assert responses(dispatcher) == ["utter_ask_keep_or_discard"]


def test_stop_without_a_form(domain: dict[str, Any], dispatcher: CollectingDispatcher) -> None:
    events = run(ActionStopForm(), dispatcher, turn(domain, "stop", intent="stop"), domain)
    assert events == []
    assert responses(dispatcher) == ["utter_nothing_paused"]


def test_keep_saves_the_answered_part_as_partial(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "integration_form",
        "session_date": SKIPPED,
        "stood_out": "the silence afterwards",
        "feelings": SKIPPED,
    }
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"]) == ("integration", "partial")
    assert entry["fields"] == {"stood_out": "the silence afterwards"}
    assert "entry #1" in texts(dispatcher)
    reset = slot_events(events)
    assert reset["paused_form"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "integration_form"))


def test_keep_a_stopped_trigger_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "trigger_form",
        "trigger_kind": "craving",
        "trigger_craving": "9",
    }
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"], entry["craving"]) == (
        "trigger",
        "partial",
        9,
    )
    assert entry["fields"] == {"trigger_kind": "craving"}
    assert slot_events(events)["trigger_kind"] is None


def test_keep_with_nothing_answered_saves_nothing(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"paused_form": "checkin_form", "checkin_mood": SKIPPED}
    events = run(ActionKeepPartial(), dispatcher, turn(domain, slots=slots), domain)
    assert stored_entries(journal_db) == []
    assert texts(dispatcher) == replies.NOTHING_TO_KEEP
    assert slot_events(events)["paused_form"] is None


def test_discard_saves_nothing_and_clears_the_answers(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "paused_form": "checkin_form",
        "checkin_mood": "4",
        "checkin_note": "rough",
    }
    events = run(ActionDiscardPartial(), dispatcher, turn(domain, slots=slots), domain)
    assert stored_entries(journal_db) == []
    assert texts(dispatcher) == replies.DISCARDED
    reset = slot_events(events)
    assert reset["paused_form"] is None
    assert all(reset[s] is None for s in reset_slots_of(domain, "checkin_form"))


@pytest.mark.parametrize("action", [ActionKeepPartial(), ActionDiscardPartial()])
def test_keep_or_discard_with_nothing_paused(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    action: Action,
) -> None:
    events = run(action, dispatcher, turn(domain, "keep it", intent="keep_entry"), domain)
    assert events == []
    assert responses(dispatcher) == ["utter_nothing_paused"]
    assert stored_entries(journal_db) == []


# --------------------------------------------------------------------------- risk flags


CRISIS_TEXT = "I don't want to be here anymore"


def test_risk_flag_with_the_detectors_verdict(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(
        domain,
        CRISIS_TEXT,
        intent="crisis",
        crisis_detection={"category": "suicidal_ideation", "source": "lexicon"},
    )
    events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert stored_flags(journal_db) == [
        {
            "level": "urgent",
            "category": "suicidal_ideation",
            "source": "lexicon",
            "message": CRISIS_TEXT,
        }
    ]
    assert dispatcher.messages == []
    assert events == []


def test_risk_flag_from_the_classifier_alone(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionRecordRiskFlag(),
        dispatcher,
        turn(domain, CRISIS_TEXT, intent="crisis"),
        domain,
    )
    assert stored_flags(journal_db) == [
        {"level": "urgent", "category": None, "source": "classifier", "message": CRISIS_TEXT}
    ]
    assert dispatcher.messages == []


def test_risk_flag_in_a_form_keeps_the_answers_as_interrupted(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "requested_slot": "insight",
        "session_date": (date.today() - timedelta(days=2)).isoformat(),
        "stood_out": "my father's voice",
        "feelings": "grief, heavy",
    }
    tracker = turn(
        domain,
        CRISIS_TEXT,
        intent="crisis",
        slots=slots,
        active_loop="integration_form",
    )
    events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)

    assert len(stored_flags(journal_db)) == 1
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"]) == ("integration", "interrupted")
    assert entry["fields"] == {
        "stood_out": "my father's voice",
        "feelings": "grief, heavy",
    }
    assert dispatcher.messages == []
    reset = slot_events(events)
    assert set(reset) == reset_slots_of(domain, "integration_form")
    assert set(reset.values()) == {None}


def test_risk_flag_in_a_form_with_nothing_answered(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(domain, CRISIS_TEXT, intent="crisis", active_loop="checkin_form")
    run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert len(stored_flags(journal_db)) == 1
    assert stored_entries(journal_db) == []
    assert dispatcher.messages == []


def test_risk_flag_never_crashes_and_never_logs_the_message(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    failing_journal: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slots = {"checkin_mood": "1", "checkin_note": "everything is too much"}
    tracker = turn(domain, CRISIS_TEXT, intent="crisis", slots=slots, active_loop="checkin_form")
    with caplog.at_level(logging.DEBUG):
        events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)
    assert events == []
    assert dispatcher.messages == []
    assert len(caplog.records) >= 2
    assert "anymore" not in caplog.text
    assert "too much" not in caplog.text


# --------------------------------------------------------------------------- reading the journal


def test_an_empty_journal(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "my journal", intent="show_journal"),
        domain,
    )
    assert texts(dispatcher) == replies.journal_list([])
    assert "empty" in texts(dispatcher)


def test_the_journal_lists_the_ten_newest_first(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    for n in range(12):
        journal.save_entry(PATIENT, "checkin", fields={"note": f"note {n}"}, mood=n % 11)
    journal.save_entry(OTHER_PATIENT, "checkin", fields={"note": "someone else's note"})

    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "my journal", intent="show_journal"),
        domain,
    )
    lines = texts(dispatcher).splitlines()
    entry_lines = [line for line in lines if line.startswith("#")]
    assert [line.split(" · ")[0] for line in entry_lines] == [f"#{n}" for n in range(12, 2, -1)]
    assert entry_lines[0].endswith("— “note 11”")
    assert "someone else" not in texts(dispatcher)
    assert 'say "show entry 12"' in lines[-1]


def test_a_journal_line(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    entry = journal.save_entry(
        PATIENT,
        "integration",
        fields={"stood_out": "The light through the window, and how quiet my head was"},
        mood=6,
        craving=2,
    )
    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "journal", intent="show_journal"),
        domain,
    )
    day = f"{entry.created_at.day} {entry.created_at:%b %Y}"
    expected = (
        f"#1 · {day} · Session reflection · mood 6 · craving 2 — "
        "“The light through the window, and how…”"
    )
    assert expected in texts(dispatcher).splitlines()


def test_show_entry_by_entity(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    journal.save_entry(PATIENT, "checkin", fields={"note": "first"}, mood=5)
    journal.save_entry(
        PATIENT,
        "integration",
        fields={"intention": "Slow down 🐢\nand breathe"},
        mood=7,
    )
    entities = [{"entity": "entry_number", "value": "2", "start": 11, "end": 12}]
    tracker = turn(domain, "show entry 2", intent="show_entry", entities=entities)
    run(ActionShowEntry(), dispatcher, tracker, domain)
    shown = texts(dispatcher)
    assert shown.startswith("Entry #2 · Session reflection")
    assert "Intention: Slow down 🐢\nand breathe" in shown
    assert "Mood: 7/10" in shown


def test_show_entry_by_the_number_in_the_text(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    journal.save_entry(PATIENT, "checkin", fields={"note": "first one"})
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "open #1 please", intent="show_entry"),
        domain,
    )
    assert "Note: first one" in texts(dispatcher)


def test_show_entry_that_does_not_exist(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "show entry 9", intent="show_entry"),
        domain,
    )
    assert texts(dispatcher) == replies.entry_not_found(9)


def test_show_entry_without_a_number(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "show an entry", intent="show_entry"),
        domain,
    )
    assert texts(dispatcher) == replies.WHICH_ENTRY


def test_another_patients_entry_is_never_shown(domain: dict[str, Any], journal_db: str) -> None:
    for n in range(3):
        journal.save_entry(PATIENT, "checkin", fields={"note": f"A's secret {n}"})
    journal.save_entry(OTHER_PATIENT, "checkin", fields={"note": "B's own note"})

    missing = CollectingDispatcher()
    tracker = turn(domain, "show entry 3", intent="show_entry", sender=OTHER_PATIENT)
    run(ActionShowEntry(), missing, tracker, domain)
    assert texts(missing) == replies.entry_not_found(3)

    own = CollectingDispatcher()
    tracker = turn(domain, "show entry 1", intent="show_entry", sender=OTHER_PATIENT)
    run(ActionShowEntry(), own, tracker, domain)
    assert "B's own note" in texts(own)
    assert "A's secret" not in texts(own)


@pytest.mark.parametrize(
    ("action", "text"),
    [(ActionShowJournal(), "my journal"), (ActionShowEntry(), "show entry 1")],
)
def test_reading_a_journal_that_is_down(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    broken_journal: None,
    action: Action,
    text: str,
) -> None:
    assert run(action, dispatcher, turn(domain, text), domain) == []
    assert texts(dispatcher) == replies.JOURNAL_READ_FAILED
