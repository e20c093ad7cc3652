"""What the dashboard's read model returns: frozen dataclasses, the filters, and their words.

Every view here is a frozen dataclass, detached from the database session; patient text is a
plain string (the templates escape it). The labels, the search highlighting and the
formatting helpers (``fmt`` in the templates) sit next to the views they describe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.journal import schema
from bot.journal.care_team_questions import QuestionView
from bot.journal.measure_records import ResultView, ScheduleView
from bot.storage.models import DEFAULT_TIMEZONE, RISK_LEVELS, utcnow

#: The kind filter's name for the conversation transcripts, next to the journal's kinds.
CONVERSATION = "conversation"
FILTER_KINDS: tuple[str, ...] = (*schema.KINDS, CONVERSATION)
KIND_LABELS: dict[str, str] = {**schema.KIND_LABELS, CONVERSATION: "Conversations"}
LEVEL_LABELS: dict[str, str] = {
    "urgent": "Urgent",
    "elevated": "Elevated",
    "info": "Info",
    "request": "Message for the care team",
}
#: Longest search text taken from the query string; longer input is cut, not refused.
MAX_QUERY = 200


# ----------------------------------------------------------------------------- views

#: Characters of a sender id shown where a patient has no label (after the ``p-`` prefix).
SHORT_ID_LENGTH = 8


def short_id(sender_id: str) -> str:
    """A patient id short enough to read out ("p-ebIftZzv"): enough to tell patients apart
    in a clinic's list, not meant to be unique on its own."""
    prefix = "p-" if sender_id.startswith("p-") else ""
    return prefix + sender_id[len(prefix) :][:SHORT_ID_LENGTH]


def display_name(label: str | None, sender_id: str) -> str:
    """What staff call a patient: the clinic's label, else the short id."""
    return label or short_id(sender_id)


class _Named:
    """What staff call a patient, for views with ``label`` and ``sender_id``."""

    label: str | None
    sender_id: str

    @property
    def name(self) -> str:
        return display_name(self.label, self.sender_id)


@dataclass(frozen=True)
class PatientRef(_Named):
    """A patient known to be in the viewer's clinic (the result of the scope check)."""

    id: int
    sender_id: str
    clinic_id: int
    clinic_slug: str
    clinic_name: str
    created_at: datetime
    #: The clinic's own name for the patient (see :func:`display_name`).
    label: str | None = None
    therapist_id: int | None = None
    therapist_email: str | None = None
    #: The clinic's time zone (an IANA name): the patient page and the PDF show times in it.
    clinic_timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class PatientSummary(_Named):
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
    label: str | None = None
    therapist_id: int | None = None
    therapist_email: str | None = None

    @property
    def highest_open_level(self) -> str | None:
        return self.open_levels[0][0] if self.open_levels else None


#: The patients list's page size, and how long without activity makes a patient "quiet".
PAGE_SIZE = 50
QUIET_DAYS = 7


@dataclass(frozen=True)
class PatientFilters:
    """The patients list's filters besides the therapist's: a search, open flags, quiet.

    ``search`` matches the clinic's label anywhere in it, or the start of the sender id (the
    short id staff read out), ignoring case. ``level`` keeps the patients with an open flag
    of that level, ``flagged`` those with any open flag, ``quiet`` those without activity for
    more than :data:`QUIET_DAYS` days (or none at all).
    """

    search: str = ""
    level: str | None = None
    flagged: bool = False
    quiet: bool = False

    @property
    def active(self) -> bool:
        return bool(self.search or self.level or self.flagged or self.quiet)

    def matches(self, summary: PatientSummary, now: datetime) -> bool:
        if self.level is not None and not dict(summary.open_levels).get(self.level):
            return False
        if self.flagged and not summary.open_flags:
            return False
        if self.quiet:
            last = summary.last_activity
            if last is not None and now - last <= timedelta(days=QUIET_DAYS):
                return False
        if self.search:
            needle = self.search.casefold()
            label = (summary.label or "").casefold()
            if needle not in label and not summary.sender_id.casefold().startswith(needle):
                return False
        return True

    def audit_detail(self) -> dict[str, Any]:
        """Which filters were used, never the search text: it may be a patient's name."""
        detail: dict[str, Any] = {}
        if self.search:
            detail["search"] = True
        if self.level:
            detail["level"] = self.level
        if self.flagged:
            detail["flagged"] = True
        if self.quiet:
            detail["quiet"] = True
        return detail


@dataclass(frozen=True)
class PatientPage:
    """One page of the patients list: its patients, how many matched, and where it is."""

    patients: tuple[PatientSummary, ...]
    total: int
    page: int
    pages: int
    per_page: int = PAGE_SIZE

    @property
    def first(self) -> int:
        """The 1-based position of the page's first patient in the whole list (0: none)."""
        return (self.page - 1) * self.per_page + 1 if self.patients else 0

    @property
    def last(self) -> int:
        return self.first + len(self.patients) - 1 if self.patients else 0


