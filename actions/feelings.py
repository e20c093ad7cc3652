"""Listening: after "I need to vent", the next message gets a short acknowledgement.

``vent_form`` asks "I'm listening — go ahead." (a static response) and takes whatever comes
next, except a crisis message or "stop", as heard (slot ``vent_heard``, never the words:
they are not a journal answer). The acknowledgement is a static response too; this action only
clears the slot afterwards, so that the next vent is listened to again.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

VENT_SLOT = "vent_heard"


class ActionEndVent(Action):
    def name(self) -> str:
        return "action_end_vent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(VENT_SLOT, None)]
