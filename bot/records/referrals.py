"""How often a clinic's chat met a crisis in a month: crisis replies and risk flags, counted.

For the clinic's safety reviews and the reports a service owes its commissioners; it holds
counts only - no patient id, no message, no time finer than the month - so it can be shared
beyond the care team. A count can still be small (one suicide reply in a small clinic's
month); whoever shares the report decides whether small counts may identify someone.

Where the counts come from:

- **Crisis replies** are the assistant's messages in Rasa's tracker store (``events``, type
  ``bot``) whose ``metadata.utter_action`` is a ``utter_crisis_<kind>`` response (the kind is
  the reply's, domain.yml's), or ``utter_ask_safety`` (the direct safety question, counted as
  kind ``ask``). Rasa 3.6 writes ``utter_action`` into every ``BotUttered`` it makes from a
  named response: the crisis policy's replies and those an action sends with
  ``dispatcher.utter_message(response=...)``, inside forms too (``tests/rasa/chat/
  test_crisis_reply_marker.py`` checks it on the real tracker store). The event's data is sealed,
  so each candidate row is opened; the text is never read. The events of patients whose data
  was erased are gone, and so are their replies from these counts; their flags stay.
- **Risk flags** are the ``risk_flags`` rows created in the month, by category and level, with
  the number of messages each flag stands for (a flag joins a patient's messages of one
  category close together).

A month is a calendar month in UTC.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import encryption
from bot.safety import crisis_replies
from bot.storage import db
from bot.storage.models import RISK_LEVELS, Clinic, Patient, RiskFlag
from bot.storage.rasa_events import EVENTS, events_exist

#: The direct question "are you having thoughts of ending your life?", counted as kind ``ask``.
SAFETY_QUESTION = "utter_ask_safety"
ASK = "ask"
#: The level of each reply kind: ``recent`` for the reply to a recent overdose or attempt,
#: ``ask`` for the direct question, ``urgent`` for every other crisis reply.
_REPLY_LEVELS = {"recent": "recent", ASK: "ask"}
#: The category of a flag recorded without one (the classifier's guess alone).
UNSPECIFIED = "unspecified"


class ReportError(ValueError):
    """A report that cannot be made as asked (unknown clinic, malformed month)."""


@dataclass(frozen=True)
class Row:
    """One line of the report: what was counted, its level, how many."""

    kind: str
    level: str
    count: int
    #: For flags: the messages the flags stand for (``count`` for replies).
    messages: int


@dataclass(frozen=True)
class ReferralReport:
    clinic: str
    #: The clinic's row id, for the audit log; not part of the report's output.
    clinic_id: int
    month: str
    crisis_replies: tuple[Row, ...]
    risk_flags: tuple[Row, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "clinic": self.clinic,
            "month": self.month,
            "crisis_replies": [
                {"kind": r.kind, "level": r.level, "count": r.count} for r in self.crisis_replies
            ],
            "risk_flags": [
                {"category": r.kind, "level": r.level, "count": r.count, "messages": r.messages}
                for r in self.risk_flags
            ],
        }


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``"2026-11"`` → the first moment of November 2026 and of December 2026, in UTC."""
    try:
        start = datetime.strptime(month.strip(), "%Y-%m").replace(tzinfo=UTC)
    except ValueError as error:
        raise ReportError(f"{month!r} is not a month like 2026-11.") from error
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def reply_kind(utter_action: object) -> str | None:
    """The kind a bot message's ``utter_action`` counts as, or None if it is no crisis reply."""
    if not isinstance(utter_action, str):
        return None
    if utter_action == SAFETY_QUESTION:
        return ASK
    return crisis_replies.kind_of(utter_action)


def _utter_action(raw: str | None) -> object:
    """The ``metadata.utter_action`` of a stored bot event (sealed JSON), or None."""
    if not raw:
        return None
    try:
        data = json.loads(encryption.open_value(raw))
    except (TypeError, ValueError):
        return None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    return metadata.get("utter_action") if isinstance(metadata, dict) else None


def _reply_rows(
    session: Session, clinic_id: int, start: datetime, end: datetime
) -> tuple[Row, ...]:
    if not events_exist(session):
        return ()
    senders = select(Patient.sender_id).where(Patient.clinic_id == clinic_id)
    rows = session.execute(
        select(EVENTS.c.data).where(
            EVENTS.c.type_name == "bot",
            EVENTS.c.sender_id.in_(senders),
            EVENTS.c.timestamp >= start.timestamp(),
            EVENTS.c.timestamp < end.timestamp(),
        )
    ).scalars()
    counts = Counter(kind for raw in rows if (kind := reply_kind(_utter_action(raw))))
    return tuple(
        Row(kind, _REPLY_LEVELS.get(kind, "urgent"), count, count)
        for kind, count in sorted(counts.items())
    )


def _flag_rows(session: Session, clinic_id: int, start: datetime, end: datetime) -> tuple[Row, ...]:
    found = session.execute(
        select(
            RiskFlag.category,
            RiskFlag.level,
            func.count(RiskFlag.id),
            func.coalesce(func.sum(RiskFlag.message_count), 0),
        )
        .join(Patient, Patient.id == RiskFlag.patient_id)
        .where(
            Patient.clinic_id == clinic_id,
            RiskFlag.created_at >= start,
            RiskFlag.created_at < end,
        )
        .group_by(RiskFlag.category, RiskFlag.level)
    ).all()
    rows = [
        Row(category or UNSPECIFIED, level, int(count), int(messages))
        for category, level, count, messages in found
    ]
    order = {level: rank for rank, level in enumerate(RISK_LEVELS)}
    return tuple(sorted(rows, key=lambda row: (order.get(row.level, len(order)), row.kind)))


def referral_report(clinic_slug: str, month: str) -> ReferralReport:
    """The counts of ``clinic_slug`` for ``month`` (``YYYY-MM``); :class:`ReportError` if the
    clinic does not exist or the month is malformed."""
    start, end = month_bounds(month)
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == clinic_slug))
        if clinic_id is None:
            raise ReportError(f"No clinic {clinic_slug!r} in this database.")
        return ReferralReport(
            clinic=clinic_slug,
            clinic_id=clinic_id,
            month=start.strftime("%Y-%m"),
            crisis_replies=_reply_rows(session, clinic_id, start, end),
            risk_flags=_flag_rows(session, clinic_id, start, end),
        )
