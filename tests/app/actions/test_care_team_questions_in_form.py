"""The care team's questions in the session reflection (actions/care_team_questions.py), run
the way the action server runs them against a real journal, on SQLite and PostgreSQL: asked
after the reflection's own questions only while one waits, one at a time, oldest first;
answers kept with the question and the entry; skips and "idk" recorded as skipped, never as
answers; a question back gets its reply and the question again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from action_support import PATIENT, form_turn, responses, run, slot_events, turn
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.care_team_questions import ActionAskCareTeamAnswer
from actions.integration import ActionSaveIntegration, ValidateIntegrationForm
from actions.stopping import ActionDiscardPartial
from bot.journal import care_team_questions
from bot.journal import entries as journal
from bot.journal.parsing import SKIPPED
from bot.storage import db
from bot.storage.models import Patient

pytestmark = pytest.mark.databases("sqlite", "postgresql")

FORM = "integration_form"
LIGHTHOUSE = "What did the lighthouse image mean to you?"
BREATH = "When did you notice your breath during the session?"
#: The reflection's own questions, all answered: the care team's comes next, if any.
ANSWERED = {
    "session_date": date.today().isoformat(),
    "stood_out": "the lighthouse",
    "feelings": "calm",
    "insight": "I can come back",
    "intention": "be kind to myself",
    "small_step": "walk on Sunday",
    "mood": "6",
}


def write_question(text: str, sender: str = PATIENT) -> int:
    """A question written by the patient's clinic (the patient is made by a first entry)."""
    if journal.recent_entries(sender, 1) == []:
        journal.save_entry(sender, "checkin", fields={"note": "hello"}, mood=5)
    with db.session_scope(write=False) as session:
        clinic_id = session.scalar(select(Patient.clinic_id).where(Patient.sender_id == sender))
    made = care_team_questions.ask(int(clinic_id or 0), sender, text, by="dr.ames@clinic.example")
    assert made is not None
    return made.id


def craving_answered(domain: dict[str, Any], **slots: Any) -> Tracker:
    """The turn where the last of the reflection's own questions is answered."""
    return form_turn(domain, FORM, "craving", "2", slots={**ANSWERED, **slots})


def care_team_turn(domain: dict[str, Any], text: str, asked: int, **slots: Any) -> Tracker:
    values = {**ANSWERED, "craving": "2", "care_team_question": str(asked), **slots}
    return form_turn(domain, FORM, "care_team_answer", text, slots=values)


