"""Validated measures in the chat (actions/measures.py), run as the action server runs them,
against a real journal: the offer, the items in their published wording, answers by button
or typed, re-asks that never repeat themselves, PHQ-9 item 9 and the safety question, saving."""

from __future__ import annotations

from typing import Any

import pytest
from action_support import (
    PATIENT,
    form_turn,
    responses,
    run,
    slot_events,
    stored_flags,
    turn,
)
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.measures import (
    ActionAskMeasureAnswer,
    ActionOfferDueMeasure,
    ActionSaveMeasure,
    ActionStartMeasure,
    ActionStopMeasure,
    ValidateMeasureForm,
)
from bot.journal import entries as journal
from bot.journal import measure_records, measures
from bot.storage import db
from bot.storage.models import Patient

FORM = "measure_form"


@pytest.fixture
def due_phq9(journal_db: str) -> int:
    """The patient has a PHQ-9 due (scheduled by their clinic); its schedule id."""
    journal.save_entry(PATIENT, "checkin", fields={"note": "hello"}, mood=5)
    with db.session_scope(write=False) as session:
        clinic = session.scalars(
            select(Patient.clinic_id).where(Patient.sender_id == PATIENT)
        ).one()
    plan = measure_records.schedule(clinic, PATIENT, "phq9", by="dr.lee@clinic.example")
    return plan.id


def in_measure(measure: str, answers: list[int], **more: Any) -> dict[str, Any]:
    return {"measure_id": measure, "measure_schedule_id": "1", "measure_answers": answers, **more}


def answer(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    message: str,
    slots: dict[str, Any],
    *,
    slot: str = "measure_answer",
    **turn_args: Any,
) -> dict[str, Any]:
    tracker = form_turn(domain, FORM, slot, message, slots=slots, **turn_args)
    return slot_events(run(ValidateMeasureForm(), dispatcher, tracker, domain))


