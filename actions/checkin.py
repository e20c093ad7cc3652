"""The quick mood and craving check-in.

A mood of 2 or lower brings the direct safety question, a craving of 8 or higher a coping offer
(actions/risk.py). A slip told in the note is recorded as a slip, and a craving told in it gets
the coping offer too (actions/slips.py).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    answered_slots,
    form_slots,
    save_finished_form,
)
from actions.risk import (
    SafetyQuestionMixin,
    ended_by_safety_answer,
    keep_interrupted,
    notice_after_save,
)
from actions.slips import NoticesSlipsAndCravings
from bot.journal import replies

FORM = "checkin_form"


class ValidateCheckinForm(SafetyQuestionMixin, NoticesSlipsAndCravings, form=FORM):
    """A slip or a craving told in an answer gets its own reply (actions/slips.py)."""

    def name(self) -> str:
        return "validate_checkin_form"


class ActionSaveCheckin(Action):
    def name(self) -> str:
        return "action_save_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if ended_by_safety_answer(tracker):
            return keep_interrupted(FORM, tracker, domain)
        values = answered_slots(tracker, form_slots(domain, FORM))
        _, events = save_finished_form(
            FORM, dispatcher, tracker, domain, replies.checkin_confirmation
        )
        notice_after_save(FORM, values, dispatcher, tracker)
        return events
