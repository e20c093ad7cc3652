"""Withdrawing consent from the chat: :mod:`bot.patient_consent` records it, and from the next
message on the chat channels keep nothing the patient writes (they are offered a copy of their
data and its erasure in the reply, and the widget shows the consent text again)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import log_journal_failure
from bot import patient_consent


class ActionWithdrawConsent(Action):
    """The patient confirmed: their agreement is stamped as withdrawn."""

    def name(self) -> str:
        return "action_withdraw_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            patient_consent.withdraw(tracker.sender_id)
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Withdrawing consent", error)
            dispatcher.utter_message(response="utter_consent_not_withdrawn")
            return []
        dispatcher.utter_message(response="utter_consent_withdrawn")
        return []