def validate(domain: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> dict:
    return slot_events(run(ValidateIntegrationForm(), dispatcher, tracker, domain))


def test_with_no_question_waiting_the_reflection_ends_after_its_own_questions(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = validate(domain, dispatcher, craving_answered(domain))
    assert slots["craving"] == "2"
    assert slots["requested_slot"] is None


def test_a_waiting_question_is_asked_after_the_reflections_own(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    asked = write_question(LIGHTHOUSE)
    slots = validate(domain, dispatcher, craving_answered(domain))
    assert slots["requested_slot"] == "care_team_answer"

    ask = CollectingDispatcher()
    tracker = form_turn(domain, FORM, "craving", "2", slots={**ANSWERED, "craving": "2"})
    events = slot_events(run(ActionAskCareTeamAnswer(), ask, tracker, domain))
    assert events == {"care_team_question": str(asked)}
    (message,) = ask.messages
    assert message["response"] == "utter_care_team_question"
    assert message["question"] == LIGHTHOUSE


def test_an_answer_is_kept_with_the_question_and_the_entry(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    asked = write_question(LIGHTHOUSE)
    answer = "That I can find my way back, even in fog"
    slots = validate(domain, dispatcher, care_team_turn(domain, answer, asked))
    assert slots["care_team_answers"] == [{"id": asked, "answer": answer}]
    assert slots["care_team_answer"] is None
    assert slots["requested_slot"] is None  # no other question waits: the form is done
    assert responses(dispatcher) == ["utter_care_team_answer_kept"]

    saved = {**ANSWERED, "craving": "2", "care_team_answers": slots["care_team_answers"]}
    events = run(ActionSaveIntegration(), CollectingDispatcher(), turn(domain, slots=saved), domain)
    assert slot_events(events)["care_team_answers"] is None
    (question,) = care_team_questions.questions_of(PATIENT)
    assert (question.status, question.answer) == ("answered", answer)
    assert question.entry_number == 2  # the first entry is the check-in that made the patient
    exported = journal.export_patient(PATIENT)
    assert exported is not None
    reflection = exported["entries"][1]
    assert reflection["care_team_questions"][0]["answer"] == answer
    assert "care_team_answer" not in reflection["fields"]
    assert "care_team_questions" not in exported["entries"][0]


@pytest.mark.parametrize(
    ("text", "intent", "said"),
    [("skip", "skip", "utter_skipped"), ("idk", "unsure", "utter_unsure_skipped")],
)
def test_a_skip_or_idk_is_recorded_as_skipped_never_as_an_answer(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    text: str,
    intent: str,
    said: str,
) -> None:
    asked = write_question(LIGHTHOUSE)
    tracker = form_turn(
        domain,
        FORM,
        "care_team_answer",
        text,
        intent=intent,
        slots={**ANSWERED, "craving": "2", "care_team_question": str(asked)},
    )
    slots = validate(domain, dispatcher, tracker)
    assert slots["care_team_answers"] == [{"id": asked, "answer": None}]
    assert slots["requested_slot"] is None
    assert responses(dispatcher) == [said]

    saved = {**ANSWERED, "craving": "2", "care_team_answers": slots["care_team_answers"]}
    run(ActionSaveIntegration(), CollectingDispatcher(), turn(domain, slots=saved), domain)
    (question,) = care_team_questions.questions_of(PATIENT)
    assert (question.status, question.answer) == ("skipped", None)


@pytest.mark.parametrize(
    ("text", "intent", "said"),
    [
        ("what do you mean?", "nlu_fallback", "utter_explain_care_team_answer"),
        ("ok", "affirm", "utter_im_here"),
        ("can i talk to my therapist", "inform", "utter_care_team"),
    ],
)
def test_a_reply_that_is_no_answer_gets_its_reply_and_the_question_again(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    text: str,
    intent: str,
    said: str,
) -> None:
    asked = write_question(LIGHTHOUSE)
    tracker = form_turn(
        domain,
        FORM,
        "care_team_answer",
        text,
        intent=intent,
        slots={**ANSWERED, "craving": "2", "care_team_question": str(asked)},
    )
    slots = validate(domain, dispatcher, tracker)
    assert slots["care_team_answer"] is None
    assert "care_team_answers" not in slots
    assert slots["requested_slot"] == "care_team_answer"
    assert slots["reask"] == "once"  # asked again in other words
    assert responses(dispatcher) == [said]


def test_two_questions_are_asked_one_at_a_time_oldest_first(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    first = write_question(LIGHTHOUSE)
    second = write_question(BREATH)
    slots = validate(domain, dispatcher, care_team_turn(domain, "Hope", first))
    assert slots["requested_slot"] == "care_team_answer"
    assert slots["reask"] is None  # the next question is asked in its first wording

    done = {**ANSWERED, "craving": "2", "care_team_answers": slots["care_team_answers"]}
    ask = CollectingDispatcher()
    tracker = form_turn(domain, FORM, "care_team_answer", "Hope", slots=done)
    events = slot_events(run(ActionAskCareTeamAnswer(), ask, tracker, domain))
    assert events == {"care_team_question": str(second)}
    assert ask.messages[0]["question"] == BREATH

    last = validate(
        domain,
        CollectingDispatcher(),
        care_team_turn(domain, "At the start", second, care_team_answers=done["care_team_answers"]),
    )
    assert last["care_team_answers"] == [
        {"id": first, "answer": "Hope"},
        {"id": second, "answer": "At the start"},
    ]
    assert last["requested_slot"] is None


def test_a_withdrawn_question_is_not_asked(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    asked = write_question(LIGHTHOUSE)
    with db.session_scope(write=False) as session:
        clinic_id = session.scalar(select(Patient.clinic_id).where(Patient.sender_id == PATIENT))
    assert care_team_questions.withdraw(int(clinic_id or 0), PATIENT, asked, by="x@y.example")
    slots = validate(domain, dispatcher, craving_answered(domain))
    assert slots["requested_slot"] is None


def test_a_discarded_reflection_leaves_its_question_waiting(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    asked = write_question(LIGHTHOUSE)
    slots = {
        **ANSWERED,
        "care_team_answers": [{"id": asked, "answer": "Hope"}],
        "paused_form": FORM,
    }
    run(ActionDiscardPartial(), dispatcher, turn(domain, slots=slots), domain)
    assert [q.id for q in care_team_questions.pending_for(PATIENT)] == [asked]


def test_an_unreadable_journal_leaves_the_question_out(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, failing_journal: None
) -> None:
    slots = validate(domain, dispatcher, craving_answered(domain, craving=SKIPPED))
    assert slots["requested_slot"] is None
