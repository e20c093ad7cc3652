"""Patients' records as the therapist dashboard reads them, always within one clinic.

Every function takes the viewer's clinic and finds nothing outside it: a patient of another
clinic is ``None`` here exactly like a patient who does not exist, so the pages built on
this module cannot tell the two apart either.

The conversations come from Rasa's tracker store, the ``events`` table in the same
database, where each event's ``data`` is sealed (:mod:`bot.encryption`; rows from before
encryption are read as they are; a row that cannot be opened is an error, not a silent gap
in what the therapist reads). Rasa creates and owns that table (see
:data:`bot.storage.models.FOREIGN_TABLES`; declared once in :mod:`bot.storage.rasa_events`),
and it is only ever read here. A database where Rasa never ran has no such table: then there
are simply no transcripts.

Everything returned is a frozen dataclass detached from the database session. Patient text
is returned as plain strings; turning it into HTML is the templates' job (autoescaped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot import encryption, safety_plan
from bot.journal import FIELD_KEYS, URGE_SURFING_KEYS, entry_view, export_patient
from bot.journal_text import ANSWER_LABELS, entry_title
from bot.lapse_details import (
    LAPSE_DATE_FIELD,
    LAPSE_WHEN_FIELD,
    SUBSTANCES_FIELD,
    known_substances,
    lapse_date_of,
    substance_label,
)
from bot.storage import db
from bot.storage.models import KINDS, RISK_LEVELS, Clinic, JournalEntry, Patient, RiskFlag, utcnow
from bot.storage.rasa_events import EVENTS, events_exist

__all__ = [
    "CONVERSATION",
    "FILTER_KINDS",
    "FORMATS",
    "ChartLapse",
    "ChartPoint",
    "Conversation",
    "Entry",
    "Field",
    "Filters",
    "Flag",
    "FlagMessage",
    "Message",
    "PatientRecord",
    "PatientRef",
    "PatientSummary",
    "PlanStep",
    "SafetyPlan",
    "Segment",
    "acknowledge_flag",
    "export_data",
    "find_patient",
    "flag_of",
    "format_age",
    "format_day",
    "format_time",
    "list_patients",
    "load_record",
]

#: The kind filter's name for the conversation transcripts, next to the journal's kinds.
CONVERSATION = "conversation"
FILTER_KINDS: tuple[str, ...] = (*KINDS, CONVERSATION)
KIND_LABELS: dict[str, str] = {
    "integration": "Session reflections",
    "trigger": "Cravings and triggers",
    "checkin": "Check-ins",
    "safety_plan": "Safety plans",
    CONVERSATION: "Conversations",
}
LEVEL_LABELS: dict[str, str] = {
    "urgent": "Urgent",
    "elevated": "Elevated",
    "info": "Info",
    "request": "Message for the care team",
}
#: Longest search text taken from the query string; longer input is cut, not refused.
MAX_QUERY = 200
MAX_SENDER_ID = 255

#: Event types that carry what was said.
_SPOKEN = ("user", "bot")
#: What marks the start of a conversation in the tracker store: Rasa runs
#: ``action_session_start`` and then logs ``session_started``.
_SESSION_START_ACTION = "action_session_start"
_SESSION_STARTED = "session_started"

# Labels for field keys the journal's wording module does not name, and the order in which
# an entry's fields are shown: the order the questions are asked.
_EXTRA_LABELS: dict[str, str] = {
    "trigger_kind": "Kind",
    "trigger_types": "Trigger types",
    "trigger_types_text": "What set it off",
    "halt": "HALT states",
    "halt_text": "HALT check, in their words",
    "urge_surfing": "Urge surfing",
    SUBSTANCES_FIELD: "Substances",
    LAPSE_DATE_FIELD: "Day of the slip",
    LAPSE_WHEN_FIELD: "When, in their words",
}
_TRIGGER_KIND_LABELS = {"craving": "Craving", "lapse": "Slip", "trigger": "Trigger"}


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class PatientRef:
    """A patient known to be in the viewer's clinic (the result of the scope check)."""

    id: int
    sender_id: str
    clinic_id: int
    clinic_slug: str
    clinic_name: str
    created_at: datetime


