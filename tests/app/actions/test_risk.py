"""Ratings and slips that notice risk (actions/risk.py), run as the action server runs them,
against a real journal in a SQLite file.

Trackers are built as Rasa sends them (see action_support.py): for a form turn the events end
with the form's ``ActionExecuted`` and the slot candidates Rasa's mappings extracted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from action_support import (
    PATIENT,
    empty_slots,
    form_turn,
    parse_data,
    responses,
    run,
    slot_events,
    stored_entries,
    stored_flags,
    texts,
    turn,
)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.checkin import ActionSaveCheckin, ValidateCheckinForm
from actions.feelings import ActionEndVent
from actions.integration import ActionSaveIntegration, ValidateIntegrationForm
from actions.risk import ActionCheckLapse, ValidateLapseCheckForm
from actions.triggers import ActionSaveTrigger
from bot.journal.parsing import SKIPPED

CHECKIN_DONE = {"checkin_mood": "1"}
REFLECTION_SO_FAR = {
    "session_date": "2026-11-26",
    "stood_out": "my brother's voice",
    "feelings": "heavy, then nothing",
    "insight": SKIPPED,
    "intention": "be gentler",
    "small_step": "walk tomorrow",
}


# --------------------------------------------------------------------------- helpers
# (the fixtures and the rest of the helpers are in conftest.py and action_support.py)


def resume_turn(domain: dict[str, Any], form: str, slots: dict[str, Any]) -> Tracker:
    """The tracker Rasa sends when a stopped form is carried on: the answers so far are
    validated again, with no question open."""
    latest = parse_data("carry on", "continue_form")
    values = empty_slots(domain) | slots
    events: list[dict[str, Any]] = [
        {"event": "user", "text": "carry on", "parse_data": latest},
        {"event": "action", "name": form},
    ]
    events += [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
    return Tracker(PATIENT, values, latest, events, False, None, {}, form)


def flag_summary(url: str) -> list[tuple[str, str, str]]:
    return [(f["level"], f["category"], f["source"]) for f in stored_flags(url)]


VALIDATORS: dict[str, type[FormValidationAction]] = {
    "checkin_form": ValidateCheckinForm,
    "integration_form": ValidateIntegrationForm,
    "lapse_check_form": ValidateLapseCheckForm,
}


def answer(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    form: str,
    slot: str,
    message: str,
    **turn_args: Any,
) -> dict[str, Any]:
    """Answer ``slot`` of ``form`` with ``message`` (``turn_args`` as ``form_turn`` takes
    them); the slots the form's validation set, ``requested_slot`` being what it asks next."""
    tracker = form_turn(domain, form, slot, message, **turn_args)
    return slot_events(run(VALIDATORS[form](), dispatcher, tracker, domain))


