"""The patient's rights over their own data, from the chat: a copy of it, and its erasure.

The work is done by :mod:`bot.privacy.my_data` (a short-lived download link) and :mod:`bot.privacy.erasure`
(the erasure itself with its receipt in the audit log, or a request to the clinic where
records must be kept). These actions only turn the outcome into a reply.

After an erasure the action sets ``data_erased_at``: the tracker store writes nothing of the
conversation from before that event back to the database, although Rasa still holds it in
memory for the rest of this turn (see ``bot/chat/tracker_store.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import log_journal_failure
from bot.privacy import erasure, my_data

#: Readable names of the stores an erasure may fail in, for the patient's reply.
STORE_NAMES = {
    "journal": "your journal",
    "events": "our conversations",
    "risk_flags": "safety notes",
    "erasure_requests": "earlier requests",
}


class ActionExportMyData(Action):
    """The chat's "Download my data" buttons, for everything stored about the patient.

    The message carries no link: whatever a message carries is kept with the conversation,
    which the care team reads, and a link there would let them download the patient's data
    as the patient. The response's ``url`` and ``readable_url`` are left blank; the widget
    asks the web app for a link (``POST /api/my-data``, with the patient's own chat token)
    when the button is pressed. The action still tells who has nothing stored yet, and for
    how long a link works.
    """

    def name(self) -> str:
        return "action_export_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            expires_at = my_data.link_expiry(tracker.sender_id)
        except my_data.UnknownPatient:
            dispatcher.utter_message(response="utter_nothing_to_export")
            return []
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Preparing a data export", error)
            dispatcher.utter_message(response="utter_export_failed")
            return []
        minutes = max(1, round((expires_at - datetime.now(UTC)).total_seconds() / 60))
        dispatcher.utter_message(
            response="utter_export_ready", url="", readable_url="", minutes=minutes
        )
        return []


class ActionEraseMyData(Action):
    """Erase the patient's data once they confirmed, or file the request with their clinic."""

    def name(self) -> str:
        return "action_erase_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            outcome = erasure.request_erasure(tracker.sender_id)
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Erasing a patient's data", error)
            dispatcher.utter_message(response="utter_erase_failed")
            return []
        if outcome.kind == "requested":
            dispatcher.utter_message(response="utter_erasure_requested")
            return []
        if outcome.kind == "already_requested":
            dispatcher.utter_message(response="utter_erasure_already_requested")
            return []
        if outcome.kind == "unknown" or outcome.receipt is None:
            dispatcher.utter_message(response="utter_nothing_to_erase")
            return []
        receipt = outcome.receipt
        if receipt.failed:
            stores = ", ".join(STORE_NAMES.get(name, name) for name in receipt.failed)
            dispatcher.utter_message(response="utter_erased_partly", stores=stores)
        else:
            dispatcher.utter_message(
                response="utter_erased", entries=receipt.erased.get("journal", 0)
            )
        return [SlotSet("data_erased_at", datetime.now(UTC).isoformat())]