def page_of(
    summaries: Iterable[PatientSummary], page: int, per_page: int = PAGE_SIZE
) -> PatientPage:
    """The ``page``-th page (1-based) of ``summaries``; a page past the end is the last one
    and one before the first is the first, so a link to a list that has since shrunk still
    shows patients."""
    everyone = tuple(summaries)
    pages = max(1, -(-len(everyone) // per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    return PatientPage(
        patients=everyone[start : start + per_page],
        total=len(everyone),
        page=page,
        pages=pages,
        per_page=per_page,
    )


@dataclass(frozen=True)
class FollowUp(_Named):
    """A follow-up a flag's acknowledgement asked for, not yet done (the patients page)."""

    sender_id: str
    label: str | None
    flag_id: int
    flag_level: str
    flag_category: str | None
    flag_created_at: datetime
    action: str | None
    due: date
    acknowledged_by: str
    acknowledged_at: datetime
    therapist_email: str | None = None

    def overdue(self, today: date) -> bool:
        """Due before ``today`` (a follow-up due today is not overdue yet)."""
        return self.due < today

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.flag_level, self.flag_level.capitalize())

    @property
    def category_label(self) -> str:
        return category_label(self.flag_category)


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
class Acknowledgement:
    """One acknowledgement of a flag: what was done about it, and whether it still stands.

    ``action`` is ``None`` for an acknowledgement that recorded none; ``note`` is staff's text
    (shown escaped, like patient text)."""

    id: int
    action: str | None
    note: str | None
    follow_up: date | None
    acknowledged_at: datetime
    acknowledged_by: str
    undone_at: datetime | None = None
    undone_by: str | None = None
    follow_up_done_at: datetime | None = None
    follow_up_done_by: str | None = None

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None

    @property
    def follow_up_open(self) -> bool:
        """A follow-up is asked for, the acknowledgement stands, and nobody has done it."""
        return self.follow_up is not None and not self.is_undone and not self.follow_up_done_at

    def follow_up_overdue(self, today: date) -> bool:
        return self.follow_up_open and self.follow_up is not None and self.follow_up < today


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
    #: How many messages the flag stands for (see :func:`bot.journal.entries.record_risk_flag`).
    message_count: int = 1
    #: When the latest of them came.
    last_message_at: datetime | None = None
    #: The latest few messages after the first (``message``), oldest first.
    latest_messages: tuple[FlagMessage, ...] = ()
    #: Every acknowledgement made on the dashboard, oldest first, undone ones included.
    acknowledgements: tuple[Acknowledgement, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def current(self) -> Acknowledgement | None:
        """The acknowledgement that stands (``None`` for an open flag, or one acknowledged
        before actions were recorded)."""
        if self.is_open:
            return None
        return next((a for a in reversed(self.acknowledgements) if not a.is_undone), None)

    @property
    def undone(self) -> tuple[Acknowledgement, ...]:
        """Earlier acknowledgements that were undone, oldest first."""
        return tuple(a for a in self.acknowledgements if a.is_undone)

    @property
    def more_messages(self) -> int:
        """Messages of this flag that are neither the first nor among the latest shown."""
        return max(self.message_count - 1 - len(self.latest_messages), 0)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level.capitalize())

    @property
    def category_label(self) -> str:
        return category_label(self.category)


def category_label(category: str | None) -> str:
    """A flag's category as staff read it ("Self harm"; "Crisis" when it has none)."""
    if not category:
        return "Crisis"
    return category.replace("_", " ").capitalize()


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
    #: The patient pressed a button: ``text`` is the button's title, not what the widget sent.
    pressed: bool = False

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
    """Search text, kinds and an inclusive date range (days in ``zone``, the clinic's time
    zone), as given in the URL.

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
    #: The time zone whose days ``start`` and ``end`` are (the clinic's).
    zone: tzinfo = UTC

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
        day = moment.astimezone(self.zone).date()
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


# ----------------------------------------------------------------------------- the digest
# What happened since the last session (built by :mod:`bot.records.digest`).


@dataclass(frozen=True)
class UnansweredQuestion:
    """A patient's message the assistant could not answer, and why it counts as such."""

    event_id: int
    at: datetime
    text: str
    #: Why: ``not_understood``, ``out_of_scope``, ``wrong_answer`` or ``no_answer``.
    reason: str
    #: The reason as staff read it (``bot/content/digest.yml``).
    reason_label: str = ""


