"""The reminder, in a long conversation, that the assistant is automated and not a person.

The assistant says what it is at the start and when asked. Someone who has been talking to it
for hours can forget, so after ``every_hours`` (``bot/content/disclosure.yml``) of an ongoing
conversation the next ordinary reply ends with a one-line reminder - added to a reply, never
sent on its own, and never in a crisis turn, where nothing may stand between the patient and
the numbers to call.

"Ongoing" is Rasa's conversation session (it ends after the domain's
``session_expiration_time`` of silence). The hours are measured from the events' own
timestamps - since the session started or the assistant last said what it is (a disclosing
response, or a reply that carried the reminder, marked in its metadata) - so the reminder
comes when it should after a restart of the server too: the tracker store keeps the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from rasa.shared.core.events import BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.content import FOLDER, load_mapping

CONTENT_FILE = FOLDER / "disclosure.yml"
#: The key, in a reply's metadata (Rasa keeps a response's extra keys there), that marks a
#: reply that carried the reminder.
MARK = "disclosure"
MARK_VALUE = "reminder"


@cache
def _content() -> dict[str, Any]:
    return load_mapping(CONTENT_FILE)


def reminder_text() -> str:
    return str(_content()["reminder"]).strip()


def interval_seconds() -> float:
    return float(_content()["every_hours"]) * 3600.0


def _is_crisis_response(name: str | None) -> bool:
    return bool(name) and any(
        name == prefix or name.startswith(prefix) for prefix in _content()["crisis_responses"]
    )


def _utter_action(event: BotUttered) -> str | None:
    name = (event.metadata or {}).get("utter_action")
    return name if isinstance(name, str) else None


def _discloses(event: BotUttered) -> bool:
    return (event.metadata or {}).get(MARK) == MARK_VALUE or _utter_action(event) in _content()[
        "disclosing_responses"
    ]


def _this_session(events: Iterable[Event]) -> list[Event]:
    """The events since the latest session start (all of them if there is none)."""
    found: list[Event] = []
    for event in events:
        if isinstance(event, SessionStarted):
            found = []
        found.append(event)
    return found


def _crisis_turn(events: list[Event]) -> bool:
    """Whether the turn under way answers a crisis: its message was flagged by the crisis
    detector, or a crisis reply has gone out since it."""
    for event in reversed(events):
        if isinstance(event, BotUttered) and _is_crisis_response(_utter_action(event)):
            return True
        if isinstance(event, UserUttered):
            return bool((event.parse_data or {}).get("crisis_detection"))
    return False


def reminder_due(tracker: DialogueStateTracker, response: str) -> bool:
    """Whether the reply ``response`` should end with the reminder."""
    if response in _content()["disclosing_responses"] or _is_crisis_response(response):
        return False
    events = _this_session(tracker.events)
    if not events or _crisis_turn(events):
        return False
    since = events[0].timestamp
    for event in events:
        if isinstance(event, BotUttered) and _discloses(event):
            since = event.timestamp
    now = max(event.timestamp for event in events)
    return now - since >= interval_seconds()


def with_reminder(message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` (a generated response) with the reminder after its text, and marked."""
    reminded = dict(message)
    reminded["text"] = f"{str(message['text']).rstrip()}\n\n{reminder_text()}"
    reminded[MARK] = MARK_VALUE
    return reminded


def add_reminder_if_due(
    message: dict[str, Any] | None, tracker: DialogueStateTracker, response: str
) -> dict[str, Any] | None:
    """The generated ``message`` of ``response``, with the reminder if it is due and the
    message has text to add it to."""
    if not message or not isinstance(message.get("text"), str) or not message["text"].strip():
        return message
    return with_reminder(message) if reminder_due(tracker, response) else message