def test_the_greeting_offers_a_due_measure_and_only_then(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(ActionOfferDueMeasure(), dispatcher, turn(domain, "hi", intent="greet"), domain)
    assert dispatcher.messages == []

    journal.save_entry(PATIENT, "checkin", fields={"note": "hello"}, mood=5)
    with db.session_scope(write=False) as session:
        clinic = session.scalars(
            select(Patient.clinic_id).where(Patient.sender_id == PATIENT)
        ).one()
    measure_records.schedule(clinic, PATIENT, "gad7", by="dr.lee@clinic.example")
    run(ActionOfferDueMeasure(), dispatcher, turn(domain, "hi", intent="greet"), domain)
    assert responses(dispatcher) == ["utter_offer_measure"]
    assert dispatcher.messages[0]["measure"] == "the GAD-7 (7 short questions)"


def test_starting_sets_up_the_due_measure_or_says_none_is_waiting(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    events = slot_events(run(ActionStartMeasure(), dispatcher, turn(domain, "phq9"), domain))
    assert responses(dispatcher) == ["utter_no_measure_due"]
    assert events["measure_id"] is None  # the form then ends at once: nothing is asked

    dispatcher.messages.clear()
    journal.save_entry(PATIENT, "checkin", fields={"note": "hello"}, mood=5)
    with db.session_scope(write=False) as session:
        clinic = session.scalars(
            select(Patient.clinic_id).where(Patient.sender_id == PATIENT)
        ).one()
    plan = measure_records.schedule(clinic, PATIENT, "phq9", by="dr.lee@clinic.example")
    events = slot_events(run(ActionStartMeasure(), dispatcher, turn(domain, "phq9"), domain))
    assert responses(dispatcher) == ["utter_measure_intro"]
    assert (events["measure_id"], events["measure_schedule_id"]) == ("phq9", str(plan.id))
    assert events["measure_answers"] == []


def test_each_item_is_asked_in_its_published_wording_with_its_answers_as_buttons(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    phq9 = measures.measure("phq9")
    for index, item in enumerate(phq9.items):
        dispatcher.messages.clear()
        tracker = turn(domain, "x", slots=in_measure("phq9", [0] * index), active_loop=FORM)
        run(ActionAskMeasureAnswer(), dispatcher, tracker, domain)
        (message,) = dispatcher.messages
        assert message["text"] == f"Question {index + 1} of 9:\n{phq9.stem}\n{item.text}"
        assert [b["title"] for b in message["buttons"]] == [
            "Not at all",
            "Several days",
            "More than half the days",
            "Nearly every day",
        ]
        assert message["buttons"][2]["payload"] == f"phq9.{index + 1}.2"


def test_a_whole_phq9_by_buttons_and_typing_fills_the_answers_in_order(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    replies = ["phq9.1.1", "several days", "3", "Nearly every day", "0"]
    replies += ["phq9.6.0", "phq9.7.2", "more than half the days", "phq9.9.0"]
    answers: list[int] = []
    for reply in replies:
        events = answer(domain, dispatcher, reply, in_measure("phq9", answers))
        answers = events.get("measure_answers", answers)
    assert answers == [1, 1, 3, 3, 0, 0, 2, 2, 0]
    assert events["measure_answer"] == "done" and events["requested_slot"] is None
    assert dispatcher.messages == []


def test_an_audit_c_never_ends_the_questions_at_once_with_zeros(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(domain, dispatcher, "Never", in_measure("audit_c", []))
    assert events["measure_answers"] == [0, 0, 0] and events["measure_answer"] == "done"


def test_what_is_not_an_answer_is_asked_again_in_other_words_each_time(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    first = answer(domain, dispatcher, "hmm", in_measure("phq9", [1]))
    second = answer(domain, dispatcher, "5", in_measure("phq9", [1], reask="once"))
    question = answer(
        domain, dispatcher, "what counts as sleeping too much?", in_measure("phq9", [1])
    )
    assert (first["measure_answer"], first["reask"]) == (None, "once")
    assert (second["measure_answer"], second["reask"]) == (None, "again")
    assert question["measure_answer"] is None
    assert responses(dispatcher) == [
        "utter_measure_pick_one",
        "utter_measure_stop_any_time",
        "utter_measure_exact_wording",
    ]
    # The question itself comes back with another lead-in each time.
    leads = []
    for again in (None, "once", "again"):
        dispatcher.messages.clear()
        tracker = turn(domain, "x", slots=in_measure("phq9", [1], reask=again), active_loop=FORM)
        run(ActionAskMeasureAnswer(), dispatcher, tracker, domain)
        leads.append(dispatcher.messages[0]["text"].split(":")[0])
    assert len(set(leads)) == 3


def test_a_button_of_another_question_is_not_taken_as_this_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = answer(domain, dispatcher, "phq9.2.3", in_measure("phq9", [1, 1, 1]))
    assert events["measure_answer"] is None and "measure_answers" not in events


@pytest.mark.parametrize(("reply", "score"), [("phq9.9.1", 1), ("nearly every day", 3)])
def test_item_nine_above_zero_brings_the_safety_question_whatever_the_total(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, reply: str, score: int
) -> None:
    events = answer(domain, dispatcher, reply, in_measure("phq9", [0] * 8))
    assert events["measure_answers"] == [0] * 8 + [score]
    assert events["requested_slot"] == "safety_answer"


def test_yes_to_the_safety_question_gets_the_crisis_reply_and_an_urgent_flag(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, due_phq9: int, journal_db: str
) -> None:
    slots = in_measure(
        "phq9", [0] * 8 + [1], measure_answer="done", measure_schedule_id=str(due_phq9)
    )
    events = answer(
        domain,
        dispatcher,
        "/affirm",
        slots,
        slot="safety_answer",
        extracted="yes",
        intent="affirm",
    )
    assert events == {"safety_answer": "yes", "requested_slot": None}
    assert responses(dispatcher) == ["utter_crisis_suicide"]
    (flag,) = stored_flags(journal_db)
    assert (flag["level"], flag["category"], flag["source"]) == ("urgent", "suicide", "phq9_item9")
    assert "PHQ-9 item 9" in flag["message"] and "Several days" in flag["message"]

    # The answers are kept even so, silently: the crisis reply has just gone out.
    dispatcher.messages.clear()
    tracker = turn(domain, "/affirm", slots={**slots, "safety_answer": "yes"})
    run(ActionSaveMeasure(), dispatcher, tracker, domain)
    assert dispatcher.messages == []
    (result,) = measure_records.results_of(PATIENT)
    assert (result.total, result.safety_item_positive) == (1, True)


def test_no_to_the_safety_question_thanks_and_the_answers_are_saved(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, due_phq9: int, journal_db: str
) -> None:
    slots = in_measure(
        "phq9", [2] * 8 + [1], measure_answer="done", measure_schedule_id=str(due_phq9)
    )
    events = answer(
        domain, dispatcher, "/deny", slots, slot="safety_answer", extracted="no", intent="deny"
    )
    assert events == {"safety_answer": "no", "requested_slot": None}
    assert responses(dispatcher) == ["utter_safety_answer_no"]
    assert stored_flags(journal_db) == []

    dispatcher.messages.clear()
    tracker = turn(domain, "/deny", slots={**slots, "safety_answer": "no"})
    events = slot_events(run(ActionSaveMeasure(), dispatcher, tracker, domain))
    assert responses(dispatcher) == ["utter_measure_saved"]
    assert events["measure_id"] is None and events["measure_answers"] is None
    (result,) = measure_records.results_of(PATIENT)
    assert (result.total, result.band) == (17, "moderately severe")
    assert measure_records.due_for(PATIENT) is None  # a one-off, now done


def test_a_journal_that_is_down_is_said_and_nothing_is_lost_from_the_chat(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, broken_journal: None
) -> None:
    slots = in_measure("phq9", [0] * 9, measure_answer="done")
    events = slot_events(
        run(ActionSaveMeasure(), dispatcher, turn(domain, "0", slots=slots), domain)
    )
    assert responses(dispatcher) == ["utter_measure_not_saved"]
    assert "measure_answers" not in events  # still there to save on another try


def test_stop_keeps_nothing_half_answered_and_leaves_it_due(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, due_phq9: int
) -> None:
    tracker = turn(
        domain, "stop", intent="stop", slots=in_measure("phq9", [1, 2]), active_loop=FORM
    )
    events = run(ActionStopMeasure(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_measure_stopped"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert measure_records.results_of(PATIENT) == []
    assert measure_records.due_for(PATIENT).id == due_phq9
