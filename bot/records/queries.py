"""The dashboard's questions, always within the viewer's clinic: the patients list, one
patient (the scope check), one patient's record, acknowledging a flag (with what was done,
:mod:`.flag_actions`), the JSON export.

Every function takes the viewer's clinic, or a :class:`~bot.records.views.PatientRef` found
within it, and finds nothing outside it. Each opens its own session and returns views
detached from it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from bot import settings
from bot.journal import care_team_questions, measure_records
from bot.journal.entries import export_patient
from bot.records.digest import build_digest, digest_period
from bot.records.entries import chart_of, entry_of, safety_plan_of
from bot.records.flag_actions import acknowledgements_of
from bot.records.transcripts import (
    filter_conversations,
    find_flagged,
    last_spoken,
    read_conversations_in,
)
from bot.records.unanswered import unanswered_questions
from bot.records.views import (
    CONVERSATION,
    Acknowledgement,
    Conversation,
    Filters,
    Flag,
    FlagMessage,
    Message,
    PatientFilters,
    PatientRecord,
    PatientRef,
    PatientSummary,
    zone_of,
)
from bot.storage import db
from bot.storage.models import (
    RISK_LEVELS,
    Clinic,
    FlagAction,
    JournalEntry,
    Patient,
    PatientLink,
    RiskFlag,
    Therapist,
    utcnow,
)
from bot.storage.rasa_events import events_exist

MAX_SENDER_ID = 255


# ----------------------------------------------------------------------------- patients list


def list_patients(
    clinic_id: int,
    *,
    level: str | None = None,
    therapist_id: int | None = None,
    unassigned: bool = False,
    filters: PatientFilters | None = None,
    now: datetime | None = None,
) -> list[PatientSummary]:
    """The clinic's patients: those with open risk flags first (the most urgent first), then
    by latest activity.

    Activity is the latest journal entry, risk flag or message in the tracker store;
    a patient who was invited but never wrote anything has none and comes last. With
    ``level``, only the patients with an open flag of that level; with ``therapist_id``, only
    the patients assigned to that therapist; with ``unassigned``, only those assigned to
    nobody; ``filters`` (:class:`PatientFilters`) adds the search, any open flag and quiet.

    Outside the demo clinic, only patients the clinic invited (an ``invite`` link) or who
    have a journal entry or a risk flag are listed: anonymous demo visitors and load-test
    sessions that never wrote anything are not the clinic's patients. The demo clinic lists
    everyone, as its visitors are all it has.

    Labels are sealed at rest, so the database cannot search them: every patient of the
    clinic is read and the filters are applied here, in Python. At a clinic's scale (hundreds
    of patients, not millions) that is one query per table and well under the time a page
    takes anyway; the paging (:func:`bot.records.views.page_of`) is done on the result.
    """
    filters = PatientFilters(level=level) if filters is None else filters
    if level is not None and filters.level is None:
        filters = replace(filters, level=level)
    now = now or utcnow()
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        query = (
            select(
                Patient.id,
                Patient.sender_id,
                Patient.created_at,
                Patient.label,
                Patient.therapist_id,
                Therapist.email,
            )
            .outerjoin(Therapist, Therapist.id == Patient.therapist_id)
            .where(Patient.clinic_id == clinic_id)
        )
        if therapist_id is not None:
            query = query.where(Patient.therapist_id == therapist_id)
        if unassigned:
            query = query.where(Patient.therapist_id.is_(None))
        slug = session.scalar(select(Clinic.slug).where(Clinic.id == clinic_id))
        if slug != settings.demo_clinic_slug():
            query = query.where(_clinics_own_patient())
        patients = session.execute(query).all()
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
        spoken = last_spoken(session, clinic_id)
        moods = _latest_rating(session, clinic_id, JournalEntry.mood)
        cravings = _latest_rating(session, clinic_id, JournalEntry.craving)

    summaries = []
    for patient_id, sender_id, created_at, label, assigned_id, assigned_email in patients:
        entries, latest_entry = entry_stats.get(patient_id, (0, None))
        open_flags, latest_flag = flag_stats.get(patient_id, (0, None))
        mood = moods.get(patient_id)
        craving = cravings.get(patient_id)
        levels = open_levels.get(patient_id, {})
        summary = PatientSummary(
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
            label=label,
            therapist_id=assigned_id,
            therapist_email=assigned_email,
        )
        if filters.matches(summary, now):
            summaries.append(summary)
    oldest = datetime.min.replace(tzinfo=UTC)
    summaries.sort(key=lambda s: s.sender_id)
    summaries.sort(
        key=lambda s: (s.open_flags > 0, _urgency(s.highest_open_level), s.last_activity or oldest),
        reverse=True,
    )
    return summaries


def _clinics_own_patient() -> Any:
    """A patient the clinic invited, or who wrote something it keeps (see list_patients)."""
    invited = (
        select(PatientLink.id)
        .where(PatientLink.patient_id == Patient.id, PatientLink.kind == "invite")
        .exists()
    )
    wrote = select(JournalEntry.id).where(JournalEntry.patient_id == Patient.id).exists()
    flagged = select(RiskFlag.id).where(RiskFlag.patient_id == Patient.id).exists()
    return or_(invited, wrote, flagged)


def has_assigned(clinic_id: int, therapist_id: int) -> bool:
    """Whether any patient of the clinic is assigned to this therapist."""
    db.ensure_schema()
    with db.session_scope(write=False) as session:
        found = session.scalar(
            select(Patient.id)
            .where(Patient.clinic_id == clinic_id, Patient.therapist_id == therapist_id)
            .limit(1)
        )
    return found is not None


def _urgency(level: str | None) -> int:
    """Higher for more urgent levels, 0 for none (sorting the patients list)."""
    return len(RISK_LEVELS) - RISK_LEVELS.index(level) if level in RISK_LEVELS else 0


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


def load_record(
    patient: PatientRef, filters: Filters | None = None, *, now: datetime | None = None
) -> PatientRecord:
    """The patient page's content: the digest since the last session, flags, entries and
    conversations after ``filters``, whose days are the clinic's (its time zone).

    Open flags are always all there, whatever the filters: they are what a therapist must
    not miss; so is the digest (:mod:`bot.records.digest`), as of ``now``. The chart follows
    the date range only, so that searching the text does not make the trend disappear.
    """
    zone = zone_of(patient.clinic_timezone)
    filters = replace(filters or Filters(), zone=zone)
    now = now or utcnow()
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
        conversations = read_conversations_in(session, patient.sender_id) if available else []

        flagged: dict[int, Message] = {}
        for flag in flags:
            message = find_flagged(flag, conversations)
            if message is not None:
                flagged[flag.id] = message
        acknowledged = acknowledgements_of(session, [flag.id for flag in flags])
        all_flag_views = [
            _flag(
                flag,
                flagged[flag.id].anchor if flag.id in flagged else None,
                acknowledged[flag.id],
            )
            for flag in flags
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
                view = entry_of(entry, filters.query)
                if filters.query and not view.matches:
                    continue
                shown_entries.append(view)
        shown_conversations: list[Conversation] = []
        if filters.shows(CONVERSATION):
            shown_conversations = filter_conversations(
                conversations, filters, {message.event_id for message in flagged.values()}
            )
            shown_conversations.reverse()
        chart = chart_of(entries, filters)
        current_safety_plan = safety_plan_of(entries)
        period = digest_period(session, patient.id, now=now, zone=zone)
        unanswered = (
            unanswered_questions(session, patient.sender_id, period.start) if available else []
        )

    results = measure_records.results_of(patient.sender_id)
    digest = build_digest(
        period,
        entries=entries,
        flags=all_flag_views,
        results=results,
        schedules=measure_records.schedules_of(patient.sender_id),
        unanswered=unanswered,
        today=now.astimezone(zone).date(),
    )

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
        measures=tuple(results),
        digest=digest,
        care_team_questions=tuple(care_team_questions.questions_of(patient.sender_id)),
    )


def acknowledge_flag(
    patient: PatientRef,
    flag_id: int,
    *,
    by: str,
    action: str | None = None,
    note: str | None = None,
    follow_up: date | None = None,
) -> Flag | None:
    """Mark the patient's flag as seen by ``by`` (the therapist's e-mail), now, with what was
    done about it (:mod:`bot.records.flag_actions`: the action, a note, a follow-up date).

    ``None`` if the flag is not this patient's. A flag already acknowledged keeps who
    acknowledged it first, when and what they did: the record shows when the care team first
    knew, and a second tab's click adds nothing. A flag kept only until the care team knew of
    it (its patient erased their data) is deleted now that it does, with nothing recorded
    about it; the view returned is the flag as it was acknowledged.
    """
    db.ensure_schema()
    with db.session_scope() as session:
        now = utcnow()
        result = session.execute(
            update(RiskFlag)
            .where(
                RiskFlag.id == flag_id,
                RiskFlag.patient_id == patient.id,
                RiskFlag.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now, acknowledged_by=by, coalesce_key=None)
        )
        flag = session.scalars(
            select(RiskFlag).where(RiskFlag.id == flag_id, RiskFlag.patient_id == patient.id)
        ).one_or_none()
        if flag is None:
            return None
        if result.rowcount == 1 and flag.erased_at is None:  # type: ignore[attr-defined]
            session.add(
                FlagAction(
                    flag_id=flag.id,
                    action=action,
                    note=note,
                    follow_up=follow_up,
                    acknowledged_at=now,
                    acknowledged_by=by,
                )
            )
            session.flush()
        view = _flag(flag, acknowledgements=acknowledgements_of(session, [flag.id])[flag.id])
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
        if flag is None:
            return None
        return _flag(flag, acknowledgements=acknowledgements_of(session, [flag.id])[flag.id])


def export_data(patient: PatientRef) -> dict[str, Any]:
    """The JSON export: exactly what ``python -m bot export --patient`` prints."""
    export = export_patient(patient.sender_id)
    if export is None:  # deleted between the scope check and now
        raise LookupError(patient.sender_id)
    return export


# ----------------------------------------------------------------------------- helpers


def _flag(
    flag: RiskFlag,
    anchor: str | None = None,
    acknowledgements: tuple[Acknowledgement, ...] = (),
) -> Flag:
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
        acknowledgements=acknowledgements,
    )


def _ref(patient: Patient, clinic: Clinic) -> PatientRef:
    return PatientRef(
        id=patient.id,
        sender_id=patient.sender_id,
        clinic_id=clinic.id,
        clinic_slug=clinic.slug,
        clinic_name=clinic.name,
        created_at=patient.created_at,
        label=patient.label,
        therapist_id=patient.therapist_id,
        therapist_email=patient.therapist.email if patient.therapist else None,
        clinic_timezone=clinic.timezone,
    )


def _iso_moment(value: Any) -> datetime | None:
    """An ISO 8601 time as a flag's latest messages keep it; ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _max(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _min(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None
