"""Cravings, triggers and slips: the trigger reflection form and saving it."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    JournalFormValidation,
    rating_answer,
    save_finished_form,
    text_answer,
)
from bot import journal_text

FORM = "trigger_form"


class ValidateTriggerForm(JournalFormValidation):
    """Validates the reflection. Trigger types and HALT answers are free text, kept verbatim;
    the categories are read from them when saving, so an answer naming no category
    ("my boss called") is still accepted."""

    def name(self) -> str:
        return "validate_trigger_form"

    validate_trigger_craving = rating_answer("trigger_craving")
    validate_trigger_type = text_answer("trigger_type")
    validate_halt = text_answer("halt")
    validate_trigger_context = text_answer("trigger_context")
    validate_coping_response = text_answer("coping_response")


class ActionSaveTrigger(Action):
    """Saves the reflection and remembers its number, so an urge-surfing exercise that
    follows can be added to the same entry."""

    def name(self) -> str:
        return "action_save_trigger"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entry, events = save_finished_form(
            FORM, dispatcher, tracker, domain, journal_text.trigger_summary
        )
        if entry is None:
            return events
        return [*events, SlotSet("last_trigger_entry", float(entry.number))]
