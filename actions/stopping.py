"""Stopping a form part-way: pause it, then keep what was written or discard it.

``action_stop_form`` ends the form and asks; the person's choice runs
``action_keep_partial`` or ``action_discard_partial``. Until they choose, the answers stay
in the form's slots and the form's name in ``paused_form``, so "carry on" can resume it.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    FORM_NAMES,
    answered_slots,
    form_slots,
    log_journal_failure,
    reset_form_events,
    save_form_answers,
    tell_not_saved,
)
from bot.journal import replies


def paused_form(tracker: Tracker) -> str | None:
    name = tracker.get_slot("paused_form")
    return name if name in FORM_NAMES else None


class ActionStopForm(Action):
    def name(self) -> str:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = tracker.active_loop_name
        if form not in FORM_NAMES:
            if paused_form(tracker) is not None:
                # Already stopped and waiting for keep or discard: ask again.
                dispatcher.utter_message(response="utter_ask_keep_or_discard")
            else:
                dispatcher.utter_message(response="utter_nothing_paused")
            return []
        dispatcher.utter_message(response="utter_ask_keep_or_discard")
        return [
            SlotSet("paused_form", form),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
        ]


class ActionKeepPartial(Action):
    """Saves the paused form's answers as an entry marked "partial"."""

    def name(self) -> str:
        return "action_keep_partial"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = paused_form(tracker)
        if form is None:
            dispatcher.utter_message(response="utter_nothing_paused")
            return []
        values = answered_slots(tracker, form_slots(domain, form))
        if not values:
            dispatcher.utter_message(text=replies.NOTHING_TO_KEEP)
            return reset_form_events(domain, form)
        try:
            entry = save_form_answers(tracker.sender_id, form, values, tracker, "partial")
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure(f"Keeping partial {form}", error)
            tell_not_saved(dispatcher, values)
            return []
        dispatcher.utter_message(text=replies.partial_saved(entry))
        return reset_form_events(domain, form)


class ActionDiscardPartial(Action):
    def name(self) -> str:
        return "action_discard_partial"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = paused_form(tracker)
        if form is None:
            dispatcher.utter_message(response="utter_nothing_paused")
            return []
        dispatcher.utter_message(text=replies.DISCARDED)
        return reset_form_events(domain, form)
