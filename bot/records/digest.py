"""The "since the last session" digest at the top of the patient page and of the PDF: what
a therapist reads in the five minutes before seeing the patient.

Which period it covers is chosen in one place, :func:`digest_period`: from the latest
ketamine session date on record (each source in :data:`SESSION_DATE_SOURCES`: the session
calendar, kept by staff and by what patients tell the chat, and the session dates patients give
in their reflections) to now, or the last few days (``bot/content/digest.yml``) when there is
none. Another record of session dates is one more function of the same shape added to that tuple.

What it holds is built by :func:`build_digest` from what the record has already read: entries
by kind, the mood and craving ranges and latest ratings, slips, risk flags and what was done
about them, the patient's messages for the care team, measures answered and due, and the
questions the assistant could not answer (:mod:`.unanswered`). Everything listed is newest
first, like the rest of the record. Days are the clinic's (its time zone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.journal.measure_records import ResultView, ScheduleView
from bot.journal.schema import KIND_LABELS, KINDS
from bot.records.entries import lapse_of
from bot.records.unanswered import digest_settings
from bot.records.views import (
    Digest,
    DigestPeriod,
    Flag,
    KindCount,
    RatingRange,
    UnansweredQuestion,
)
from bot.storage.models import JournalEntry, RecordedSession

#: A record of a patient's ketamine session dates: ``(session, patient id) -> dates``.
SessionDates = Callable[[Session, int], Iterable[date]]


def reflection_session_dates(session: Session, patient_id: int) -> list[date]:
    """The session dates the patient gave in their journal (the integration reflections)."""
    return list(
        session.scalars(
            select(JournalEntry.session_date)
            .where(JournalEntry.patient_id == patient_id, JournalEntry.session_date.is_not(None))
            .distinct()
        )
    )


def calendar_session_dates(session: Session, patient_id: int) -> list[date]:
    """The session days in the patient's session calendar (:mod:`bot.journal.session_calendar`)."""
    return list(
        session.scalars(
            select(RecordedSession.session_on).where(RecordedSession.patient_id == patient_id)
        )
    )


#: Where a patient's session dates are recorded; the digest starts at the latest of them all.
SESSION_DATE_SOURCES: tuple[SessionDates, ...] = (calendar_session_dates, reflection_session_dates)


def fallback_days() -> int:
    """How many days the digest covers when no session date is on record."""
    return int(digest_settings()["fallback_days"])


def digest_period(
    session: Session,
    patient_id: int,
    *,
    now: datetime,
    zone: tzinfo = UTC,
    sources: Sequence[SessionDates] = SESSION_DATE_SOURCES,
) -> DigestPeriod:
    """Since the latest session date any source records (up to today in ``zone``; a date
    still to come is not a session that happened), else the last :func:`fallback_days` days."""
    today = now.astimezone(zone).date()
    dates = [day for source in sources for day in source(session, patient_id) if day <= today]
    if dates:
        last = max(dates)
        start = datetime.combine(last, time(0), zone).astimezone(UTC)
        return DigestPeriod(start=start, end=now, session_date=last, days=(today - last).days)
    days = fallback_days()
    return DigestPeriod(start=now - timedelta(days=days), end=now, session_date=None, days=days)


def build_digest(
    period: DigestPeriod,
    *,
    entries: Sequence[JournalEntry],
    flags: Sequence[Flag],
    results: Sequence[ResultView],
    schedules: Sequence[ScheduleView],
    unanswered: Sequence[UnansweredQuestion],
    today: date,
) -> Digest:
    """The digest of what the record already read, for ``period``."""
    recent = sorted(
        (entry for entry in entries if period.covers(entry.created_at)),
        key=lambda entry: (entry.created_at, entry.number),
        reverse=True,
    )
    counts = {kind: sum(1 for entry in recent if entry.kind == kind) for kind in KINDS}
    slips = [lapse for lapse in map(lapse_of, recent) if lapse is not None]
    in_period = [flag for flag in flags if _flag_in(flag, period)]
    in_period.sort(key=lambda flag: (flag.created_at, flag.id), reverse=True)
    due_by = today + timedelta(days=int(digest_settings()["due_within_days"]))
    return Digest(
        period=period,
        entry_counts=tuple(
            KindCount(kind, KIND_LABELS[kind], count) for kind, count in counts.items() if count
        ),
        mood=_range(recent, "mood"),
        craving=_range(recent, "craving"),
        slips=tuple(slips),
        flags=tuple(flag for flag in in_period if flag.level != "request"),
        requests=tuple(flag for flag in in_period if flag.level == "request"),
        measures_done=tuple(
            sorted(
                (result for result in results if period.covers(result.completed_at)),
                key=lambda result: (result.completed_at, result.id),
                reverse=True,
            )
        ),
        measures_due=tuple(
            sorted(
                (plan for plan in schedules if plan.active and plan.due_on <= due_by),
                key=lambda plan: (plan.due_on, plan.id),
            )
        ),
        unanswered=tuple(unanswered),
    )


def _flag_in(flag: Flag, period: DigestPeriod) -> bool:
    """Raised in the period, or a flag from before that took a message in it."""
    return period.covers(flag.created_at) or period.covers(flag.last_message_at)


def _range(entries: Sequence[JournalEntry], rating: str) -> RatingRange | None:
    """The rating's range over ``entries`` (newest first); ``None`` if none has it."""
    rated = [(entry.created_at, getattr(entry, rating)) for entry in entries]
    values = [(at, value) for at, value in rated if value is not None]
    if not values:
        return None
    latest_at, latest = values[0]
    numbers = [value for _, value in values]
    return RatingRange(min(numbers), max(numbers), latest, latest_at)
