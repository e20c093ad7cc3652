"""Reminders by e-mail after a session: opting in and out in the chat.

"Remind me by email" starts ``reminder_form``: the address, then "Send the reminders to
…?" (yes or no; a no asks for the address again). ``action_save_reminders`` turns them on
(:mod:`bot.clinics.reminders` seals the address) and clears the address from the slots.
"Stop reminders", at any time, turns them off. "Cancel" or "stop" inside the form ends it
without reminders. The reminders themselves are sent by the web app, never from here.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import latest_intent, log_journal_failure
from bot.clinics import reminders

FORM = "reminder_form"
ADDRESS_SLOT = "reminder_email"
CONFIRMED_SLOT = "reminder_email_confirmed"
#: ``reminder_email`` when the patient gave up on the address.
CANCELLED = "cancelled"
#: Replies to the address question that mean "never mind".
_GIVING_UP = {"deny", "stop", "skip"}


def _clear() -> list[EventType]:
    return [SlotSet(ADDRESS_SLOT, None), SlotSet(CONFIRMED_SLOT, None)]


class ValidateReminderForm(FormValidationAction):
    """An address that is one, then a yes or no to it."""

    def name(self) -> str:
        return "validate_reminder_form"

    async def validate_reminder_email(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        address = reminders.check_address(str(value or ""))
        if address is not None:
            return {ADDRESS_SLOT: address}
        if latest_intent(tracker) in _GIVING_UP:
            return {ADDRESS_SLOT: CANCELLED, CONFIRMED_SLOT: False}
        dispatcher.utter_message(response="utter_reminder_email_invalid")
        return {ADDRESS_SLOT: None}

    async def validate_reminder_email_confirmed(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if value is True:
            return {CONFIRMED_SLOT: True}
        if value is False:
            dispatcher.utter_message(response="utter_reminder_email_again")
            return {ADDRESS_SLOT: None, CONFIRMED_SLOT: None}
        return {CONFIRMED_SLOT: None}


class ActionSaveReminders(Action):
    """Turns reminders on once the address is confirmed, and forgets it in the slots."""

    def name(self) -> str:
        return "action_save_reminders"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        address = tracker.get_slot(ADDRESS_SLOT)
        if tracker.get_slot(CONFIRMED_SLOT) is not True or address in (None, CANCELLED):
            dispatcher.utter_message(response="utter_reminders_not_set")
            return _clear()
        try:
            made = reminders.subscribe(tracker.sender_id, str(address))
        except Exception as error:  # noqa: BLE001 - say so, never lose the turn
            log_journal_failure("Turning reminders on", error)
            made = None
        if made is None:
            dispatcher.utter_message(response="utter_reminders_unavailable")
        else:
            dispatcher.utter_message(response="utter_reminders_on")
        return _clear()


class ActionCancelReminderForm(Action):
    """ "Stop" while the address is asked: no reminders, nothing kept."""

    def name(self) -> str:
        return "action_cancel_reminder_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_reminders_not_set")
        return [*_clear(), ActiveLoop(None), SlotSet("requested_slot", None)]


class ActionStopReminders(Action):
    """ "Stop reminders": off at once (the unsubscribe link in each e-mail does the same)."""

    def name(self) -> str:
        return "action_stop_reminders"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            stopped = reminders.stop(tracker.sender_id, via="chat")
        except Exception as error:  # noqa: BLE001
            log_journal_failure("Turning reminders off", error)
            dispatcher.utter_message(response="utter_reminders_unavailable")
            return []
        dispatcher.utter_message(
            response="utter_reminders_stopped" if stopped else "utter_reminders_were_off"
        )
        return []
