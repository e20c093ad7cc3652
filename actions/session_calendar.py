"""After a session: the one offer the greeting makes, and taking it up.

``action_offer_at_greeting`` makes at most one offer per greeting, the first that applies:
the reflection while the latest session is in its 72-hour window and not reflected on ("Your
session was yesterday - would you like to reflect on it now?"; once per conversation), else a short check-in at an
open day mark (1, 3, 7; each offered once), else a measure the care team asked for. It says
which in ``greeting_offer``; a yes (``action_take_greeting_offer``) starts that flow, the
reflection with the session's day already filled in (``offered_session_date``). The rules
are in data/session_calendar.yml; the windows in :mod:`bot.journal.session_calendar`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import log_journal_failure
from actions.measures import offer_due_measure
from bot.journal import session_calendar

OFFER_SLOT = "greeting_offer"
DATE_SLOT = "offered_session_date"
#: The flow a yes starts, by offer.
_FORMS: dict[str, str] = {"reflection": "integration_form", "checkin": "checkin_form"}


REFLECTION_OFFER = "utter_offer_session_reflection"


def reflection_offered_this_session(tracker: Tracker) -> bool:
    """Whether this conversation (since Rasa last started a session) already offered the
    reflection: a second hello is not asked the same question again."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "bot":
            if (event.get("metadata") or {}).get("utter_action") == REFLECTION_OFFER:
                return True
    return False


def _offer(
    dispatcher: CollectingDispatcher, sender_id: str, *, reflection_offered: bool = False
) -> tuple[str | None, dict[str, Any]]:
    try:
        offer = session_calendar.greeting_offer(sender_id)
        if offer is not None and offer.kind == "reflection" and reflection_offered:
            offer = None  # asked once in this conversation; a due measure may still be offered
        if offer is not None and offer.kind == "checkin":
            if not session_calendar.note_offered(sender_id, offer):
                offer = None  # another greeting offered this mark a moment ago
    except Exception as error:  # noqa: BLE001 - the greeting must never fail on this
        log_journal_failure("Looking up the session calendar", error)
        offer = None
    if offer is not None and offer.kind == "reflection":
        dispatcher.utter_message(
            response=REFLECTION_OFFER, when=session_calendar.session_when(offer)
        )
        return "reflection", {DATE_SLOT: offer.session.session_on.isoformat()}
    if offer is not None:
        dispatcher.utter_message(response="utter_offer_session_checkin")
        return "checkin", {}
    if offer_due_measure(dispatcher, sender_id):
        return "measure", {}
    return None, {}


class ActionOfferAtGreeting(Action):
    """After the greeting: the reflection, a check-in or a due measure - one offer at most."""

    def name(self) -> str:
        return "action_offer_at_greeting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind, slots = _offer(
            dispatcher,
            tracker.sender_id,
            reflection_offered=reflection_offered_this_session(tracker),
        )
        return [
            SlotSet(OFFER_SLOT, kind),
            SlotSet(DATE_SLOT, slots.get(DATE_SLOT)),
        ]


class ActionTakeGreetingOffer(Action):
    """A yes to the greeting's offer: the reflection or the check-in starts; after a measure
    offer (which has its own button) or no offer, the menu."""

    def name(self) -> str:
        return "action_take_greeting_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = _FORMS.get(str(tracker.get_slot(OFFER_SLOT)))
        if form is None:
            dispatcher.utter_message(response="utter_help")
            return [SlotSet(OFFER_SLOT, None), SlotSet(DATE_SLOT, None)]
        if form == "integration_form":
            dispatcher.utter_message(response="utter_integration_intro")
        return [SlotSet(OFFER_SLOT, None), FollowupAction(form)]
