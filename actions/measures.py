"""Validated measures the care team scheduled (PHQ-9, GAD-7, AUDIT-C), asked in the chat.

The greeting offers a due measure (``action_offer_due_measure``); "questionnaire" in any words
(``start_measure``) starts it. ``measure_form`` asks one item at a time in its published
wording, with its published answers as buttons (``action_ask_measure_answer``); a reply that
is not one of them is asked again with a different lead-in, never the same text twice in a
row. The answers are scored by :mod:`bot.journal.measures` and saved whole, never in part.

PHQ-9 item 9 (thoughts of being better off dead or of self-harm) above 0 brings the direct
safety question as soon as it is answered, whatever the total: the form asks ``safety_answer``
(as after a low mood, :class:`actions.risk.SafetyQuestionMixin`). Yes or not sure: the crisis
reply and an urgent flag; no: thanks. The answers are saved either way.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_replies import REASK_AGAIN, REASK_ONCE, REASK_SLOT
from actions.forms import latest_text, log_journal_failure
from actions.risk import SAFETY_ANSWER_WORDS, SAFETY_SLOT, SafetyQuestionMixin
from bot.journal import measure_records, measures
from bot.journal.reply_reading import looks_like_question
from bot.safety import risk_checks

logger = logging.getLogger(__name__)

FORM = "measure_form"
ANSWER_SLOT = "measure_answer"
ID_SLOT = "measure_id"
SCHEDULE_SLOT = "measure_schedule_id"
ANSWERS_SLOT = "measure_answers"
#: ``measure_answer`` once every item is answered (the form is then done).
DONE = "done"


def _answers(tracker: Tracker) -> list[int]:
    answers = tracker.get_slot(ANSWERS_SLOT)
    return [int(answer) for answer in answers] if isinstance(answers, list) else []


def _measure(tracker: Tracker) -> measures.Measure | None:
    measure_id = tracker.get_slot(ID_SLOT)
    try:
        return measures.measure(measure_id) if isinstance(measure_id, str) else None
    except KeyError:
        return None


def _safety_item_positive(instrument: measures.Measure, answers: list[int]) -> bool:
    return any(
        item.safety_item and answer > 0
        for item, answer in zip(instrument.items, answers, strict=False)
    )


def _reset() -> list[EventType]:
    return [
        SlotSet(slot, None)
        for slot in (ID_SLOT, SCHEDULE_SLOT, ANSWERS_SLOT, ANSWER_SLOT, SAFETY_SLOT, REASK_SLOT)
    ]


def _describe(instrument: measures.Measure) -> str:
    count = len(instrument.items)
    return f"the {instrument.short} ({count} short questions)"


class ActionOfferDueMeasure(Action):
    """After the greeting: a measure the care team asked for, if one is due; else nothing."""

    def name(self) -> str:
        return "action_offer_due_measure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        offer_due_measure(dispatcher, tracker.sender_id)
        return []


def offer_due_measure(dispatcher: CollectingDispatcher, sender_id: str) -> bool:
    """Offer the measure that is due, if one is; whether an offer was made (also for the
    greeting's one offer, actions/session_calendar.py)."""
    try:
        due = measure_records.due_for(sender_id)
    except Exception as error:  # noqa: BLE001 - the greeting must never fail on this
        log_journal_failure("Looking up due measures", error)
        return False
    if due is None:
        return False
    dispatcher.utter_message(
        response="utter_offer_measure", measure=_describe(measures.measure(due.measure))
    )
    return True


class ActionStartMeasure(Action):
    """Sets up the form for the due measure; with none due, says so and the form ends at once."""

    def name(self) -> str:
        return "action_start_measure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            due = measure_records.due_for(tracker.sender_id)
        except Exception as error:  # noqa: BLE001
            log_journal_failure("Looking up due measures", error)
            dispatcher.utter_message(response="utter_measure_unavailable")
            return _reset()
        if due is None:
            dispatcher.utter_message(response="utter_no_measure_due")
            return _reset()
        instrument = measures.measure(due.measure)
        dispatcher.utter_message(
            response="utter_measure_intro",
            measure=instrument.short,
            count=str(len(instrument.items)),
        )
        return [
            *_reset(),
            SlotSet(ID_SLOT, due.measure),
            SlotSet(SCHEDULE_SLOT, str(due.id)),
            SlotSet(ANSWERS_SLOT, []),
        ]


class ActionAskMeasureAnswer(Action):
    """The next item, in its published wording, with its answers as buttons."""

    def name(self) -> str:
        return "action_ask_measure_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        instrument = _measure(tracker)
        answers = _answers(tracker)
        if instrument is None or len(answers) >= len(instrument.items):
            return []
        item = instrument.items[len(answers)]
        place = f"{item.number} of {len(instrument.items)}"
        again = tracker.get_slot(REASK_SLOT)
        lead = {
            REASK_ONCE: f"Once more, question {place}",
            REASK_AGAIN: f"Question {place}, pick the closest one",
        }.get(again, f"Question {place}")
        question = f"{instrument.stem}\n{item.text}" if instrument.stem else item.text
        dispatcher.utter_message(
            text=f"{lead}:\n{question}",
            buttons=[{"title": option.text, "payload": option.payload} for option in item.options],
        )
        return []


class ValidateMeasureForm(SafetyQuestionMixin, FormValidationAction):
    """One item per turn; the safety question after PHQ-9 item 9 above 0."""

    safety_source = "phq9_item9"

    def name(self) -> str:
        return "validate_measure_form"

    def form_name(self) -> str:
        return FORM

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        instrument = _measure(tracker)
        if instrument is None:
            return []
        if tracker.get_slot(ANSWER_SLOT) == DONE and _safety_item_positive(
            instrument, _answers(tracker)
        ):
            return [ANSWER_SLOT, SAFETY_SLOT]
        return [ANSWER_SLOT]

    def safety_flag_message(self, tracker: Tracker, answer: str) -> str:
        instrument = _measure(tracker)
        answers = _answers(tracker)
        if instrument is None:
            return f"Asked about thoughts of ending their life — answer: {answer}."
        said = next(
            (
                option.text
                for item, score in zip(instrument.items, answers, strict=False)
                if item.safety_item
                for option in item.options
                if option.score == score
            ),
            "above 0",
        )
        return (
            f'{instrument.short} item 9 ("thoughts that you would be better off dead, or of '
            f'hurting yourself"): {said}. Asked "Are you having thoughts of ending your life?" '
            f"— answer: {SAFETY_ANSWER_WORDS[answer]}."
        )

    async def validate_measure_answer(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """An answer moves on to the next item; anything else is asked again, kindly."""
        instrument = _measure(tracker)
        answers = _answers(tracker)
        if instrument is None or value == DONE or len(answers) >= len(instrument.items):
            return {ANSWER_SLOT: DONE if instrument is not None else None}
        typed = latest_text(tracker)
        reply = typed if typed else str(value or "")
        score = measures.answer_score(instrument.id, len(answers), reply)
        if score is None:
            return self._not_an_answer(reply, dispatcher, tracker)
        answers = [*answers, score]
        if instrument.id == "audit_c" and len(answers) == 1 and score == 0:
            # "Never" drinks: the AUDIT has non-drinkers skip Q2 and Q3, which score 0.
            answers = [0] * len(instrument.items)
        done = len(answers) == len(instrument.items)
        return {
            ANSWERS_SLOT: answers,
            ANSWER_SLOT: DONE if done else None,
            REASK_SLOT: None,
        }

    def _not_an_answer(
        self, reply: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """A question gets why the wording cannot change; anything else a pointer to the
        buttons; a second miss in a row also the way to stop and finish another time."""
        again = tracker.get_slot(REASK_SLOT)
        if looks_like_question(reply):
            dispatcher.utter_message(response="utter_measure_exact_wording")
        elif again is None:
            dispatcher.utter_message(response="utter_measure_pick_one")
        else:
            dispatcher.utter_message(response="utter_measure_stop_any_time")
        return {ANSWER_SLOT: None, REASK_SLOT: REASK_AGAIN if again else REASK_ONCE}


class ActionSaveMeasure(Action):
    """Keeps a finished measure and thanks the patient; after a yes to the safety question,
    keeps it silently (the crisis reply has just gone out)."""

    def name(self) -> str:
        return "action_save_measure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        instrument = _measure(tracker)
        answers = _answers(tracker)
        if instrument is None or len(answers) != len(instrument.items):
            return _reset()
        schedule = tracker.get_slot(SCHEDULE_SLOT)
        try:
            measure_records.save_result(
                tracker.sender_id,
                instrument.id,
                answers,
                schedule_id=int(schedule) if schedule and str(schedule).isdigit() else None,
            )
        except Exception as error:  # noqa: BLE001 - say so, never lose the turn
            log_journal_failure(f"Saving a {instrument.short}", error)
            if tracker.get_slot(SAFETY_SLOT) not in risk_checks.SAFETY_NEEDS_HELP:
                dispatcher.utter_message(response="utter_measure_not_saved")
            return [SlotSet(REASK_SLOT, None)]
        if tracker.get_slot(SAFETY_SLOT) not in risk_checks.SAFETY_NEEDS_HELP:
            dispatcher.utter_message(response="utter_measure_saved", measure=instrument.short)
        return _reset()


class ActionStopMeasure(Action):
    """ "Stop" in a measure: nothing half-answered is kept, and it stays due for next time."""

    def name(self) -> str:
        return "action_stop_measure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_measure_stopped")
        return [*_reset(), ActiveLoop(None), SlotSet("requested_slot", None)]
