"""Conversations as the dashboard reads them from Rasa's tracker store, the ``events`` table.

Each event's ``data`` is sealed (:mod:`bot.encryption`; rows from before encryption are read
as they are; a row that cannot be opened is an error, not a silent gap in what the therapist
reads). Rasa creates and owns that table (see :data:`bot.storage.models.FOREIGN_TABLES`;
declared once in :mod:`bot.storage.rasa_events`), and it is only ever read, here. A database
where Rasa never ran has no such table: then there are simply no transcripts.

The conversations are split by Rasa's sessions, filtered like the rest of the record, and the
message that raised a risk flag is found in them. A button the patient pressed reads as its
title, never as the payload the widget sent (:mod:`.button_titles`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot import encryption
from bot.records.button_titles import offered_buttons, title_of
from bot.records.views import Conversation, Filters, Message, Segment, search_segments
from bot.storage import db
from bot.storage.models import Patient, RiskFlag
from bot.storage.rasa_events import EVENTS, events_exist

#: Event types that carry what was said.
_SPOKEN = ("user", "bot")
#: What marks the start of a conversation in the tracker store: Rasa runs
#: ``action_session_start`` and then logs ``session_started``.
_SESSION_START_ACTION = "action_session_start"
_SESSION_STARTED = "session_started"


def read_conversations(sender_id: str) -> list[Conversation]:
    """All of one patient's conversations, oldest first, without filters: what the patient's
    own data export gives them. ``[]`` where Rasa never ran (no ``events`` table)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        if not events_exist(session):
            return []
        return read_conversations_in(session, sender_id)


def read_conversations_in(session: Session, sender_id: str) -> list[Conversation]:
    """The patient's conversations from the tracker store, oldest first, split by sessions."""
    rows = session.execute(
        select(
            EVENTS.c.id,
            EVENTS.c.type_name,
            EVENTS.c.timestamp,
            EVENTS.c.action_name,
            EVENTS.c.data,
        )
        .where(
            EVENTS.c.sender_id == sender_id,
            or_(
                EVENTS.c.type_name.in_((*_SPOKEN, _SESSION_STARTED)),
                and_(
                    EVENTS.c.type_name == "action",
                    EVENTS.c.action_name == _SESSION_START_ACTION,
                ),
            ),
        )
        .order_by(EVENTS.c.id)
    ).all()
    conversations: list[list[Message]] = [[]]
    new_session = False
    #: The buttons of the assistant's messages since the patient last spoke, by payload.
    offered: dict[str, str] = {}
    for event_id, type_name, timestamp, _action, raw in rows:
        if type_name in (_SESSION_STARTED, "action"):
            new_session = True
            continue
        message = _message(event_id, type_name, timestamp, raw, offered)
        if message is None:
            continue
        if new_session and conversations[-1]:
            conversations.append([])
        new_session = False
        conversations[-1].append(message)
    return [
        Conversation(
            number=number,
            started_at=messages[0].at,
            ended_at=messages[-1].at,
            messages=tuple(messages),
        )
        for number, messages in enumerate((m for m in conversations if m), start=1)
    ]


def _message(
    event_id: int,
    type_name: str,
    timestamp: float | None,
    raw: str | None,
    offered: dict[str, str],
) -> Message | None:
    """One message from its event; ``offered`` (the buttons just shown, by payload) is updated
    by the assistant's messages and read, then emptied, by the patient's."""
    try:
        data = json.loads(encryption.open_value(raw) if raw else "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    text = data.get("text")
    options: list[str] = []
    pressed = False
    extra = data.get("data")
    if type_name == "bot" and isinstance(extra, dict):
        for key in ("buttons", "quick_replies"):
            for button in extra.get(key) or ():
                if isinstance(button, dict) and isinstance(button.get("title"), str):
                    options.append(button["title"])
            offered.update(offered_buttons(extra.get(key) or ()))
    elif type_name == "user" and isinstance(text, str):
        title = title_of(text, offered)
        offered.clear()
        if title is not None:
            text, pressed = title, True
    if not isinstance(text, str) or not text:
        if not options:
            return None
        text = ""
    at = _moment(timestamp if timestamp is not None else data.get("timestamp"))
    if at is None:
        return None
    return Message(
        event_id=event_id,
        at=at,
        speaker="patient" if type_name == "user" else "assistant",
        text=text,
        segments=(Segment(text),),
        options=tuple(options),
        pressed=pressed,
    )


def find_flagged(flag: RiskFlag, conversations: Sequence[Conversation]) -> Message | None:
    """The patient's message that raised ``flag``: same text, the latest one before the flag.

    The action that records a flag runs a moment after the message, so a message later
    than the flag (beyond a minute of clock skew between processes) is not the one.
    """
    if flag.erased_at is not None:  # its message is gone; never match an empty one
        return None
    limit = flag.created_at + timedelta(minutes=1)
    found: Message | None = None
    for conversation in conversations:
        for message in conversation.messages:
            if message.speaker != "patient" or message.at > limit:
                continue
            if message.text == flag.message or message.text.strip() == flag.message.strip():
                found = message
    return found


def filter_conversations(
    conversations: Sequence[Conversation], filters: Filters, flagged: set[int]
) -> list[Conversation]:
    """The conversations the filters show, ``query`` marked and the ``flagged`` event ids
    marked as the messages that raised a flag."""
    shown = []
    for conversation in conversations:
        messages = []
        any_match = False
        in_period = False
        for message in conversation.messages:
            segments, found = search_segments(message.text, filters.query)
            any_match = any_match or found
            in_period = in_period or filters.in_period(message.at)
            messages.append(
                Message(
                    event_id=message.event_id,
                    at=message.at,
                    speaker=message.speaker,
                    text=message.text,
                    segments=segments,
                    options=message.options,
                    matches=found,
                    flagged=message.event_id in flagged,
                    pressed=message.pressed,
                )
            )
        if not in_period or (filters.query and not any_match):
            continue
        shown.append(
            Conversation(
                number=conversation.number,
                started_at=conversation.started_at,
                ended_at=conversation.ended_at,
                messages=tuple(messages),
            )
        )
    return shown


def last_spoken(session: Session, clinic_id: int) -> dict[str, datetime | None]:
    """When each of the clinic's patients last said or was told something, by sender id;
    ``{}`` where Rasa never ran (no ``events`` table)."""
    if not events_exist(session):
        return {}
    return {
        sender_id: _moment(latest)
        for sender_id, latest in session.execute(
            select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp))
            .join(Patient, Patient.sender_id == EVENTS.c.sender_id)
            .where(Patient.clinic_id == clinic_id, EVENTS.c.type_name.in_(_SPOKEN))
            .group_by(EVENTS.c.sender_id)
        ).all()
    }


def _moment(timestamp: float | None) -> datetime | None:
    if timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(float(timestamp), UTC)
    except (OverflowError, OSError, ValueError):
        return None
