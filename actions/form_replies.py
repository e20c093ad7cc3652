"""Replies inside a form that are not answers, and how the form asks again.

A patient in the middle of a reflection may ask something back, ask what the question means,
say "idk", or say the assistant ignored them. :func:`answer_side_step` answers each kind
(:class:`bot.journal.reply_reading.Reading`) and tells the validator what to put in the slot: nothing
(the same question is asked again) or a skip. A question is never stored as an answer.

Asking again is never word for word: the slot ``reask`` steers conditional variations of
every ``utter_ask_<slot>`` in the domain — ``once`` after the first reply that did not fill
the slot, ``again`` after the next, alternating — and ``range`` / ``word`` when a rating came
as "6-7" or "meh" and the question becomes "which is closer?" or "about a 5?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.content import psychoeducation
from bot.content.psychoeducation import LAST_TOPIC_SLOT, OTHER_TOPICS_SLOT, Outcome
from bot.journal.parsing import SKIPPED
from bot.journal.reply_reading import Reading, says_wrong_answer_after_an_answer

REASK_SLOT = "reask"
REASK_ONCE = "once"
REASK_AGAIN = "again"
REASK_RANGE = "range"
REASK_WORD = "word"
#: Slots that carry a rating the patient gave as a range or in words, for the next ask.
RATING_PROPOSAL_SLOTS = ("range_low", "range_high", "rating_guess")

#: What each kind of side step gets before the question is asked again.
_REPLIES: dict[Reading, str] = {
    Reading.UNANSWERED: "utter_form_unanswered",
    Reading.ABOUT_ASSISTANT: "utter_iamabot",
    Reading.HELP: "utter_form_help",
}


@dataclass(frozen=True)
class SideStep:
    """The slot's value after a side step (None: ask again) and other slots it changes."""

    value: str | None
    slots: Mapping[str, Any] = field(default_factory=dict)


def answer_side_step(
    reading: Reading, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> SideStep:
    """Answer a reply that is not an answer.

    A question about the treatment gets the same short answer, with "Tell me more" and
    "That's not what I asked", as outside a form (:mod:`bot.content.psychoeducation`); those two
    buttons work inside the form too, and the form's question follows each time.
    """
    if reading is Reading.UNSURE:
        dispatcher.utter_message(response="utter_unsure_skipped")
        return SideStep(SKIPPED)
    if reading is Reading.CLARIFY:
        dispatcher.utter_message(response=f"utter_explain_{slot}")
        return SideStep(None)
    if reading is Reading.QUESTION:
        outcome = psychoeducation.answer_question(
            psychoeducation.selection(tracker.latest_message),
            tracker.get_slot(LAST_TOPIC_SLOT),
            tracker.events,
        )
        return SideStep(None, send(dispatcher, outcome))
    if reading is Reading.MORE:
        outcome = psychoeducation.more_detail(tracker.get_slot(LAST_TOPIC_SLOT), tracker.events)
        return SideStep(None, send(dispatcher, outcome))
    if reading is Reading.UNANSWERED and tracker.get_slot(OTHER_TOPICS_SLOT):
        outcome = psychoeducation.not_what_i_asked(tracker.get_slot(OTHER_TOPICS_SLOT))
        return SideStep(None, send(dispatcher, outcome))
    dispatcher.utter_message(response=_REPLIES[reading])
    return SideStep(None)


def answered_just_before(tracker: Tracker) -> bool:
    """Whether the assistant's last turn answered a question about the treatment inside the
    form (its events set the topic slot): the reply now may be about that answer."""
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                return False
        elif users == 1 and event.get("event") == "slot" and event.get("name") == LAST_TOPIC_SLOT:
            return event.get("value") is not None
    return False


def read_after_an_answer(text: str, tracker: Tracker) -> Reading | None:
    """Right after an answer inside the form, "nothing to do with my question", "i meant the
    side effects" say it missed (:func:`~bot.journal.reply_reading.says_wrong_answer_after_an_answer`,
    the words outside a form use at that moment): the next-best answer, then the question
    again. Anything else is read as any reply is."""
    if answered_just_before(tracker) and says_wrong_answer_after_an_answer(text):
        return Reading.UNANSWERED
    return None


def send(dispatcher: CollectingDispatcher, outcome: Outcome) -> dict[str, Any]:
    """Utter an answer's replies; the slots it changes."""
    for reply in outcome.replies:
        dispatcher.utter_message(
            response=reply.response,
            text=reply.text,
            buttons=[dict(button) for button in reply.buttons] or None,
        )
    return dict(outcome.slots)


def next_reask(current: Any) -> str:
    """``once`` then ``again`` then ``once`` …: two asks in a row never read the same."""
    return REASK_AGAIN if current == REASK_ONCE else REASK_ONCE


def reask_events(tracker: Tracker, events: list[EventType]) -> list[EventType]:
    """How the next ask should read, from what the validation just did to the asked slot.

    Filled (or skipped): plain again, and any rating proposal is cleared. Left empty: the
    next re-ask variation, unless the validator already chose one (a range or a word).
    """
    requested = tracker.get_slot("requested_slot")
    set_now: Mapping[str, Any] = {
        event["name"]: event.get("value") for event in events if event.get("event") == "slot"
    }
    if requested is None or requested not in set_now or REASK_SLOT in set_now:
        return []
    if set_now[requested] is None:
        return [SlotSet(REASK_SLOT, next_reask(tracker.get_slot(REASK_SLOT)))]
    stale = [REASK_SLOT, *RATING_PROPOSAL_SLOTS]
    return [SlotSet(name, None) for name in stale if tracker.get_slot(name) is not None]
