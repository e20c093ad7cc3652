"""Questions about the treatment (data/psychoeducation.yml): the short answer with "Tell me
more" and "That's not what I asked", the longer answer, and the next-best topic. What to say is
decided in :mod:`bot.content.psychoeducation`; these only send it and set the slots."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import form_replies
from bot.content import psychoeducation
from bot.content.psychoeducation import LAST_TOPIC_SLOT, OTHER_TOPICS_SLOT, Outcome


def send(dispatcher: CollectingDispatcher, outcome: Outcome) -> list[EventType]:
    """Utter the outcome's replies and return its slot changes as events."""
    return [SlotSet(name, value) for name, value in form_replies.send(dispatcher, outcome).items()]


class ActionAnswerQuestion(Action):
    """Answers the topic the response selector chose, short first."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = psychoeducation.answer_question(
            psychoeducation.selection(tracker.latest_message),
            tracker.get_slot(LAST_TOPIC_SLOT),
            tracker.events,
        )
        return send(dispatcher, outcome)


class ActionMoreDetail(Action):
    """ "Tell me more": the longer answer of the last topic."""

    def name(self) -> str:
        return "action_more_detail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = psychoeducation.more_detail(tracker.get_slot(LAST_TOPIC_SLOT), tracker.events)
        return send(dispatcher, outcome)


class ActionNotWhatIAsked(Action):
    """ "That's not what I asked": the next-best topic, or a request to rephrase."""

    def name(self) -> str:
        return "action_not_what_i_asked"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # "no, i meant the side effects": the classifier read a question about the treatment
        # in the complaint itself, and the selector its topic.
        asked_again = (tracker.latest_message.get("intent") or {}).get("name") == "psychoeducation"
        meant = psychoeducation.selection(tracker.latest_message).topic if asked_again else None
        outcome = psychoeducation.not_what_i_asked(
            tracker.get_slot(OTHER_TOPICS_SLOT), meant, tracker.get_slot(LAST_TOPIC_SLOT)
        )
        return send(dispatcher, outcome)