@dataclass(frozen=True)
class PatientSummary:
    """One line of the patients list."""

    sender_id: str
    created_at: datetime
    last_activity: datetime | None
    latest_mood: int | None
    latest_mood_at: datetime | None
    latest_craving: int | None
    latest_craving_at: datetime | None
    open_flags: int
    entries: int
    #: Open flags per level, most urgent first, levels without any left out.
    open_levels: tuple[tuple[str, int], ...] = ()

    @property
    def highest_open_level(self) -> str | None:
        return self.open_levels[0][0] if self.open_levels else None


@dataclass(frozen=True)
class Segment:
    """A piece of text, and whether it is what the therapist searched for."""

    text: str
    match: bool = False


@dataclass(frozen=True)
class Field:
    """One answer of a journal entry: a label, the text, or sub-answers (urge surfing)."""

    key: str
    label: str
    text: str = ""
    segments: tuple[Segment, ...] = ()
    parts: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Entry:
    """A journal entry with every structured field, labelled, in question order."""

    number: int
    kind: str
    title: str
    status: str
    created_at: datetime
    session_date: date | None
    mood: int | None
    craving: int | None
    fields: tuple[Field, ...]
    matches: bool = False


@dataclass(frozen=True)
class FlagMessage:
    """One of the later messages a flag stands for: when it came and what the patient wrote."""

    at: datetime | None
    text: str


@dataclass(frozen=True)
class Flag:
    """A risk flag and the message that raised it; ``message_anchor`` points at that message
    in the transcript when it can be found there."""

    id: int
    created_at: datetime
    category: str | None
    source: str
    message: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    message_anchor: str | None = None
    level: str = "urgent"
    #: When the patient erased their data: the message is gone, and the flag is kept only
    #: until the care team has been told of it (notified, or acknowledged here).
    erased_at: datetime | None = None
    #: How many messages the flag stands for (see :func:`bot.journal.record_risk_flag`).
    message_count: int = 1
    #: When the latest of them came.
    last_message_at: datetime | None = None
    #: The latest few messages after the first (``message``), oldest first.
    latest_messages: tuple[FlagMessage, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def more_messages(self) -> int:
        """Messages of this flag that are neither the first nor among the latest shown."""
        return max(self.message_count - 1 - len(self.latest_messages), 0)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level.capitalize())

    @property
    def category_label(self) -> str:
        if not self.category:
            return "Crisis"
        return self.category.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Message:
    """One thing said in a conversation: by the patient or by the assistant."""

    event_id: int
    at: datetime
    speaker: str  # "patient" or "assistant"
    text: str
    segments: tuple[Segment, ...]
    options: tuple[str, ...] = ()
    matches: bool = False
    flagged: bool = False

    @property
    def anchor(self) -> str:
        return f"message-{self.event_id}"


@dataclass(frozen=True)
class Conversation:
    """The messages of one Rasa session, oldest first."""

    number: int
    started_at: datetime
    ended_at: datetime
    messages: tuple[Message, ...]

    @property
    def anchor(self) -> str:
        return f"conversation-{self.number}"


@dataclass(frozen=True)
class ChartPoint:
    """A rating on the chart: when, mood and/or craving, and which entry it came from."""

    at: datetime
    mood: int | None
    craving: int | None
    label: str


@dataclass(frozen=True)
class ChartLapse:
    """A slip on the chart: its day, what it was on, and which entry it came from.

    ``day`` is the day the patient said the slip happened; when they did not say,
    ``dated_by_entry`` is true and the day is the one the entry was written (UTC).
    ``substances`` are the labels of known substances only ("alcohol", "MDMA"), so the chart
    carries no patient text; ``when_text`` is the patient's own words and must be escaped.
    """

    day: date
    number: int
    label: str
    substances: tuple[str, ...] = ()
    when_text: str | None = None
    dated_by_entry: bool = False

    @property
    def substances_text(self) -> str:
        return ", ".join(self.substances) if self.substances else "substance not named"


