"""Urge surfing: a guided exercise of watching a craving rise and fall (Bowen et al., 2014)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    answered_slots,
    form_slots,
    log_journal_failure,
    reset_form_events,
    save_urge_surfing,
    tell_not_saved,
)
from actions.risk import notice_after_save
from actions.slips import NoticesSlipsAndCravings
from bot.journal import replies
from bot.journal.drafts import rating_value

FORM = "urge_surfing_form"


class ValidateUrgeSurfingForm(NoticesSlipsAndCravings, form=FORM):
    """A slip told in an answer is recorded as a slip (actions/slips.py)."""

    def name(self) -> str:
        return "validate_urge_surfing_form"


class ActionFinishUrgeSurfing(Action):
    """Says how the urge moved, and keeps the exercise with the craving it belongs to.

    The four answers go into the ``urge_surfing`` field of the trigger entry saved just
    before (slot ``last_trigger_entry``), or into a new craving entry when the exercise
    was started on its own. The link is then cleared, so a later exercise gets its own.
    """

    def name(self) -> str:
        return "action_finish_urge_surfing"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        values = answered_slots(tracker, form_slots(domain, FORM))
        try:
            entry = save_urge_surfing(
                tracker.sender_id, values, tracker.get_slot("last_trigger_entry")
            )
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Saving urge surfing", error)
            tell_not_saved(dispatcher, values)
            return []
        before = rating_value(values.get("surf_before"))
        after = rating_value(values.get("surf_after"))
        dispatcher.utter_message(text=replies.urge_surfing_summary(entry, before, after))
        notice_after_save(FORM, values, dispatcher, tracker)
        return reset_form_events(domain, FORM)
