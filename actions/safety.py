"""Keeping a record when someone writes something that sounds like a crisis.

The crisis reply itself is a static ``utter_crisis_<kind>`` response, sent by the crisis
policy before this action runs, so it reaches the person even when the action server or the
database is down. This action records a risk flag for the care team (urgent, or elevated
after ``utter_crisis_recent``), adds one line from the patient's safety plan if they have one,
and - if a journal form was open - keeps the answers written so far, so nothing is lost.

The reply is never limited, but the flags are: a message of the same category as the patient's
open flag, soon after its latest one, is added to that flag rather than raising another
(:func:`bot.journal.entries.record_risk_flag`), so a flood of crisis messages stays one flag and one
notice while a more urgent message still raises its own.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import (
    FORM_NAMES,
    answered_slots,
    form_slots,
    latest_text,
    reset_form_events,
    save_form_answers,
)
from bot.journal import entries as journal
from bot.journal import safety_plan
from bot.journal.parsing import clean_answer

logger = logging.getLogger(__name__)

#: The flag's source when the message carries no detector verdict (the classifier chose crisis).
DEFAULT_SOURCE = "classifier"


def detection_details(latest_message: dict[str, Any]) -> tuple[str | None, str]:
    """Category and source from the crisis detector's verdict on the message, if any."""
    detection = latest_message.get("crisis_detection")
    if not isinstance(detection, dict):
        return None, DEFAULT_SOURCE
    category = detection.get("category")
    source = detection.get("source")
    return (
        str(category) if category else None,
        str(source) if source else DEFAULT_SOURCE,
    )


#: The crisis reply that means "recent event": its flag is elevated, every other is urgent.
RECENT_REPLY = "utter_crisis_recent"
ASK_RESPONSE = "utter_ask_safety"
CRISIS_PREFIX = "utter_crisis_"


def _this_turn(events: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The actions run since the latest user message, and the user messages before it."""
    actions: list[str] = []
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user":
            earlier = [e for e in events[:index] if e.get("event") == "user"]
            return actions[::-1], earlier
        if event.get("event") == "action" and event.get("name"):
            actions.append(str(event["name"]))
    return actions[::-1], []


def flag_details(tracker: Tracker) -> tuple[str, str, str | None, str]:
    """``(message, level, category, source)`` for the flag of this turn.

    The level follows the reply the crisis policy chose. An answer to the direct safety
    question ("yes", "not sure") is flagged with the message that raised the question.
    """
    actions, earlier = _this_turn(list(tracker.events))
    reply = next((a for a in actions if a.startswith(CRISIS_PREFIX)), None)
    level = "elevated" if reply == RECENT_REPLY else "urgent"
    category, source = detection_details(tracker.latest_message)
    message = clean_answer(latest_text(tracker))
    asked = next(
        (e for e in reversed(earlier) if (e.get("parse_data") or {}).get("crisis_detection")),
        None,
    )
    if (
        category is None
        and (tracker.latest_message.get("intent") or {}).get("name")
        in (
            "affirm",
            "unsure",
        )
        and asked is not None
    ):
        detection = asked["parse_data"]["crisis_detection"]
        category = detection.get("category") or "suicide"
        source = "safety_question"
        message = f"{clean_answer(asked.get('text') or '')} (asked directly: {message})"
    return message, level, category, source


class ActionRecordRiskFlag(Action):
    """Records a risk flag and keeps an open form's answers as an "interrupted" entry.

    Sends at most one line, from the patient's safety plan: the crisis reply has gone out. Never raises — a failure is
    logged (without the message) and the conversation goes on.
    """

    def name(self) -> str:
        return "action_record_risk_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            message, level, category, source = flag_details(tracker)
            journal.record_risk_flag(
                tracker.sender_id, message=message, category=category, source=source, level=level
            )
        except Exception as error:  # noqa: BLE001 - recording must never break the crisis turn
            logger.error("Recording a risk flag failed: %s", type(error).__name__)
        try:
            reminder = safety_plan.crisis_reminder(tracker.sender_id)
            if reminder:
                dispatcher.utter_message(text=reminder)
        except Exception as error:  # noqa: BLE001 - as above
            logger.error("Reading the safety plan failed: %s", type(error).__name__)
        try:
            return self._close_form(tracker, domain)
        except Exception as error:  # noqa: BLE001 - as above
            logger.error("Saving an interrupted form failed: %s", type(error).__name__)
            return []

    @staticmethod
    def _close_form(tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Save an open form's answers as an "interrupted" entry, then clear its slots.

        The form itself is ended by ``action_deactivate_loop``, which the crisis policy
        and rules run next. If saving fails the answers stay in the slots (and in the
        conversation record), and starting the form again offers them back.
        """
        form = tracker.active_loop_name
        if form not in FORM_NAMES:
            return []
        values = answered_slots(tracker, form_slots(domain, form))
        if values:
            save_form_answers(tracker.sender_id, form, values, tracker, "interrupted")
        return reset_form_events(domain, form, clear_paused=False)
