"""Cravings, triggers and slips: the trigger reflection form and saving it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    JournalFormValidation,
    answered_slots,
    form_slots,
    latest_intent,
    latest_text,
    save_finished_form,
    text_answer,
    validate_rating_answer,
    validate_text_answer,
)
from actions.risk import (
    LAPSE_REPORT_SLOT,
    note_slip_after_session,
    notice_after_save,
    notice_ketamine_and_bladder,
)
from bot import journal_text, risk_checks
from bot.parsing import clean_answer
from bot.reply_reading import reports_use

FORM = "trigger_form"


class ValidateTriggerForm(JournalFormValidation):
    """Validates the reflection. Trigger types and HALT answers are free text, kept verbatim;
    the categories are read from them when saving, so an answer naming no category
    ("my boss called") is still accepted.

    A craving reflection in which the person says they drank or used ("i didnt though. i
    drank") becomes a slip reflection there and then (:func:`notice_slip`): the no-shame
    reply, the harm-reduction note for opioids and sedatives, and the entry saved as a slip.
    """

    def name(self) -> str:
        return "validate_trigger_form"

    validate_halt = text_answer("halt")

    async def validate_trigger_craving(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        slip = notice_slip("trigger_craving", dispatcher, tracker)
        if slip:
            return {"trigger_craving": None, **slip}
        return validate_rating_answer("trigger_craving", value, dispatcher, tracker)

    async def validate_trigger_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _answer_noticing_slip("trigger_type", value, dispatcher, tracker)

    async def validate_trigger_context(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _answer_noticing_slip("trigger_context", value, dispatcher, tracker)

    async def validate_coping_response(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _answer_noticing_slip("coping_response", value, dispatcher, tracker)


def notice_slip(slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Turn a craving reflection into a slip reflection if the reply just given tells a slip.

    Returns the slots to set (empty if nothing changes). Only the reply to the question being
    asked counts, and only once: a reflection that is already about a slip stays as it is.
    """
    if tracker.get_slot("requested_slot") != slot or tracker.get_slot("trigger_kind") == "lapse":
        return {}
    text = latest_text(tracker)
    if latest_intent(tracker) != "report_lapse" and not reports_use(text):
        return {}
    dispatcher.utter_message(response="utter_lapse_told_in_form")
    if risk_checks.read_slip(text).needs_safety_check:
        dispatcher.utter_message(response="utter_lapse_harm_reduction")
    notice_ketamine_and_bladder([text], dispatcher, tracker, source="lapse_report", in_a_slip=True)
    note_slip_after_session(dispatcher, tracker)
    return {"trigger_kind": "lapse", LAPSE_REPORT_SLOT: clean_answer(text)}


def _answer_noticing_slip(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """A free-text answer, kept; a slip told in it also makes the reflection a slip's."""
    slip = notice_slip(slot, dispatcher, tracker)
    return {**validate_text_answer(slot, value, dispatcher, tracker), **slip}


class ActionSaveTrigger(Action):
    """Saves the reflection and remembers its number, so an urge-surfing exercise that
    follows can be added to the same entry."""

    def name(self) -> str:
        return "action_save_trigger"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        values = answered_slots(tracker, form_slots(domain, FORM))
        entry, events = save_finished_form(
            FORM, dispatcher, tracker, domain, journal_text.trigger_summary
        )
        # A high craving gets an "info" flag here; the coping offer follows by rule.
        notice_after_save(FORM, values, dispatcher, tracker)
        if entry is None:
            return events
        return [*events, SlotSet("last_trigger_entry", float(entry.number))]
