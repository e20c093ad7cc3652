"""Cravings, triggers and slips: the trigger reflection form and saving it."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    answered_slots,
    form_slots,
    save_finished_form,
)
from actions.risk import notice_after_save
from actions.slips import NoticesSlipsAndCravings
from bot.journal import replies

FORM = "trigger_form"


class ValidateTriggerForm(NoticesSlipsAndCravings, form=FORM):
    """Validates the reflection. Trigger types and HALT answers are free text, kept verbatim;
    the categories are read from them when saving, so an answer naming no category
    ("my boss called") is still accepted.

    A craving reflection in which the person says they drank or used ("i didnt though. i
    drank") becomes a slip reflection there and then (:mod:`actions.slips`): the no-shame
    reply, the harm-reduction note for opioids and sedatives, and the entry saved as a slip.
    """

    def name(self) -> str:
        return "validate_trigger_form"


class ActionSaveTrigger(Action):
    """Saves the reflection and remembers its number, so an urge-surfing exercise that
    follows can be added to the same entry."""

    def name(self) -> str:
        return "action_save_trigger"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        values = answered_slots(tracker, form_slots(domain, FORM))
        entry, events = save_finished_form(
            FORM, dispatcher, tracker, domain, replies.trigger_summary
        )
        # A high craving gets an "info" flag here; the coping offer follows by rule.
        notice_after_save(FORM, values, dispatcher, tracker)
        if entry is None:
            return events
        return [*events, SlotSet("last_trigger_entry", float(entry.number))]
