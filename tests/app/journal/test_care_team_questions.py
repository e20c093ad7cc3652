"""The care team's questions in the database (bot.journal.care_team_questions): written by
clinic, asked oldest first, answers and skips kept with their entry, withdrawn ones kept;
sealed at rest, in the patient's own copy without who wrote them, and erased with the journal;
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from bot.journal import care_team_questions
from bot.journal import entries as journal
from bot.journal.care_team_questions import Outcome
from bot.privacy import erasure, my_data
from bot.storage import db
from bot.storage.models import Patient

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SENDER = "p-questions"
STAFF = "dr.lee@clinic.example"
LIGHTHOUSE = "What did the lighthouse image mean to you?"
BREATH = "When did you notice your breath?"


@pytest.fixture
def clinic_id(database_url: str) -> int:
    """A patient (in the demo clinic, as a first journal write makes them): their clinic."""
    journal.save_entry(SENDER, "checkin", fields={"note": "hi"}, mood=5)
    with db.session_scope(write=False) as session:
        return session.scalars(select(Patient.clinic_id).where(Patient.sender_id == SENDER)).one()


def test_questions_wait_oldest_first_and_only_for_their_clinics_patient(clinic_id: int) -> None:
    first = care_team_questions.ask(clinic_id, SENDER, f"  {LIGHTHOUSE}\x07\n", by=STAFF)
    second = care_team_questions.ask(clinic_id, SENDER, BREATH, by=STAFF)
    assert first is not None and second is not None
    assert first.question == LIGHTHOUSE  # trimmed, control characters out
    assert [q.id for q in care_team_questions.pending_for(SENDER)] == [first.id, second.id]
    assert care_team_questions.next_question(SENDER, {first.id}).id == second.id
    assert care_team_questions.next_question(SENDER, {first.id, second.id}) is None
    assert care_team_questions.ask(clinic_id + 1, SENDER, BREATH, by=STAFF) is None
    assert care_team_questions.withdraw(clinic_id + 1, SENDER, first.id, by=STAFF) is None


@pytest.mark.parametrize(
    ("question", "problem"),
    [("", "Write the question"), (" \n ", "Write the question"), ("x" * 501, "at most 500")],
)
def test_empty_and_overlong_questions_are_refused(
    clinic_id: int, question: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        care_team_questions.ask(clinic_id, SENDER, question, by=STAFF)


def test_answers_and_skips_are_kept_with_their_entry_and_withdrawn_ones_stay(
    clinic_id: int,
) -> None:
    answered = care_team_questions.ask(clinic_id, SENDER, LIGHTHOUSE, by=STAFF)
    skipped = care_team_questions.ask(clinic_id, SENDER, BREATH, by=STAFF)
    withdrawn = care_team_questions.ask(clinic_id, SENDER, "Anything else?", by=STAFF)
    assert answered and skipped and withdrawn
    assert care_team_questions.withdraw(clinic_id, SENDER, withdrawn.id, by="admin@x.example")
    entry = journal.save_entry(SENDER, "integration", fields={"stood_out": "the sea"})
    outcomes = [
        Outcome(answered.id, "Hope"),
        Outcome(skipped.id, None),
        Outcome(withdrawn.id, "too late"),  # withdrawn while it was asked: stays withdrawn
    ]
    assert care_team_questions.record_outcomes(SENDER, entry.number, outcomes) == 2
    assert care_team_questions.record_outcomes(SENDER, entry.number, outcomes) == 0

    by_id = {q.id: q for q in care_team_questions.questions_of(SENDER)}
    assert (by_id[answered.id].status, by_id[answered.id].answer) == ("answered", "Hope")
    assert (by_id[skipped.id].status, by_id[skipped.id].answer) == ("skipped", None)
    assert by_id[answered.id].entry_number == by_id[skipped.id].entry_number == entry.number
    assert (by_id[withdrawn.id].status, by_id[withdrawn.id].answer) == ("withdrawn", None)
    assert by_id[withdrawn.id].withdrawn_by == "admin@x.example"
    assert not care_team_questions.withdraw(clinic_id, SENDER, answered.id, by=STAFF)


def test_question_and_answer_are_sealed_at_rest(clinic_id: int, database_url: str) -> None:
    asked = care_team_questions.ask(clinic_id, SENDER, LIGHTHOUSE, by=STAFF)
    assert asked is not None
    entry = journal.save_entry(SENDER, "integration", fields={})
    care_team_questions.record_outcomes(SENDER, entry.number, [Outcome(asked.id, "Hope")])
    with db.get_engine(database_url).connect() as connection:
        question, answer = connection.execute(
            text("SELECT question, answer FROM care_team_questions")
        ).one()
    assert question.startswith("enc1:") and answer.startswith("enc1:")
    assert "lighthouse" not in question and "Hope" not in answer


def test_the_patients_copy_has_them_without_who_wrote_them(clinic_id: int) -> None:
    asked = care_team_questions.ask(clinic_id, SENDER, LIGHTHOUSE, by=STAFF)
    assert asked is not None
    entry = journal.save_entry(SENDER, "integration", fields={"stood_out": "the sea"})
    care_team_questions.record_outcomes(SENDER, entry.number, [Outcome(asked.id, "Hope")])
    document = my_data.export_document(SENDER)
    (kept,) = [e for e in document["entries"] if e["number"] == entry.number]
    (question,) = kept["care_team_questions"]
    assert (question["question"], question["answer"], question["status"]) == (
        LIGHTHOUSE,
        "Hope",
        "answered",
    )
    assert "asked_by" not in question and STAFF not in str(document)


def test_erasure_takes_the_questions_and_their_answers(clinic_id: int) -> None:
    asked = care_team_questions.ask(clinic_id, SENDER, LIGHTHOUSE, by=STAFF)
    care_team_questions.ask(clinic_id, SENDER, BREATH, by=STAFF)
    assert asked is not None
    entry = journal.save_entry(SENDER, "integration", fields={})
    care_team_questions.record_outcomes(SENDER, entry.number, [Outcome(asked.id, "Hope")])

    receipt = erasure.erase_patient(SENDER, "admin@x.example")

    assert receipt.stores["journal"] == {"erased": 2, "care_team_questions": 2}
    assert care_team_questions.questions_of(SENDER) == []
