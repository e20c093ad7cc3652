"""Reflection after a ketamine session: the integration form and saving it."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import care_team_questions
from actions.forms import (
    answered_slots,
    asked_enough,
    form_slots,
    latest_intent,
    latest_text,
    move_on,
    save_finished_form,
    screen_answer,
    today,
)
from actions.risk import (
    SafetyQuestionMixin,
    ended_by_safety_answer,
    keep_interrupted,
    notice_after_save,
)
from actions.slips import NoticesSlipsAndCravings
from bot import patient_tokens
from bot.journal import replies
from bot.journal.parsing import (
    approximate_session_date,
    clean_answer,
    find_session_date,
    parse_session_date,
)

FORM = "integration_form"
#: Set by the greeting's offer to reflect on a recorded session (actions/session_calendar.py).
OFFERED_DATE_SLOT = "offered_session_date"

#: A session further back than this is not what this reflection is for.
MAX_SESSION_AGE_DAYS = 365

#: Intents whose message must never be taken as an answer (they have their own rules).
_NOT_AN_ANSWER = {"crisis", "stop", "contact_care_team", "leave_care_team_message"}

logger = logging.getLogger(__name__)


def offered_session_day(tracker: Tracker) -> date | None:
    """The session day the greeting's offer to reflect named, when the reflection starts
    from a yes to that offer (actions/session_calendar.py); a reflection asked for in other
    words later on asks for its own date."""
    if latest_intent(tracker) != "affirm":
        return None
    value = tracker.get_slot(OFFERED_DATE_SLOT)
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def session_date_problem(day: date, reference: date) -> str | None:
    """The response explaining why a session date cannot be used, or ``None`` if it can."""
    if day > reference:
        return "utter_date_in_future"
    if (reference - day).days > MAX_SESSION_AGE_DAYS:
        return "utter_date_too_old"
    return None


class ValidateIntegrationForm(SafetyQuestionMixin, NoticesSlipsAndCravings, form=FORM):
    """Validates the reflection; the session date may come from the message that started it.

    A mood of 2 or lower brings the direct safety question next (actions/risk.py); a slip or
    a craving told in an answer gets its own reply (actions/slips.py). Questions the care
    team wrote for the patient come last, while any wait (actions/care_team_questions.py).
    """

    def name(self) -> str:
        return "validate_integration_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        return care_team_questions.with_care_team_question(slots, tracker)

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        return [*events, *care_team_questions.unchecked_leftover(tracker)]

    async def validate_care_team_answer(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The answer to the care team's question, kept with it, or a skip."""
        return care_team_questions.check_answer(self, value, dispatcher, tracker)

    async def extract_session_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Custom mapping of ``session_date``.

        While the date question is open, the whole reply is the candidate (checked in
        :meth:`validate_session_date`). When the form starts, a clearly named date in the
        starting message ("I had my session yesterday") fills the slot, so the question
        is not asked; the person is told which date was noted.
        """
        if tracker.get_slot("session_date") is not None:
            return {}
        if latest_intent(tracker) in _NOT_AN_ANSWER:
            return {}
        text = latest_text(tracker)
        requested = tracker.get_slot("requested_slot")
        if tracker.active_loop_name == FORM and requested == "session_date":
            return {"session_date": clean_answer(text)}
        # No question asked yet: the form is starting (Rasa may already show it active).
        if requested is None:
            offered = offered_session_day(tracker)
            if offered is not None:
                dispatcher.utter_message(text=replies.session_date_noted(offered))
                return {"session_date": offered.isoformat(), OFFERED_DATE_SLOT: None}
            reference = today()
            found = find_session_date(text, reference)
            if found is not None and session_date_problem(found, reference) is None:
                dispatcher.utter_message(text=replies.session_date_noted(found))
                return {"session_date": found.isoformat()}
        return {}

    async def validate_session_date(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Stores the date as ISO text (``2026-11-26``), or :data:`SKIPPED`.

        A slip told instead ("i drank last night") is answered as a slip, and the date is asked
        again: the day in it is the slip's, not the session's.
        """
        if value is not None and tracker.get_slot("requested_slot") == "session_date":
            told = self.told_besides("session_date", dispatcher, tracker)
            if told is not None:
                return {"session_date": None, **told}
        screened = screen_answer("session_date", value, dispatcher, tracker)
        if screened.done:
            return screened.result("session_date")
        text = screened.value
        reference = today()
        day = parse_session_date(text, reference)
        if day is None:
            rough = approximate_session_date(text, reference)
            if rough is not None and session_date_problem(rough, reference) is None:
                dispatcher.utter_message(text=replies.session_date_approximate(rough))
                return {"session_date": rough.isoformat()}
            if asked_enough(tracker, "session_date"):
                return move_on("session_date", dispatcher)
            dispatcher.utter_message(response="utter_date_not_understood")
            return {"session_date": None}
        problem = session_date_problem(day, reference)
        if problem is not None:
            dispatcher.utter_message(response=problem)
            return {"session_date": None}
        return {"session_date": day.isoformat()}


class ActionSaveIntegration(Action):
    """Saves the finished reflection and gives back the intention and small step."""

    def name(self) -> str:
        return "action_save_integration"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if ended_by_safety_answer(tracker):
            return keep_interrupted(FORM, tracker, domain)
        values = answered_slots(tracker, form_slots(domain, FORM))
        _, events = save_finished_form(
            FORM, dispatcher, tracker, domain, replies.integration_summary
        )
        notice_after_save(FORM, values, dispatcher, tracker)
        try:
            if patient_tokens.offers_peer_support(tracker.sender_id):
                dispatcher.utter_message(response="utter_peer_support_line")
        except Exception as error:  # noqa: BLE001 - an offer must never break the save
            logger.error(
                "Reading the clinic's peer-support setting failed: %s", type(error).__name__
            )
        return events
