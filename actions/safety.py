"""Keeping a record when someone writes something that sounds like a crisis.

The crisis reply itself is the static ``utter_crisis`` response, sent by a rule before
this action runs, so it reaches the person even when the action server or the database is
down. This action only records: a risk flag for the care team, and — if a journal form
was open — the answers written so far, so nothing the person wrote is lost.
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
from bot import journal
from bot.parsing import clean_answer

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


class ActionRecordRiskFlag(Action):
    """Records a risk flag and keeps an open form's answers as an "interrupted" entry.

    Sends nothing: the crisis reply has already gone out. Never raises — a failure is
    logged (without the message) and the conversation goes on.
    """

    def name(self) -> str:
        return "action_record_risk_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            category, source = detection_details(tracker.latest_message)
            journal.record_risk_flag(
                tracker.sender_id,
                message=clean_answer(latest_text(tracker)),
                category=category,
                source=source,
            )
        except Exception as error:  # noqa: BLE001 - recording must never break the crisis turn
            logger.error("Recording a risk flag failed: %s", type(error).__name__)
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