def answer_safety_question(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    message: str,
    *,
    extracted: str,
    intent: str,
    slots: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Answer the safety question a check-in asked after a mood of 1 (``answer``)."""
    return answer(
        domain,
        dispatcher,
        "checkin_form",
        "safety_answer",
        message,
        extracted=extracted,
        intent=intent,
        slots=CHECKIN_DONE | (slots or {}),
    )


# --------------------------------------------------------------------------- mood: asking the question


@pytest.mark.parametrize("mood", ["0", "1", "2"])
def test_a_low_mood_in_a_check_in_brings_the_safety_question_next(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, mood: str
) -> None:
    events = answer(domain, dispatcher, "checkin_form", "checkin_mood", mood, extracted=mood)
    assert events == {"checkin_mood": mood, "requested_slot": "safety_answer"}
    assert dispatcher.messages == []
    assert stored_flags(journal_db) == []


def test_a_mood_of_three_goes_on_to_the_craving_question(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(domain, dispatcher, "checkin_form", "checkin_mood", "3", extracted="3")
    assert events == {"checkin_mood": "3", "requested_slot": "checkin_craving"}


def test_a_low_mood_in_words_is_read_before_the_question_is_chosen(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(domain, dispatcher, "checkin_form", "checkin_mood", "one", extracted="one")
    assert events == {"checkin_mood": "1", "requested_slot": "safety_answer"}


def test_a_low_mood_in_the_reflection_brings_the_question_before_the_craving(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(
        domain, dispatcher, "integration_form", "mood", "2", extracted="2", slots=REFLECTION_SO_FAR
    )
    assert events == {"mood": "2", "requested_slot": "safety_answer"}


def test_a_skipped_mood_asks_nothing_more(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(
        domain, dispatcher, "checkin_form", "checkin_mood", "skip", extracted="skip", intent="skip"
    )
    assert events == {"checkin_mood": SKIPPED, "requested_slot": "checkin_craving"}


def test_the_question_uses_the_same_words_and_buttons_as_the_crisis_layers(
    domain: dict[str, Any],
) -> None:
    ours = domain["responses"]["utter_ask_safety_answer"]
    theirs = domain["responses"]["utter_ask_safety"]
    assert ours[:1] == theirs  # the first ask; asked again, in other words (reask "once")
    assert "thoughts of ending your life" in ours[0]["text"]
    assert [b["payload"] for b in ours[0]["buttons"]] == ["/affirm", "/deny", "/unsure"]


# --------------------------------------------------------------------------- mood: the answer


@pytest.mark.parametrize(
    ("message", "intent", "extracted", "answer"),
    [
        ("/affirm", "affirm", "yes", "yes"),
        ("/unsure", "unsure", "unsure", "unsure"),
        ("yeah kinda", "affirm", "yes", "yes"),
        ("no... well maybe", "deny", "no", "unsure"),
        ("idk honestly", "out_of_scope", "idk honestly", "unsure"),
    ],
)
def test_yes_or_not_sure_gets_the_crisis_reply_an_urgent_flag_and_ends_the_form(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    message: str,
    intent: str,
    extracted: str,
    answer: str,
) -> None:
    events = answer_safety_question(domain, dispatcher, message, extracted=extracted, intent=intent)
    assert events == {"safety_answer": answer, "requested_slot": None}
    assert responses(dispatcher) == ["utter_crisis_suicide"]
    assert flag_summary(journal_db) == [("urgent", "suicide", "mood_rating")]
    (flag,) = stored_flags(journal_db)
    assert "Mood rated 1/10 in a check-in" in flag["message"]


def test_yes_in_the_reflection_ends_it_before_the_craving_question(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer(
        domain,
        dispatcher,
        "integration_form",
        "safety_answer",
        "/affirm",
        extracted="yes",
        intent="affirm",
        slots=REFLECTION_SO_FAR | {"mood": "0"},
    )
    assert events == {"safety_answer": "yes", "requested_slot": None}
    assert responses(dispatcher) == ["utter_crisis_suicide"]
    assert flag_summary(journal_db) == [("urgent", "suicide", "mood_rating")]


def test_no_gets_a_thank_you_and_the_form_goes_on(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer_safety_question(
        domain, dispatcher, "no, just a rough week", extracted="no", intent="deny"
    )
    assert events == {"safety_answer": "no", "requested_slot": "checkin_craving"}
    assert responses(dispatcher) == ["utter_safety_answer_no"]
    assert domain["responses"]["utter_safety_answer_no"][0]["text"] == (
        "Thank you for telling me. I'm glad you're checking in."
    )
    assert stored_flags(journal_db) == []


def test_no_in_the_reflection_goes_on_to_the_craving_question(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(
        domain,
        dispatcher,
        "integration_form",
        "safety_answer",
        "/deny",
        extracted="no",
        intent="deny",
        slots=REFLECTION_SO_FAR | {"mood": "2"},
    )
    assert events == {"safety_answer": "no", "requested_slot": "craving"}
    assert responses(dispatcher) == ["utter_safety_answer_no"]


def test_an_unclear_answer_is_asked_again_without_a_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer_safety_question(
        domain, dispatcher, "why do you ask", extracted="why do you ask", intent="out_of_scope"
    )
    assert events == {"safety_answer": None, "requested_slot": "safety_answer", "reask": "once"}
    assert dispatcher.messages == []  # the form's next ask says it, in other words
    assert stored_flags(journal_db) == []
    worded = {v["text"] for v in domain["responses"]["utter_ask_safety_answer"]}
    assert len(worded) == 2


@pytest.mark.parametrize("message", ["ok", "ok thanks", "k"])
def test_an_ok_read_as_a_yes_is_asked_again_not_taken_as_one(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, message: str
) -> None:
    events = answer_safety_question(domain, dispatcher, message, extracted="yes", intent="affirm")
    assert events == {"safety_answer": None, "requested_slot": "safety_answer", "reask": "once"}
    assert "utter_crisis_suicide" not in responses(dispatcher)
    assert stored_flags(journal_db) == []


def test_a_second_unclear_answer_is_not_asked_a_third_time(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer_safety_question(
        domain,
        dispatcher,
        "why do you ask",
        extracted="why do you ask",
        intent="out_of_scope",
        slots={"reask": "once"},
    )
    assert events["safety_answer"] == "skipped"
    assert responses(dispatcher) == ["utter_safety_answer_skipped"]
    assert flag_summary(journal_db) == [("elevated", "suicide", "mood_rating")]


def test_a_skipped_question_gets_a_gentle_note_and_an_elevated_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer_safety_question(domain, dispatcher, "skip", extracted="skip", intent="skip")
    assert events == {"safety_answer": "skipped", "requested_slot": "checkin_craving"}
    assert responses(dispatcher) == ["utter_safety_answer_skipped"]
    assert flag_summary(journal_db) == [("elevated", "suicide", "mood_rating")]


def test_a_no_given_earlier_is_kept_silently_when_the_form_resumes(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = resume_turn(domain, "checkin_form", {"checkin_mood": "2", "safety_answer": "no"})
    events = slot_events(run(ValidateCheckinForm(), dispatcher, tracker, domain))
    assert events == {
        "checkin_mood": "2",
        "safety_answer": "no",
        "requested_slot": "checkin_craving",
    }
    assert dispatcher.messages == []
    assert stored_flags(journal_db) == []


def test_the_crisis_reply_goes_out_even_if_the_flag_cannot_be_recorded(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    broken_journal: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        events = answer_safety_question(domain, dispatcher, "yes", extracted="yes", intent="affirm")
    assert responses(dispatcher) == ["utter_crisis_suicide"]
    assert events["safety_answer"] == "yes"
    assert "risk flag failed" in caplog.text


# --------------------------------------------------------------------------- mood: saving


def test_after_yes_the_check_in_is_kept_as_interrupted_without_the_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(
        domain, "/affirm", intent="affirm", slots={"checkin_mood": "1", "safety_answer": "yes"}
    )
    events = slot_events(run(ActionSaveCheckin(), dispatcher, tracker, domain))
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"], entry["mood"]) == ("checkin", "interrupted", 1)
    assert entry["fields"] == {}
    assert dispatcher.messages == []  # the crisis reply was the last word
    assert events["safety_answer"] is None
    assert set(domain["forms"]["checkin_form"]["required_slots"]) <= set(events)


def test_after_not_sure_the_reflection_keeps_its_answers_as_interrupted(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = REFLECTION_SO_FAR | {"mood": "0", "safety_answer": "unsure"}
    tracker = turn(domain, "/unsure", intent="unsure", slots=slots)
    events = slot_events(run(ActionSaveIntegration(), dispatcher, tracker, domain))
    (entry,) = stored_entries(journal_db)
    assert (entry["status"], entry["mood"], entry["craving"]) == ("interrupted", 0, None)
    assert entry["fields"] == {
        "stood_out": "my brother's voice",
        "feelings": "heavy, then nothing",
        "intention": "be gentler",
        "small_step": "walk tomorrow",
    }
    assert "unsure" not in json.dumps(entry["fields"])
    assert dispatcher.messages == []
    assert events["safety_answer"] is None


def test_after_no_the_check_in_is_saved_complete_without_the_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "checkin_mood": "2",
        "safety_answer": "no",
        "checkin_craving": "3",
        "checkin_note": "went to my meeting",
    }
    tracker = turn(domain, "went to my meeting", intent="share_reflection", slots=slots)
    events = slot_events(run(ActionSaveCheckin(), dispatcher, tracker, domain))
    (entry,) = stored_entries(journal_db)
    assert (entry["status"], entry["mood"], entry["craving"]) == ("complete", 2, 3)
    assert entry["fields"] == {"note": "went to my meeting"}
    assert events["safety_answer"] is None
    # The summary and the low-mood offer; no craving offer at 3.
    assert responses(dispatcher) == [None, "utter_low_mood_offer"]
    assert stored_flags(journal_db) == []


def test_answers_given_back_when_the_journal_is_down_leave_out_the_safety_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, broken_journal: None
) -> None:
    slots = {
        "checkin_mood": "2",
        "safety_answer": "no",
        "checkin_craving": "1",
        "checkin_note": "tired",
    }
    tracker = turn(domain, "tired", intent="share_feeling", slots=slots)
    run(ActionSaveCheckin(), dispatcher, tracker, domain)
    copy = texts(dispatcher)
    assert "Note: tired" in copy
    assert "afety" not in copy


# --------------------------------------------------------------------------- cravings of 8 or more


@pytest.mark.parametrize("craving", ["8", "10"])
def test_a_high_craving_in_a_check_in_gets_a_coping_offer_and_an_info_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, craving: str
) -> None:
    slots = {"checkin_mood": "5", "checkin_craving": craving, "checkin_note": SKIPPED}
    tracker = turn(domain, "skip", intent="skip", slots=slots)
    run(ActionSaveCheckin(), dispatcher, tracker, domain)
    assert responses(dispatcher) == [None, "utter_high_craving_offer"]  # summary, then offer
    offer = domain["responses"]["utter_high_craving_offer"][0]
    assert [b["payload"] for b in offer["buttons"]] == ["/start_urge_surfing", "/coping_menu"]
    assert flag_summary(journal_db) == [("info", "craving", "craving_rating")]
    (flag,) = stored_flags(journal_db)
    assert flag["message"] == f"Craving rated {craving}/10 in a check-in."


def test_a_craving_of_seven_gets_neither(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"checkin_mood": "5", "checkin_craving": "7", "checkin_note": SKIPPED}
    run(ActionSaveCheckin(), dispatcher, turn(domain, "skip", intent="skip", slots=slots), domain)
    assert "utter_high_craving_offer" not in responses(dispatcher)
    assert stored_flags(journal_db) == []


def test_a_high_craving_in_the_reflection_gets_the_offer_after_the_summary(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = REFLECTION_SO_FAR | {"mood": "6", "craving": "9"}
    run(
        ActionSaveIntegration(), dispatcher, turn(domain, "9", intent="inform", slots=slots), domain
    )
    assert responses(dispatcher) == [None, "utter_high_craving_offer"]
    assert flag_summary(journal_db) == [("info", "craving", "craving_rating")]
    (entry,) = stored_entries(journal_db)
    assert (entry["status"], entry["craving"]) == ("complete", 9)


def test_a_high_craving_in_a_craving_reflection_is_flagged_and_left_to_its_own_offer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "craving",
        "trigger_craving": "9",
        "trigger_type": "people",
        "halt": "tired",
        "trigger_context": "payday",
        "coping_response": "called my sponsor",
    }
    tracker = turn(domain, "called my sponsor", intent="share_reflection", slots=slots)
    run(ActionSaveTrigger(), dispatcher, tracker, domain)
    # utter_offer_support follows by rule (data/rules.yml), so no second offer here.
    assert "utter_high_craving_offer" not in responses(dispatcher)
    assert flag_summary(journal_db) == [("info", "craving", "craving_rating")]


# --------------------------------------------------------------------------- slips


@pytest.mark.slow
@pytest.mark.parametrize(
    "message",
    ["i shot up this morning", "took a couple of xanax with wine", "used fent last night"],
)
def test_a_slip_on_opioids_or_sedatives_is_checked_first(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, message: str
) -> None:
    events = run(
        ActionCheckLapse(), dispatcher, turn(domain, message, intent="report_lapse"), domain
    )
    assert slot_events(events) == {"lapse_needs_check": True, "lapse_report": message}
    assert dispatcher.messages == []
    assert stored_flags(journal_db) == []


def test_a_slip_on_alcohol_goes_straight_to_the_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(domain, "i drank last night", intent="report_lapse")
    events = run(ActionCheckLapse(), dispatcher, tracker, domain)
    assert slot_events(events) == {"lapse_needs_check": False, "lapse_report": "i drank last night"}
    assert dispatcher.messages == []


def test_a_new_slip_clears_the_previous_checks_answers(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"lapse_check": "I'm OK now", "lapse_check_result": "ok"}
    tracker = turn(domain, "took some oxy", intent="report_lapse", slots=slots)
    events = run(ActionCheckLapse(), dispatcher, tracker, domain)
    assert slot_events(events) == {
        "lapse_needs_check": True,
        "lapse_report": "took some oxy",
        "lapse_check": None,
        "lapse_check_result": None,
    }


def test_street_ketamine_in_a_slip_gets_a_note_and_an_elevated_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    message = "got some ket off a guy on the street and used it"
    run(ActionCheckLapse(), dispatcher, turn(domain, message, intent="report_lapse"), domain)
    assert responses(dispatcher) == ["utter_ketamine_misuse_note"]
    assert flag_summary(journal_db) == [("elevated", "ketamine_misuse", "lapse_report")]
    (flag,) = stored_flags(journal_db)
    assert flag["message"] == message


def test_bladder_symptoms_in_a_slip_get_a_note_and_an_elevated_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    message = "used ket at home again and now it really hurts to pee"
    run(ActionCheckLapse(), dispatcher, turn(domain, message, intent="report_lapse"), domain)
    assert responses(dispatcher) == ["utter_ketamine_misuse_note", "utter_bladder_note"]
    assert flag_summary(journal_db) == [
        ("elevated", "ketamine_misuse", "lapse_report"),
        ("elevated", "bladder", "lapse_report"),
    ]
    note = domain["responses"]["utter_bladder_note"][0]["text"]
    assert note.startswith("About your bladder: please tell your care team before your next")
    assert "today if there" in note


def test_bladder_symptoms_in_a_journal_answer_are_noticed(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"checkin_mood": "6", "checkin_craving": "2", "checkin_note": "blood in my pee again"}
    tracker = turn(domain, "blood in my pee again", intent="share_reflection", slots=slots)
    run(ActionSaveCheckin(), dispatcher, tracker, domain)
    assert responses(dispatcher) == [None, "utter_bladder_note"]
    assert flag_summary(journal_db) == [("elevated", "bladder", "journal_answer")]


def test_a_session_at_the_clinic_is_not_ketamine_misuse(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = REFLECTION_SO_FAR | {
        "stood_out": "the ketamine made me feel held, then I went home and slept",
        "mood": "7",
        "craving": "1",
    }
    run(
        ActionSaveIntegration(), dispatcher, turn(domain, "1", intent="inform", slots=slots), domain
    )
    assert responses(dispatcher) == [None]
    assert stored_flags(journal_db) == []


@pytest.mark.parametrize(
    ("message", "result"),
    [("I'm OK now", "ok"), ("I'm alone", "alone"), ("home alone, feel fine", "alone")],
)
def test_the_check_after_a_slip_sets_what_the_rules_branch_on(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    message: str,
    result: str,
) -> None:
    events = answer(
        domain, dispatcher, "lapse_check_form", "lapse_check", message, extracted=message
    )
    assert events == {"lapse_check": message, "lapse_check_result": result}
    assert dispatcher.messages == []
    assert stored_flags(journal_db) == []


def test_still_feeling_it_records_an_urgent_overdose_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    message = "I'm still feeling it"
    events = answer(
        domain, dispatcher, "lapse_check_form", "lapse_check", message, extracted=message
    )
    assert events == {"lapse_check": message, "lapse_check_result": "effects"}
    # The overdose reply itself is a static response sent by rule (data/rules.yml).
    assert dispatcher.messages == []
    assert flag_summary(journal_db) == [("urgent", "overdose", "lapse_check")]


def test_an_unclear_answer_to_the_check_after_a_slip_is_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer(domain, dispatcher, "lapse_check_form", "lapse_check", "hmm", extracted="hmm")
    assert events == {"lapse_check": None, "lapse_check_result": None, "reask": "once"}
    assert responses(dispatcher) == ["utter_lapse_check_not_understood"]
    assert stored_flags(journal_db) == []


def test_unclear_twice_gives_the_safety_advice_as_for_someone_alone(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = answer(
        domain,
        dispatcher,
        "lapse_check_form",
        "lapse_check",
        "hmm dunno",
        extracted="hmm dunno",
        slots={"reask": "once"},
    )
    assert events["lapse_check_result"] == "alone" and events["reask"] is None
    assert responses(dispatcher) == ["utter_lapse_check_unclear"]


def test_the_check_after_a_slip_and_the_plain_facts(domain: dict[str, Any]) -> None:
    check = domain["responses"]["utter_ask_lapse_check"][0]
    assert "Are you still feeling the effects? Are you alone? Do you have naloxone?" in " ".join(
        check["text"].split()
    )
    assert [b["title"] for b in check["buttons"]] == [
        "I'm OK now",
        "I'm still feeling it",
        "I'm alone",
    ]
    facts = " ".join(domain["responses"]["utter_lapse_harm_reduction"][0]["text"].split())
    for needed in (
        "tolerance drops",
        "can now kill",
        "Never use alone",
        "1-800-484-3731",
        "fentanyl test strips",
        "methadone and buprenorphine are the first-line treatment",
        "Sordo et al., 2017",
    ):
        assert needed in facts


# --------------------------------------------------------------------------- venting


def test_after_the_acknowledgement_the_next_vent_is_listened_to_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = turn(domain, "my boss again", intent="vent", slots={"vent_heard": True})
    assert run(ActionEndVent(), dispatcher, tracker, domain) == [
        {"event": "slot", "timestamp": None, "name": "vent_heard", "value": None}
    ]
    assert dispatcher.messages == []
