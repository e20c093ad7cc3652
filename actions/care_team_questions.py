"""The care team's own questions in the session reflection (:mod:`bot.journal.care_team_questions`).

A therapist writes a question for one patient on the dashboard; the patient's next
``integration_form`` asks it after the reflection's own questions, introduced as from their
care team, one at a time, oldest first. The form's last required slot, ``care_team_answer``,
is asked only while a question is waiting (:func:`with_care_team_question`): with none, the
reflection is exactly what it always was.

Each reply is screened like every answer of the journal forms (:func:`actions.forms.screen_answer`):
a question back, "what do you mean?" or a request gets its reply and the question again; a
slip or a craving told in it gets its own reply and the words are kept as the answer. "skip"
and "idk" record the question as *skipped*: never stored as an answer, and not asked again
(the care team sees it was skipped and can write it again). Crisis wording never reaches
here: the detector and the crisis policy take the message first, as for any answer.

What was said stays in ``care_team_answers`` until the entry is saved; the save keeps it with
the entry (:func:`actions.forms.keep_care_team_answers`), so a reflection the patient discards
leaves its questions pending.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_replies import REASK_SLOT
from actions.forms import (
    CARE_TEAM_ANSWERS_SLOT,
    kept_answer,
    log_journal_failure,
    resumed_by,
    screen_answer,
)
from bot.journal import care_team_questions
from bot.journal.care_team_questions import Outcome, QuestionView
from bot.journal.parsing import SKIPPED

logger = logging.getLogger(__name__)

SLOT = "care_team_answer"
#: The id of the question being asked (set when it is asked, so an answer is never kept
#: with another question, whatever the care team changes meanwhile).
QUESTION_SLOT = "care_team_question"
ANSWERS_SLOT = CARE_TEAM_ANSWERS_SLOT


def outcomes(tracker: Tracker) -> list[Outcome]:
    """What this reflection did with the care team's questions so far."""
    return Outcome.all_from_slot(tracker.get_slot(ANSWERS_SLOT))


def waiting_question(tracker: Tracker) -> QuestionView | None:
    """The next question to ask in this reflection, if any; ``None`` when the journal cannot
    be read (the reflection then goes on without it)."""
    handled = {outcome.question_id for outcome in outcomes(tracker)}
    try:
        return care_team_questions.next_question(tracker.sender_id, handled)
    except Exception as error:  # noqa: BLE001 - the reflection must go on without it
        log_journal_failure("Reading the care team's questions", error)
        return None


def with_care_team_question(slots: list[str], tracker: Tracker) -> list[str]:
    """The form's required slots, with ``care_team_answer`` last while a question waits and
    left out otherwise.

    The journal is read only once the reflection's own questions are all answered: until
    then the next question is one of those whatever waits, and a turn needs no database.
    """
    others = [slot for slot in slots if slot != SLOT]
    if SLOT not in slots:
        return others
    if any(tracker.get_slot(slot) is None for slot in others):
        return [*others, SLOT]
    if waiting_question(tracker) is None:
        return others
    return [*others, SLOT]


def unchecked_leftover(tracker: Tracker) -> list[EventType]:
    """When the form comes back after the direct safety question, a message Rasa put in
    ``care_team_answer`` without the form checking it (the one the question was asked on) is
    no answer: the care team's question is asked again."""
    if tracker.get_slot(SLOT) is not None and resumed_by(tracker) is not None:
        return [SlotSet(SLOT, None)]
    return []


def _kept(tracker: Tracker, question_id: int, answer: str | None) -> dict[str, Any]:
    """The slots after the question was answered (``answer``) or skipped (``None``): the
    outcome joins the others, and the next question (if any) is asked in its first wording."""
    kept = [outcome for outcome in outcomes(tracker) if outcome.question_id != question_id]
    kept.append(Outcome(question_id, answer))
    return {
        SLOT: None,
        ANSWERS_SLOT: [outcome.as_slot() for outcome in kept],
        QUESTION_SLOT: None,
        REASK_SLOT: None,
    }


def check_answer(
    form: Any, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """``validate_care_team_answer`` of the reflection's validation (``form``, for its
    :meth:`~actions.forms.JournalFormValidation.told_besides`)."""
    asked = tracker.get_slot(QUESTION_SLOT)
    if tracker.get_slot("requested_slot") != SLOT or not str(asked or "").isdigit():
        # Validated again when the form resumes, or nothing was asked: ask (again).
        return {SLOT: None}
    question_id = int(str(asked))
    if value is not None:
        told = form.told_besides(SLOT, dispatcher, tracker)
        if told is not None:
            answer = kept_answer(value, rating=False)
            if answer is None:
                return {SLOT: None, **told}
            return {**_kept(tracker, question_id, answer), **told}
    screened = screen_answer(SLOT, value, dispatcher, tracker)
    if screened.done:
        if screened.value == SKIPPED:
            return {**screened.slots, **_kept(tracker, question_id, None)}
        return screened.result(SLOT)
    dispatcher.utter_message(response="utter_care_team_answer_kept")
    return _kept(tracker, question_id, screened.value)


class ActionAskCareTeamAnswer(Action):
    """Asks the next waiting question, as the care team wrote it, and notes which it is."""

    def name(self) -> str:
        return "action_ask_care_team_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = waiting_question(tracker)
        if question is None:
            return [SlotSet(QUESTION_SLOT, None)]
        dispatcher.utter_message(response="utter_care_team_question", question=question.question)
        return [SlotSet(QUESTION_SLOT, str(question.id))]
