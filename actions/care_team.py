"""A message for the care team (data/care_team.yml): pause the form the patient was in, send
the message they write, or send nothing. The contact details themselves are a response
(``utter_care_team``) filled in from the clinic's settings by the response generator, so they
arrive even when this server is down."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import FORM_NAMES, log_journal_failure
from bot.journal import entries as journal
from bot.journal.parsing import clean_answer

SLOT = "care_team_message"


class ActionPauseForCareTeamMessage(Action):
    """Leaves the form the patient was in, keeping its answers for "carry on"."""

    def name(self) -> str:
        return "action_pause_for_care_team_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if tracker.active_loop_name in FORM_NAMES:
            events.insert(0, SlotSet("paused_form", tracker.active_loop_name))
        return events


class ActionSendCareTeamMessage(Action):
    """Keeps the message for the care team (a request on the patient page, announced like a
    flag) and says when it will be read; a paused form is offered again."""

    def name(self) -> str:
        return "action_send_care_team_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        message = clean_answer(tracker.get_slot(SLOT) or "").strip()
        if message:
            try:
                journal.leave_care_team_message(tracker.sender_id, message)
            except Exception as error:  # noqa: BLE001 - the patient must get an answer
                log_journal_failure("Leaving a message for the care team", error)
                dispatcher.utter_message(response="utter_care_team_message_failed")
                return [SlotSet(SLOT, None)]
            dispatcher.utter_message(response="utter_care_team_message_sent")
        else:
            dispatcher.utter_message(response="utter_care_team_message_cancelled")
        if tracker.get_slot("paused_form") in FORM_NAMES:
            dispatcher.utter_message(response="utter_paused_form_waiting")
        return [SlotSet(SLOT, None)]


class ActionCancelCareTeamMessage(Action):
    """ "stop" while writing the message: nothing is sent."""

    def name(self) -> str:
        return "action_cancel_care_team_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_care_team_message_cancelled")
        if tracker.get_slot("paused_form") in FORM_NAMES:
            dispatcher.utter_message(response="utter_paused_form_waiting")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet(SLOT, None)]