@dataclass(frozen=True)
class DigestPeriod:
    """What the digest covers: from ``start`` to ``end`` (aware UTC).

    ``session_date`` is the session it starts from (its day, from midnight in the clinic's
    time zone), ``None`` for the last :attr:`days` days when no session is on record;
    ``days`` is how many days ago that session was.
    """

    start: datetime
    end: datetime
    session_date: date | None
    days: int

    def covers(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment <= self.end


@dataclass(frozen=True)
class KindCount:
    """How many journal entries of one kind the period has."""

    kind: str
    label: str
    count: int


@dataclass(frozen=True)
class RatingRange:
    """A rating's lowest and highest in the period (0 to 10), and the latest with its time."""

    lowest: int
    highest: int
    latest: int
    latest_at: datetime


@dataclass(frozen=True)
class Digest:
    """The digest's content; every list newest first, empty when there is nothing."""

    period: DigestPeriod
    entry_counts: tuple[KindCount, ...]
    mood: RatingRange | None
    craving: RatingRange | None
    slips: tuple[ChartLapse, ...]
    #: Risk flags raised (or added to) in the period, requests left out.
    flags: tuple[Flag, ...]
    #: The patient's messages for the care team in the period (flags of level ``request``).
    requests: tuple[Flag, ...]
    measures_done: tuple[ResultView, ...]
    #: Active schedules due now or within ``due_within_days`` (digest.yml), earliest first.
    measures_due: tuple[ScheduleView, ...]
    unanswered: tuple[UnansweredQuestion, ...]

    @property
    def entries(self) -> int:
        return sum(count.count for count in self.entry_counts)


@dataclass(frozen=True)
class PatientRecord:
    """Everything the patient page and the PDF show about one patient.

    Whatever is dated is listed newest first, on the page and in the PDF alike (the messages
    within one conversation excepted: they read in the order they were said).
    """

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
    #: Validated measures answered, oldest first, whatever the filters.
    measures: tuple[ResultView, ...] = ()
    #: What happened since the last session (:mod:`bot.records.digest`), whatever the filters.
    digest: Digest | None = None
    #: The care team's questions for the reflections: pending ones first, whatever the filters.
    care_team_questions: tuple[QuestionView, ...] = ()

    @property
    def flags(self) -> tuple[Flag, ...]:
        return self.open_flags + self.acknowledged_flags


# ----------------------------------------------------------------------------- formatting


def zone_of(name: str | None) -> tzinfo:
    """The time zone of this IANA name; UTC for none, or for a name this system does not know
    (a clinic's zone is checked when it is set, but a page must never fail over it)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return UTC


def format_time(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """``3 Mar 2026, 14:05 GMT``: the time in ``zone``, and which zone's time it is."""
    if moment is None:
        return "—"
    moment = moment.astimezone(zone)
    return f"{moment.day} {moment:%b %Y, %H:%M %Z}"


def format_day(day: date | datetime | None, zone: tzinfo = UTC) -> str:
    """``Tue 3 Mar 2026`` (a moment's day in ``zone``)."""
    if day is None:
        return "—"
    if isinstance(day, datetime):
        day = day.astimezone(zone).date()
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


class Formats:
    """The formatting helpers, handed to templates as one object (``fmt.time(…)``), showing
    times in one time zone: the clinic's on the patient page and in the PDF."""

    def __init__(self, zone: tzinfo = UTC, name: str = DEFAULT_TIMEZONE) -> None:
        self.zone = zone
        #: The zone's IANA name, as the page says it ("Times in Europe/London").
        self.zone_name = name

    def time(self, moment: datetime | None) -> str:
        return format_time(moment, self.zone)

    def day(self, day: date | datetime | None) -> str:
        return format_day(day, self.zone)

    def short_day(self, day: date) -> str:
        """``3 Dec``: a day close enough to today to need no year (the digest's session)."""
        return f"{day.day} {day:%b}"

    def clock(self, moment: datetime) -> str:
        """``14:05``: a time of day in the zone (a transcript's messages)."""
        return f"{moment.astimezone(self.zone):%H:%M}"

    def local(self, moment: datetime) -> datetime:
        """The moment in the zone (for ``<time datetime>``, which then carries its offset)."""
        return moment.astimezone(self.zone)

    age = staticmethod(format_age)
    kind_label = staticmethod(lambda kind: KIND_LABELS.get(kind, kind))
    level_label = staticmethod(lambda level: LEVEL_LABELS.get(level, level))


FORMATS = Formats()


def formats_for(zone_name: str | None) -> Formats:
    """The formatting helpers for a clinic's time zone (UTC when it has none we know)."""
    zone = zone_of(zone_name)
    return Formats(zone, zone_name if zone is not UTC and zone_name else DEFAULT_TIMEZONE)


# ----------------------------------------------------------------------------- helpers


def _parse_day(value: str | None, name: str, problems: list[str]) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"“{name}” was not a date (YYYY-MM-DD) and was left out.")
        return None


def search_segments(text: str, query: str) -> tuple[tuple[Segment, ...], bool]:
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
