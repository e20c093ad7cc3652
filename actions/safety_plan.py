"""The safety plan (Stanley & Brown, 2012): made and changed step by step in the chat, shown
on request. What it is and how it is kept is :mod:`bot.journal.safety_plan`'s.

Changing a plan goes through every step again: each question shows what the plan says now
(``action_ask_plan_<step>``), and "keep" (or "same", or "skip") leaves that step as it is.
Stopping and crisis interruptions go through the journal forms' shared mechanisms
(:mod:`actions.stopping`, :mod:`actions.safety`); a plan kept part-way keeps the steps it
did not reach.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    JournalFormValidation,
    SlotValidator,
    answered_slots,
    form_slots,
    latest_intent,
    log_journal_failure,
    reset_form_events,
    save_finished_form,
    slot_validator,
    validate_text_answer,
)
from bot.journal import replies, safety_plan
from bot.journal.parsing import SKIPPED, clean_answer, is_skip

FORM = "safety_plan_form"


def _previous_answer(tracker: Tracker, slot: str) -> str | None:
    """What the current plan says for this slot's step (``None`` if nothing; raises if the
    journal cannot be read)."""
    plan = safety_plan.current_plan(tracker.sender_id) or {}
    return plan.get(safety_plan.key_of(slot))


def _plan_or_none(tracker: Tracker) -> dict[str, str] | None:
    """The current plan, or ``None`` when there is none or the journal cannot be read (the
    failure is logged): for replies that must go out either way."""
    try:
        return safety_plan.current_plan(tracker.sender_id)
    except Exception as error:  # noqa: BLE001 - the person must get an answer
        log_journal_failure("Reading the safety plan", error)
        return None


def validate_plan_answer(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """A step's answer: free text like every journal answer, plus "keep" while changing a
    plan. Skipping a step the plan already answers keeps that answer too."""
    if tracker.get_slot("requested_slot") == slot and isinstance(value, str):
        text = clean_answer(value)
        keep = safety_plan.is_keep(text)
        if keep or is_skip(text, latest_intent(tracker)):
            try:
                previous = _previous_answer(tracker, slot)
            except Exception as error:  # noqa: BLE001 - the person must get an answer
                log_journal_failure("Reading the safety plan", error)
                # Saving merges the current plan back in, so the step is kept all the same.
                previous = SKIPPED if keep else None
            if previous is not None:
                dispatcher.utter_message(response="utter_safety_plan_kept")
                return {slot: previous}
            if keep:
                dispatcher.utter_message(response="utter_safety_plan_nothing_to_keep")
                return {slot: None}
    return validate_text_answer(slot, value, dispatcher, tracker)


def plan_answer(slot: str) -> SlotValidator:
    """A ``validate_<slot>`` method for one step of the plan."""
    return slot_validator(slot, validate_plan_answer)


class ValidateSafetyPlanForm(JournalFormValidation, form=FORM):
    """Every step is checked by :func:`validate_plan_answer`."""

    def name(self) -> str:
        return "validate_safety_plan_form"

    @classmethod
    def answer_check(cls, slot: str) -> SlotValidator:
        return plan_answer(slot)


class ActionSafetyPlanIntro(Action):
    """Says what a safety plan is, or, when there is one, that we will go through it."""

    def name(self) -> str:
        return "action_safety_plan_intro"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        existing = _plan_or_none(tracker)
        intro = "utter_safety_plan_intro_update" if existing else "utter_safety_plan_intro"
        dispatcher.utter_message(response=intro)
        return []


class AskPlanStep(Action, ABC):
    """Asks one step (``utter_ask_<slot>``) and shows what the current plan says for it."""

    slot: str

    @abstractmethod
    def name(self) -> str:
        """``action_ask_<slot>``."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        try:
            previous = _previous_answer(tracker, self.slot)
        except Exception as error:  # noqa: BLE001 - the question has been asked already
            log_journal_failure("Reading the safety plan", error)
            return []
        if previous:
            dispatcher.utter_message(
                text=safety_plan.edit_hint(previous),
                buttons=[{"title": "Keep it", "payload": "keep"}],
            )
        return []


class ActionAskPlanWarningSigns(AskPlanStep):
    slot = "plan_warning_signs"

    def name(self) -> str:
        return "action_ask_plan_warning_signs"


class ActionAskPlanCopingAlone(AskPlanStep):
    slot = "plan_coping_alone"

    def name(self) -> str:
        return "action_ask_plan_coping_alone"


class ActionAskPlanDistractions(AskPlanStep):
    slot = "plan_distractions"

    def name(self) -> str:
        return "action_ask_plan_distractions"


class ActionAskPlanPeopleToAsk(AskPlanStep):
    slot = "plan_people_to_ask"

    def name(self) -> str:
        return "action_ask_plan_people_to_ask"


class ActionAskPlanProfessionals(AskPlanStep):
    slot = "plan_professionals"

    def name(self) -> str:
        return "action_ask_plan_professionals"


class ActionAskPlanSaferSurroundings(AskPlanStep):
    slot = "plan_safer_surroundings"

    def name(self) -> str:
        return "action_ask_plan_safer_surroundings"


class ActionAskPlanReasonsForLiving(AskPlanStep):
    slot = "plan_reasons_for_living"

    def name(self) -> str:
        return "action_ask_plan_reasons_for_living"


class ActionSaveSafetyPlan(Action):
    def name(self) -> str:
        return "action_save_safety_plan"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not answered_slots(tracker, form_slots(domain, FORM)):
            if not _plan_or_none(tracker):
                # Every step skipped and no plan to keep: nothing to save.
                dispatcher.utter_message(response="utter_safety_plan_nothing_written")
                return reset_form_events(domain, FORM)
        _, events = save_finished_form(FORM, dispatcher, tracker, domain, safety_plan.saved_text)
        return events


class ActionShowSafetyPlan(Action):
    def name(self) -> str:
        return "action_show_safety_plan"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            entry = safety_plan.current_plan_entry(tracker.sender_id)
        except Exception as error:  # noqa: BLE001 - the person must get an answer
            log_journal_failure("Reading the safety plan", error)
            dispatcher.utter_message(text=replies.JOURNAL_READ_FAILED)
            return []
        if entry is None:
            dispatcher.utter_message(response="utter_safety_plan_none")
        else:
            dispatcher.utter_message(text=safety_plan.plan_text(entry))
        return []