@dataclass(frozen=True)
class ChartData:
    """What the mood and craving chart shows; the period is inclusive, in UTC days."""

    points: tuple[ChartPoint, ...]
    session_dates: tuple[date, ...]
    start: date | None
    end: date | None
    #: Slips in the period, oldest first.
    lapses: tuple[ChartLapse, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.points and not self.session_dates and not self.lapses


@dataclass(frozen=True)
class Filters:
    """Search text, kinds and an inclusive date range (UTC days), as given in the URL.

    Built with :meth:`parse`, which never fails: what cannot be understood is left out and
    described in ``problems`` so the page can say so.
    """

    query: str = ""
    kinds: frozenset[str] = frozenset()
    start: date | None = None
    end: date | None = None
    problems: tuple[str, ...] = ()
    #: Risk-flag levels to list; empty lists every level.
    levels: frozenset[str] = frozenset()

    @classmethod
    def parse(
        cls,
        *,
        query: str | None = None,
        kinds: Iterable[str] = (),
        start: str | None = None,
        end: str | None = None,
        levels: Iterable[str] = (),
    ) -> Filters:
        problems: list[str] = []
        kinds = list(kinds)
        levels = [level for level in levels if level]
        chosen_levels = frozenset(level for level in levels if level in RISK_LEVELS)
        if chosen_levels == frozenset(RISK_LEVELS):
            chosen_levels = frozenset()
        if any(level not in RISK_LEVELS for level in levels):
            problems.append("An unknown risk level was left out of the filter.")
        text = (query or "").strip()[:MAX_QUERY]
        chosen = frozenset(kind for kind in kinds if kind in FILTER_KINDS)
        if chosen == frozenset(FILTER_KINDS):
            chosen = frozenset()
        if any(kind not in FILTER_KINDS for kind in kinds):
            problems.append("An unknown kind was left out of the filter.")
        first = _parse_day(start, "From", problems)
        last = _parse_day(end, "To", problems)
        if first is not None and last is not None and first > last:
            first, last = last, first
            problems.append("The dates were the wrong way round and have been swapped.")
        return cls(
            query=text,
            kinds=chosen,
            start=first,
            end=last,
            problems=tuple(problems),
            levels=chosen_levels,
        )

    @property
    def active(self) -> bool:
        return bool(self.query or self.kinds or self.start or self.end or self.levels)

    def shows_level(self, level: str) -> bool:
        return not self.levels or level in self.levels

    def shows(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def in_period(self, moment: datetime) -> bool:
        day = moment.astimezone(UTC).date()
        if self.start is not None and day < self.start:
            return False
        return self.end is None or day <= self.end

    def audit_detail(self) -> dict[str, Any]:
        """What the audit log keeps about the filters: which ones, never the search text."""
        detail: dict[str, Any] = {}
        if self.query:
            detail["search"] = True
        if self.kinds:
            detail["kinds"] = sorted(self.kinds)
        if self.start:
            detail["from"] = self.start.isoformat()
        if self.end:
            detail["to"] = self.end.isoformat()
        if self.levels:
            detail["levels"] = sorted(self.levels)
        return detail


@dataclass(frozen=True)
class PlanStep:
    """One answered step of a safety plan: its number (1 to 7), label and the patient's words."""

    number: int
    key: str
    label: str
    text: str


@dataclass(frozen=True)
class SafetyPlan:
    """The patient's current safety plan: their newest safety plan entry, whatever the filters."""

    number: int
    created_at: datetime
    status: str
    steps: tuple[PlanStep, ...]


@dataclass(frozen=True)
class PatientRecord:
    """Everything the patient page and the PDF show about one patient."""

    patient: PatientRef
    filters: Filters
    open_flags: tuple[Flag, ...]
    acknowledged_flags: tuple[Flag, ...]
    #: Newest first, after the filters.
    entries: tuple[Entry, ...]
    #: Newest first, after the filters.
    conversations: tuple[Conversation, ...]
    chart: ChartData
    total_entries: int
    total_conversations: int
    transcripts_available: bool
    first_activity: datetime | None
    last_activity: datetime | None
    #: The latest ketamine session date the patient gave, whatever the filters.
    last_session: date | None
    #: Open flags left out by the level filter: the page says how many.
    hidden_open_flags: int = 0
    #: The current safety plan, whatever the filters; ``None`` if the patient has none.
    safety_plan: SafetyPlan | None = None

    @property
    def flags(self) -> tuple[Flag, ...]:
        return self.open_flags + self.acknowledged_flags


# ----------------------------------------------------------------------------- formatting


def format_time(moment: datetime | None) -> str:
    """``3 Mar 2026, 14:05 UTC``: the dashboard shows UTC and says so."""
    if moment is None:
        return "—"
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def format_day(day: date | datetime | None) -> str:
    """``Tue 3 Mar 2026``."""
    if day is None:
        return "—"
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date()
    return f"{day:%a} {day.day} {day:%b %Y}"


def format_age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, roughly: ``just now``, ``5 min ago``, ``3 h ago``, ``4 days ago``."""
    if moment is None:
        return "no activity yet"
    seconds = ((now or utcnow()) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


class _Formats:
    """The formatting helpers, handed to templates as one object (``fmt.time(…)``)."""

    time = staticmethod(format_time)
    day = staticmethod(format_day)
    age = staticmethod(format_age)
    kind_label = staticmethod(lambda kind: KIND_LABELS.get(kind, kind))
    level_label = staticmethod(lambda level: LEVEL_LABELS.get(level, level))


FORMATS = _Formats()


# ----------------------------------------------------------------------------- helpers


def _parse_day(value: str | None, name: str, problems: list[str]) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"“{name}” was not a date (YYYY-MM-DD) and was left out.")
        return None


def _segments(text: str, query: str) -> tuple[tuple[Segment, ...], bool]:
    """``text`` cut into searched-for and other pieces (case-insensitive)."""
    if not query:
        return (Segment(text),), False
    pieces: list[Segment] = []
    position = 0
    for found in re.finditer(re.escape(query), text, flags=re.IGNORECASE):
        if found.start() > position:
            pieces.append(Segment(text[position : found.start()]))
        pieces.append(Segment(found.group(0), match=True))
        position = found.end()
    if not pieces:
        return (Segment(text),), False
    if position < len(text):
        pieces.append(Segment(text[position:]))
    return tuple(pieces), True


def _value_text(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value_text(key, item) for item in value) or "none named"
    if isinstance(value, str):
        if key == "trigger_kind":
            return _TRIGGER_KIND_LABELS.get(value, value)
        if key == SUBSTANCES_FIELD:
            return substance_label(value)
        if key == LAPSE_DATE_FIELD:
            day = lapse_date_of({LAPSE_DATE_FIELD: value})
            return format_day(day) if day is not None else value
        return value
    if isinstance(value, int) and key in ("before", "after"):
        return f"{value}/10"
    return json.dumps(value, ensure_ascii=False)


def _label(key: str) -> str:
    return _EXTRA_LABELS.get(key) or ANSWER_LABELS.get(key) or key.replace("_", " ").capitalize()


def _field(key: str, value: Any, query: str) -> tuple[Field, bool]:
    if isinstance(value, Mapping):
        order = [k for k in URGE_SURFING_KEYS if k in value] if key == "urge_surfing" else []
        order += [k for k in value if k not in order]
        parts = [_field(str(k), value[k], query) for k in order]
        return (
            Field(key=key, label=_label(key), parts=tuple(part for part, _ in parts)),
            any(found for _, found in parts),
        )
    text = _value_text(key, value)
    segments, found = _segments(text, query)
    return Field(key=key, label=_label(key), text=text, segments=segments), found


def _title(entry: JournalEntry) -> str:
    """The entry's name as the patient saw it in the chat ("Check-in", "Slip reflection")."""
    return entry_title(entry_view(entry))


def _entry(entry: JournalEntry, query: str) -> Entry:
    known = FIELD_KEYS.get(entry.kind, ())
    keys = [key for key in known if key in entry.fields]
    keys += [key for key in entry.fields if key not in keys]
    built = [_field(key, entry.fields[key], query) for key in keys]
    return Entry(
        number=entry.number,
        kind=entry.kind,
        title=_title(entry),
        status=entry.status,
        created_at=entry.created_at,
        session_date=entry.session_date,
        mood=entry.mood,
        craving=entry.craving,
        fields=tuple(item for item, _ in built),
        matches=any(found for _, found in built),
    )


def _safety_plan(entries: Sequence[JournalEntry]) -> SafetyPlan | None:
    """The current safety plan: the newest safety plan among ``entries`` (newest first), as
    :func:`bot.safety_plan.current_plan` reads it for the chat."""
    for entry in entries:
        if entry.kind != safety_plan.KIND:
            continue
        steps = safety_plan.plan_steps(entry.fields)
        if not steps:
            return None
        return SafetyPlan(
            number=entry.number,
            created_at=entry.created_at,
            status=entry.status,
            steps=tuple(
                PlanStep(
                    number=safety_plan.STEP_KEYS.index(key) + 1,
                    key=key,
                    label=_label(key),
                    text=text,
                )
                for key, text in steps.items()
            ),
        )
    return None


def _flag(flag: RiskFlag, anchor: str | None = None) -> Flag:
    return Flag(
        id=flag.id,
        created_at=flag.created_at,
        category=flag.category,
        source=flag.source,
        message=flag.message,
        acknowledged_at=flag.acknowledged_at,
        acknowledged_by=flag.acknowledged_by,
        message_anchor=anchor,
        level=flag.level,
        erased_at=flag.erased_at,
        message_count=flag.message_count or 1,
        last_message_at=flag.last_message_at,
        latest_messages=tuple(
            FlagMessage(at=_iso_moment(m.get("at")), text=str(m.get("text", "")))
            for m in flag.latest_messages or ()
            if isinstance(m, dict)
        ),
    )


def _ref(patient: Patient, clinic: Clinic) -> PatientRef:
    return PatientRef(
        id=patient.id,
        sender_id=patient.sender_id,
        clinic_id=clinic.id,
        clinic_slug=clinic.slug,
        clinic_name=clinic.name,
        created_at=patient.created_at,
    )


def _moment(timestamp: float | None) -> datetime | None:
    if timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(float(timestamp), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso_moment(value: Any) -> datetime | None:
    """An ISO 8601 time as a flag's latest messages keep it; ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _max(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _min(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


# ----------------------------------------------------------------------------- patients list


def _latest_rating(
    session: Session, clinic_id: int, column: Any
) -> dict[int, tuple[int, datetime]]:
    ranked = (
        select(
            JournalEntry.patient_id,
            column.label("value"),
            JournalEntry.created_at,
            func.row_number()
            .over(
                partition_by=JournalEntry.patient_id,
                order_by=(JournalEntry.created_at.desc(), JournalEntry.id.desc()),
            )
            .label("rank"),
        )
        .join(Patient, Patient.id == JournalEntry.patient_id)
        .where(Patient.clinic_id == clinic_id, column.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.patient_id, ranked.c.value, ranked.c.created_at).where(ranked.c.rank == 1)
    )
    # created_at comes back from a subquery without the UTCDateTime type on some backends.
    return {patient_id: (value, _aware(created_at)) for patient_id, value, created_at in rows.all()}


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def list_patients(clinic_id: int, *, level: str | None = None) -> list[PatientSummary]:
    """The clinic's patients: those with open risk flags first (the most urgent first), then
    by latest activity.

    Activity is the latest journal entry, risk flag or message in the tracker store;
    a patient who was invited but never wrote anything has none and comes last. With
    ``level``, only the patients with an open flag of that level.
    """
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        patients = session.execute(
            select(Patient.id, Patient.sender_id, Patient.created_at).where(
                Patient.clinic_id == clinic_id
            )
        ).all()
        entry_stats = {
            patient_id: (count, latest)
            for patient_id, count, latest in session.execute(
                select(
                    JournalEntry.patient_id,
                    func.count(JournalEntry.id),
                    func.max(JournalEntry.created_at),
                )
                .join(Patient, Patient.id == JournalEntry.patient_id)
                .where(Patient.clinic_id == clinic_id)
                .group_by(JournalEntry.patient_id)
            ).all()
        }
        flag_stats = {
            patient_id: (open_count or 0, latest)
            for patient_id, open_count, latest in session.execute(
                select(
                    RiskFlag.patient_id,
                    func.sum(case((RiskFlag.acknowledged_at.is_(None), 1), else_=0)),
                    func.max(RiskFlag.created_at),
                )
                .join(Patient, Patient.id == RiskFlag.patient_id)
                .where(Patient.clinic_id == clinic_id)
                .group_by(RiskFlag.patient_id)
            ).all()
        }
        open_levels: dict[int, dict[str, int]] = {}
        for patient_id, flag_level, count in session.execute(
            select(RiskFlag.patient_id, RiskFlag.level, func.count(RiskFlag.id))
            .join(Patient, Patient.id == RiskFlag.patient_id)
            .where(Patient.clinic_id == clinic_id, RiskFlag.acknowledged_at.is_(None))
            .group_by(RiskFlag.patient_id, RiskFlag.level)
        ).all():
            open_levels.setdefault(patient_id, {})[flag_level] = int(count)
        spoken: dict[str, datetime | None] = {}
        if events_exist(session):
            spoken = {
                sender_id: _moment(latest)
                for sender_id, latest in session.execute(
                    select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp))
                    .join(Patient, Patient.sender_id == EVENTS.c.sender_id)
                    .where(Patient.clinic_id == clinic_id, EVENTS.c.type_name.in_(_SPOKEN))
                    .group_by(EVENTS.c.sender_id)
                ).all()
            }
        moods = _latest_rating(session, clinic_id, JournalEntry.mood)
        cravings = _latest_rating(session, clinic_id, JournalEntry.craving)

    summaries = []
    for patient_id, sender_id, created_at in patients:
        entries, latest_entry = entry_stats.get(patient_id, (0, None))
        open_flags, latest_flag = flag_stats.get(patient_id, (0, None))
        mood = moods.get(patient_id)
        craving = cravings.get(patient_id)
        levels = open_levels.get(patient_id, {})
        if level is not None and not levels.get(level):
            continue
        summaries.append(
            PatientSummary(
                sender_id=sender_id,
                created_at=_aware(created_at),
                last_activity=_max(
                    _aware(latest_entry) if latest_entry else None,
                    _aware(latest_flag) if latest_flag else None,
                    spoken.get(sender_id),
                ),
                latest_mood=mood[0] if mood else None,
                latest_mood_at=mood[1] if mood else None,
                latest_craving=craving[0] if craving else None,
                latest_craving_at=craving[1] if craving else None,
                open_flags=int(open_flags),
                entries=entries,
                open_levels=tuple((name, levels[name]) for name in RISK_LEVELS if levels.get(name)),
            )
        )
    oldest = datetime.min.replace(tzinfo=UTC)
    summaries.sort(key=lambda s: s.sender_id)
    summaries.sort(
        key=lambda s: (s.open_flags > 0, _urgency(s.highest_open_level), s.last_activity or oldest),
        reverse=True,
    )
    return summaries


def _urgency(level: str | None) -> int:
    """Higher for more urgent levels, 0 for none (sorting the patients list)."""
    return len(RISK_LEVELS) - RISK_LEVELS.index(level) if level in RISK_LEVELS else 0


# ----------------------------------------------------------------------------- one patient


def find_patient(clinic_id: int, sender_id: str) -> PatientRef | None:
    """The patient with this id in this clinic; ``None`` for anyone else, known or not."""
    if not isinstance(sender_id, str) or not sender_id or len(sender_id) > MAX_SENDER_ID:
        return None
    if "\x00" in sender_id:
        return None
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        row = session.execute(
            select(Patient, Clinic)
            .join(Clinic, Clinic.id == Patient.clinic_id)
            .where(Patient.sender_id == sender_id, Patient.clinic_id == clinic_id)
        ).one_or_none()
        return _ref(*row) if row is not None else None


def _read_conversations(session: Session, sender_id: str) -> list[Conversation]:
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
    for event_id, type_name, timestamp, _action, raw in rows:
        if type_name in (_SESSION_STARTED, "action"):
            new_session = True
            continue
        message = _message(event_id, type_name, timestamp, raw)
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
    event_id: int, type_name: str, timestamp: float | None, raw: str | None
) -> Message | None:
    try:
        data = json.loads(encryption.open_value(raw) if raw else "{}")
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    text = data.get("text")
    options: list[str] = []
    extra = data.get("data")
    if type_name == "bot" and isinstance(extra, dict):
        for key in ("buttons", "quick_replies"):
            for button in extra.get(key) or ():
                if isinstance(button, dict) and isinstance(button.get("title"), str):
                    options.append(button["title"])
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
    )


def _find_flagged(flag: RiskFlag, conversations: Sequence[Conversation]) -> Message | None:
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


def _filter_conversations(
    conversations: Sequence[Conversation], filters: Filters, flagged: set[int]
) -> list[Conversation]:
    shown = []
    for conversation in conversations:
        messages = []
        any_match = False
        in_period = False
        for message in conversation.messages:
            segments, found = _segments(message.text, filters.query)
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


def _lapse(entry: JournalEntry) -> ChartLapse | None:
    """The slip an entry records, for the chart; ``None`` for any other entry."""
    fields = entry.fields
    if entry.kind != "trigger" or fields.get("trigger_kind") != "lapse":
        return None
    day = lapse_date_of(fields)
    stored = fields.get(SUBSTANCES_FIELD)
    known = set(known_substances())
    names = stored if isinstance(stored, list) else []
    when = fields.get(LAPSE_WHEN_FIELD)
    return ChartLapse(
        day=day if day is not None else entry.created_at.astimezone(UTC).date(),
        number=entry.number,
        label=f"{_title(entry)} #{entry.number}",
        substances=tuple(substance_label(n) for n in names if isinstance(n, str) and n in known),
        when_text=when.strip() if isinstance(when, str) and when.strip() else None,
        dated_by_entry=day is None,
    )


def _chart(entries: Sequence[JournalEntry], filters: Filters) -> ChartData:
    points = []
    sessions: set[date] = set()
    lapses = []
    for entry in entries:
        if entry.session_date is not None and _day_in(entry.session_date, filters):
            sessions.add(entry.session_date)
        lapse = _lapse(entry)
        if lapse is not None and _day_in(lapse.day, filters):
            lapses.append(lapse)
        if (entry.mood is None and entry.craving is None) or not filters.in_period(
            entry.created_at
        ):
            continue
        points.append(
            ChartPoint(
                at=entry.created_at,
                mood=entry.mood,
                craving=entry.craving,
                label=f"{_title(entry)} #{entry.number}",
            )
        )
    points.sort(key=lambda point: point.at)
    lapses.sort(key=lambda lapse: (lapse.day, lapse.number))
    return ChartData(
        points=tuple(points),
        session_dates=tuple(sorted(sessions)),
        start=filters.start,
        end=filters.end,
        lapses=tuple(lapses),
    )


def _day_in(day: date, filters: Filters) -> bool:
    return filters.in_period(datetime.combine(day, time(12), UTC))


def load_record(patient: PatientRef, filters: Filters | None = None) -> PatientRecord:
    """The patient page's content: flags, entries and conversations after ``filters``.

    Open flags are always all there, whatever the filters: they are what a therapist must
    not miss. The chart follows the date range only, so that searching the text does not
    make the trend disappear.
    """
    filters = filters or Filters()
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        entries = list(
            session.scalars(
                select(JournalEntry)
                .where(JournalEntry.patient_id == patient.id)
                .order_by(JournalEntry.created_at.desc(), JournalEntry.number.desc())
            )
        )
        flags = list(
            session.scalars(
                select(RiskFlag)
                .where(RiskFlag.patient_id == patient.id)
                .order_by(RiskFlag.created_at.desc(), RiskFlag.id.desc())
            )
        )
        available = events_exist(session)
        conversations = _read_conversations(session, patient.sender_id) if available else []

        flagged: dict[int, Message] = {}
        for flag in flags:
            message = _find_flagged(flag, conversations)
            if message is not None:
                flagged[flag.id] = message
        all_flag_views = [
            _flag(flag, flagged[flag.id].anchor if flag.id in flagged else None) for flag in flags
        ]
        flag_views = [flag for flag in all_flag_views if filters.shows_level(flag.level)]
        hidden_open = sum(
            1 for flag in all_flag_views if flag.is_open and not filters.shows_level(flag.level)
        )
        shown_entries = []
        if filters.kinds - {CONVERSATION} or not filters.kinds:
            for entry in entries:
                if not filters.shows(entry.kind) or not filters.in_period(entry.created_at):
                    continue
                view = _entry(entry, filters.query)
                if filters.query and not view.matches:
                    continue
                shown_entries.append(view)
        shown_conversations: list[Conversation] = []
        if filters.shows(CONVERSATION):
            shown_conversations = _filter_conversations(
                conversations, filters, {message.event_id for message in flagged.values()}
            )
            shown_conversations.reverse()
        chart = _chart(entries, filters)
        current_safety_plan = _safety_plan(entries)

    spoken_times = [c.started_at for c in conversations] + [c.ended_at for c in conversations]
    first = _min(
        *(entry.created_at for entry in entries),
        *(flag.created_at for flag in flags),
        *spoken_times,
    )
    last = _max(
        *(entry.created_at for entry in entries),
        *(flag.created_at for flag in flags),
        *spoken_times,
    )
    return PatientRecord(
        patient=patient,
        filters=filters,
        open_flags=tuple(flag for flag in flag_views if flag.is_open),
        acknowledged_flags=tuple(flag for flag in flag_views if not flag.is_open),
        hidden_open_flags=hidden_open,
        entries=tuple(shown_entries),
        conversations=tuple(shown_conversations),
        chart=chart,
        total_entries=len(entries),
        total_conversations=len(conversations),
        transcripts_available=available,
        first_activity=first,
        last_activity=last,
        last_session=max(
            (entry.session_date for entry in entries if entry.session_date), default=None
        ),
        safety_plan=current_safety_plan,
    )


def acknowledge_flag(patient: PatientRef, flag_id: int, *, by: str) -> Flag | None:
    """Mark the patient's flag as seen by ``by`` (the therapist's e-mail), now.

    ``None`` if the flag is not this patient's. A flag already acknowledged keeps who
    acknowledged it first and when: the record shows when the care team first knew. A flag
    kept only until the care team knew of it (its patient erased their data) is deleted
    now that it does; the view returned is the flag as it was acknowledged.
    """
    db.ensure_schema()
    with db.session_scope() as session:
        session.execute(
            update(RiskFlag)
            .where(
                RiskFlag.id == flag_id,
                RiskFlag.patient_id == patient.id,
                RiskFlag.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=utcnow(), acknowledged_by=by, coalesce_key=None)
        )
        flag = session.scalars(
            select(RiskFlag).where(RiskFlag.id == flag_id, RiskFlag.patient_id == patient.id)
        ).one_or_none()
        if flag is None:
            return None
        view = _flag(flag)
        if flag.erased_at is not None:
            session.delete(flag)
        return view


def flag_of(patient: PatientRef, flag_id: int) -> Flag | None:
    """The patient's flag with this id, or ``None`` (another patient's flag included)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        flag = session.scalars(
            select(RiskFlag).where(RiskFlag.id == flag_id, RiskFlag.patient_id == patient.id)
        ).one_or_none()
        return _flag(flag) if flag is not None else None


def export_data(patient: PatientRef) -> dict[str, Any]:
    """The JSON export: exactly what ``python -m bot export --patient`` prints."""
    export = export_patient(patient.sender_id)
    if export is None:  # deleted between the scope check and now
        raise LookupError(patient.sender_id)
    return export


def read_conversations(sender_id: str) -> list[Conversation]:
    """All of one patient's conversations, oldest first, without filters: what the patient's
    own data export gives them. ``[]`` where Rasa never ran (no ``events`` table)."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        if not events_exist(session):
            return []
        return _read_conversations(session, sender_id)
