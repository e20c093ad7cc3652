"""The patients list, the patient page, flags (acknowledge, undo, follow-ups) and the exports.

Each route does the same four things in the same order: find the patient *within the
viewer's clinic* (anyone else's patient is the same audited 404 as one who does not exist),
read the record, write the audit row, and only then return the data. If the audit row
cannot be written the request fails and nothing is shown. The reading and the rules live in
:mod:`bot.records` and :mod:`bot.records.exports`; these functions only connect them to HTTP.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from bot import records
from bot.clinics import audit, reminders, therapists
from bot.clinics import patients as clinic_patients
from bot.journal import care_team_questions, measure_records, session_calendar
from bot.journal import measures as measure_catalogue
from bot.privacy import erasure
from bot.records import consents, exports
from bot.records.chart import render_chart
from bot.records.flag_actions import MAX_NOTE
from bot.records.measure_chart import render_measure_charts
from bot.records.views import MAX_QUERY
from bot.storage.models import RISK_LEVELS, utcnow
from bot.web.dashboard.security import (
    PREFIX,
    PageError,
    Viewer,
    client_ip,
    not_found,
    render,
    require_csrf,
    require_viewer,
)

router = APIRouter()

ViewerDep = Annotated[Viewer, Depends(require_viewer)]
CsrfViewerDep = Annotated[Viewer, Depends(require_csrf)]

#: Export formats: media type and file extension.
EXPORT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "flags.csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "fhir.json": "application/fhir+json; charset=utf-8",
    "pdf": "application/pdf",
}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_FLAG_ID = re.compile(r"^[0-9]{1,18}$")


def patient_path(sender_id: str) -> str:
    """The patient page's address; the id is quoted whole (it is the patient's, not ours)."""
    return f"{PREFIX}/patients/{quote(sender_id, safe='')}"


def record_audit(
    request: Request,
    viewer: Viewer,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        action,
        actor=viewer.email,
        clinic_id=viewer.clinic_id,
        target=target,
        outcome=outcome,
        ip=client_ip(request),
        detail=detail,
    )


def denied_patient(request: Request, viewer: Viewer) -> PageError:
    """The audited 404 for another clinic's patient, an unknown one, or a flag not theirs."""
    record_audit(
        request, viewer, "access_denied", outcome="denied", detail={"path": request.url.path}
    )
    return not_found(viewer)


#: A row of a patient's record named in a URL (a question, a schedule, a session).
_ROW_ID = re.compile(r"^[0-9]{1,18}$")


def row_id(request: Request, viewer: Viewer, value: str) -> int:
    """The row id in a URL; anything else is the same audited 404 as another clinic's patient,
    so a probe learns nothing from the answer."""
    if not _ROW_ID.fullmatch(value):
        raise denied_patient(request, viewer)
    return int(value)


def back_to_section(sender_id: str, section: str, note: str) -> RedirectResponse:
    """After a change on the patient page, back to its ``section``, which says what happened
    (``?<section>=<note>``, one of the notes the page knows)."""
    return RedirectResponse(f"{patient_path(sender_id)}?{section}={note}#{section}", 303)


def patient_of_viewer(request: Request, viewer: Viewer, sender_id: str) -> records.PatientRef:
    patient = records.find_patient(viewer.clinic_id, sender_id)
    if patient is None:
        raise denied_patient(request, viewer)
    return patient


# ----------------------------------------------------------------------------- pages


#: What the measures section says after a change (``?measures=…``).
MEASURE_NOTES = {"scheduled": "Scheduled.", "cancelled": "Cancelled."}
#: What the questions section says after a change (``?questions=…``).
QUESTION_NOTES = {
    "asked": "Saved: the next session reflection asks it after its own questions.",
    "withdrawn": "Withdrawn.",
    "unchanged": "That question was no longer waiting: nothing changed.",
}

#: What the sessions section says after a change (``?sessions=…``).
SESSION_NOTES = {
    "recorded": "Recorded.",
    "exists": "That day was already recorded.",
    "deleted": "Deleted.",
}
#: The patients list's therapist filter: the viewer's own patients (the default), everyone's,
#: nobody's, or one colleague's (by account id).
MINE, EVERYONE, UNASSIGNED = "mine", "all", "none"


def _therapist_filter(choice: str, viewer: Viewer) -> tuple[str, int | None, bool]:
    """(the choice as understood, the therapist id to filter on, only the unassigned).

    The default is the viewer's own patients; a therapist with none assigned (a clinic that
    has not assigned anyone yet, an administrator) sees every patient instead.
    """
    if choice == EVERYONE:
        return EVERYONE, None, False
    if choice == UNASSIGNED:
        return UNASSIGNED, None, True
    if choice.isdigit() and len(choice) < 19:
        return choice, int(choice), False
    if choice != MINE and not records.has_assigned(viewer.clinic_id, viewer.therapist_id):
        return EVERYONE, None, False
    return MINE, viewer.therapist_id, False


#: The patients list's "quiet" and "flagged" filters, as the query string says them.
_ON = "1"


def _page_number(text: str) -> int:
    """The ``page`` query parameter: a positive number, else the first page."""
    return int(text) if text.isdigit() and 0 < len(text) < 7 else 1


def _list_query(**params: str) -> str:
    """The patients list's query string with the given filters (empty ones left out), so
    that the page links keep exactly the filters the page was shown with."""
    return urlencode({name: value for name, value in params.items() if value})


@router.get("/", include_in_schema=False)
def patients_page(
    request: Request,
    viewer: ViewerDep,
    level: str = "",
    therapist: str = "",
    q: str = "",
    flagged: str = "",
    quiet: str = "",
    page: str = "",
) -> Response:
    """The viewer's patients (or a colleague's, everyone's, the unassigned), open risk flags
    first, :data:`~bot.records.views.PAGE_SIZE` a page, with the open follow-ups above them.

    ``q`` searches the clinic's labels and the start of the ids; ``level`` keeps the patients
    with an open flag of that level (an unknown level is ignored, and said so), ``flagged``
    those with any open flag, ``quiet`` those without activity for more than
    :data:`~bot.records.views.QUIET_DAYS` days. The audit row says which filters were used,
    never the search text, and how many patients and follow-ups were shown.
    """
    chosen = level if level in RISK_LEVELS else None
    whose, therapist_id, unassigned = _therapist_filter(therapist, viewer)
    search = q.strip()[:MAX_QUERY]
    filters = records.PatientFilters(
        search=search, level=chosen, flagged=flagged == _ON, quiet=quiet == _ON
    )
    now = utcnow()
    summaries = records.list_patients(
        viewer.clinic_id,
        therapist_id=therapist_id,
        unassigned=unassigned,
        filters=filters,
        now=now,
    )
    shown = records.page_of(summaries, _page_number(page))
    follow_ups = records.open_follow_ups(
        viewer.clinic_id, therapist_id=therapist_id, unassigned=unassigned
    )
    detail: dict[str, Any] = {
        "patients": shown.total,
        "therapist": whose,
        **filters.audit_detail(),
    }
    if shown.pages > 1:
        detail["page"] = shown.page
    if follow_ups:
        detail["follow_ups"] = len(follow_ups)
    record_audit(request, viewer, "view_patients", detail=detail)
    kept = {
        "therapist": whose if whose != MINE else "",
        "q": search,
        "level": chosen or "",
        "flagged": _ON if filters.flagged else "",
        "quiet": _ON if filters.quiet else "",
    }
    return render(
        request,
        "therapist/patients.html",
        {
            "patients": shown.patients,
            "shown": shown,
            "page_links": [
                (number, f"{PREFIX}/?{_list_query(**kept, page=str(number))}")
                for number in range(1, shown.pages + 1)
            ],
            "filters": filters,
            "follow_ups": follow_ups,
            "today": now.date(),
            "now": now,
            "fmt": records.FORMATS,
            "patient_path": patient_path,
            "levels": RISK_LEVELS,
            "level": chosen,
            "unknown_level": bool(level) and chosen is None,
            "whose": whose,
            "colleagues": therapists.staff(viewer.clinic_id),
            "due_measures": measure_records.due_by_patient(viewer.clinic_id),
            "quiet_days": records.QUIET_DAYS,
        },
        viewer,
    )


def _export(request: Request, viewer: Viewer, sender_id: str, fmt: str) -> Response:
    patient = patient_of_viewer(request, viewer, sender_id)
    if fmt not in EXPORT_TYPES:
        raise not_found(viewer)
    now = utcnow()
    if fmt == "pdf":
        body = exports.pdf_bytes(
            records.load_record(patient), exported_by=viewer.email, exported_at=now
        )
    elif fmt == "csv":
        body = exports.csv_bytes(records.export_data(patient))
    elif fmt == "flags.csv":
        body = exports.flags_csv_bytes(records.export_data(patient))
    elif fmt == "fhir.json":
        from bot.records import fhir  # the FHIR models load only when a Bundle is asked for

        body = fhir.fhir_json_bytes(records.export_data(patient))
    else:
        body = exports.json_bytes(records.export_data(patient))
    record_audit(request, viewer, "export", target=patient.sender_id, detail={"format": fmt})
    safe_id = _UNSAFE_FILENAME.sub("_", patient.name).strip("_.")[:80] or "patient"
    filename = f"companion-{safe_id}-{now.astimezone(UTC):%Y%m%d}.{fmt}"
    return Response(
        body,
        media_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Registered before the patient page: its ``path`` parameter would match these addresses too.
@router.get("/patients/{sender_id:path}/export.{fmt}", include_in_schema=False)
def export(request: Request, sender_id: str, fmt: str, viewer: ViewerDep) -> Response:
    """The patient's record as CSV (journal entries; ``flags.csv``: risk flags), JSON (what
    ``python -m bot export`` prints), a FHIR Bundle (``fhir.json``, for an EHR) or PDF."""
    return _export(request, viewer, sender_id, fmt)


def flag_of_viewer(
    request: Request, viewer: Viewer, sender_id: str, flag_id: str
) -> tuple[records.PatientRef, records.Flag]:
    """The viewer's patient and one of their flags; the audited 404 for anything else."""
    patient = patient_of_viewer(request, viewer, sender_id)
    flag = records.flag_of(patient, int(flag_id)) if _FLAG_ID.fullmatch(flag_id) else None
    if flag is None:
        raise denied_patient(request, viewer)
    return patient, flag


def _back_to_flag(patient: records.PatientRef, flag_id: int, query: str = "") -> Response:
    return RedirectResponse(
        f"{patient_path(patient.sender_id)}{query}#flag-{flag_id}", status_code=303
    )


@router.post("/patients/{sender_id:path}/flags/{flag_id}/acknowledge", include_in_schema=False)
def acknowledge(
    request: Request,
    sender_id: str,
    flag_id: str,
    viewer: CsrfViewerDep,
    action: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    follow_up: Annotated[str, Form()] = "",
) -> Response:
    """Record that the viewer has seen a risk flag and what was done about it (one of the
    clinic's actions, a note, an optional follow-up date), then go back to it on the patient
    page. The audit row names the action and the follow-up date, and whether there is a note,
    never the note itself."""
    patient, flag = flag_of_viewer(request, viewer, sender_id, flag_id)
    try:
        chosen, text, due = records.check_acknowledgement(
            viewer.clinic_id, action=action, note=note, follow_up=follow_up, today=utcnow().date()
        )
    except records.ActionError as problem:
        context = {
            "title": "Not acknowledged",
            "message": str(problem),
            "back": f"{patient_path(patient.sender_id)}#flag-{flag.id}",
        }
        return render(request, "therapist/error.html", context, viewer, status=400)
    record_audit(
        request,
        viewer,
        "acknowledge_flag",
        target=patient.sender_id,
        detail={
            "flag_id": flag.id,
            "action": chosen,
            "note": text is not None,
            "follow_up": due.isoformat() if due else None,
        },
    )
    records.acknowledge_flag(
        patient, flag.id, by=viewer.email, action=chosen, note=text, follow_up=due
    )
    return _back_to_flag(patient, flag.id, f"?acknowledged={flag.id}")


@router.post("/patients/{sender_id:path}/flags/{flag_id}/undo", include_in_schema=False)
def undo(request: Request, sender_id: str, flag_id: str, viewer: CsrfViewerDep) -> Response:
    """Open an acknowledged flag again (acknowledged by mistake, or not dealt with after all).
    The acknowledgement stays in the flag's history, marked undone; the audit row says so."""
    patient, flag = flag_of_viewer(request, viewer, sender_id, flag_id)
    changed = records.undo_acknowledgement(patient, flag.id, by=viewer.email)
    if changed is None:  # deleted in the meantime (its patient erased their data)
        raise denied_patient(request, viewer)
    previous = flag.current
    record_audit(
        request,
        viewer,
        "undo_acknowledgement",
        target=patient.sender_id,
        detail={
            "flag_id": flag.id,
            "changed": changed,
            "acknowledged_by": flag.acknowledged_by,
            "action": previous.action if previous else None,
        },
    )
    return _back_to_flag(patient, flag.id, f"?reopened={flag.id}")


@router.post("/patients/{sender_id:path}/flags/{flag_id}/follow-up/done", include_in_schema=False)
def follow_up_done(
    request: Request, sender_id: str, flag_id: str, viewer: CsrfViewerDep
) -> Response:
    """Mark a flag's follow-up done: it leaves the open follow-ups on the patients list."""
    patient, flag = flag_of_viewer(request, viewer, sender_id, flag_id)
    changed = records.complete_follow_up(patient, flag.id, by=viewer.email)
    if changed is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "follow_up_done",
        target=patient.sender_id,
        detail={"flag_id": flag.id, "changed": changed},
    )
    back = request.query_params.get("back")
    if back == "list":
        return RedirectResponse(f"{PREFIX}/#follow-ups", status_code=303)
    return _back_to_flag(patient, flag.id)


@router.get("/patients/{sender_id:path}", include_in_schema=False)
def patient_page(
    request: Request,
    sender_id: str,
    viewer: ViewerDep,
    q: str = "",
    kind: Annotated[list[str] | None, Query()] = None,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
    acknowledged: str = "",
    reopened: str = "",
    level: Annotated[list[str] | None, Query()] = None,
    revoked: str = "",
    updated: str = "",
    measures: str = "",
    questions: str = "",
    sessions: str = "",
) -> Response:
    """Open flags, the chart, the journal and the conversations, after the GET filters."""
    patient = patient_of_viewer(request, viewer, sender_id)
    filters = records.Filters.parse(
        query=q, kinds=kind or (), start=start, end=end, levels=level or ()
    )
    now = utcnow()
    fmt = records.formats_for(patient.clinic_timezone)
    record = records.load_record(patient, filters, now=now)
    filters = record.filters
    results = list(record.measures)
    record_audit(
        request, viewer, "view_patient", target=patient.sender_id, detail=filters.audit_detail()
    )
    just_acknowledged = next(
        (flag for flag in record.acknowledged_flags if str(flag.id) == acknowledged), None
    )
    just_reopened = next((flag for flag in record.open_flags if str(flag.id) == reopened), None)
    return render(
        request,
        "therapist/patient.html",
        {
            "record": record,
            "filters": filters,
            "chart": render_chart(record.chart),
            "fmt": fmt,
            "kinds": records.FILTER_KINDS,
            "levels": RISK_LEVELS,
            "path": patient_path(patient.sender_id),
            "just_acknowledged": just_acknowledged,
            "just_reopened": just_reopened,
            "flag_actions": records.clinic_actions(viewer.clinic_id),
            "max_note": MAX_NOTE,
            "today": now.astimezone(fmt.zone).date(),
            "now": now,
            "erasure_request": erasure.open_request_for(patient.id),
            "erased_at": erasure.patient_erased_at(patient.id),
            "links": clinic_patients.links(viewer.clinic_id, patient.sender_id) or [],
            "revoked_link": revoked if revoked else None,
            "updated": bool(updated),
            "colleagues": therapists.staff(viewer.clinic_id),
            "max_label": clinic_patients.MAX_LABEL,
            "lifetimes": clinic_patients.LINK_LIFETIME_DAYS,
            "default_days": clinic_patients.DEFAULT_INVITE_LIFETIME.days,
            "schedules": measure_records.schedules_of(patient.sender_id),
            "results": results,
            "measure_charts": render_measure_charts(results, fmt.zone),
            "instruments": measure_catalogue.measures(),
            "measures_note": MEASURE_NOTES.get(measures),
            "questions_note": QUESTION_NOTES.get(questions),
            "max_question": care_team_questions.MAX_QUESTION_CHARS,
            "sessions": session_calendar.recorded_sessions(patient.sender_id),
            "sessions_note": SESSION_NOTES.get(sessions),
            "reminders_on": reminders.active_subscription(patient.sender_id) is not None,
            "clinic_time_zone": session_calendar.clinic_zone(patient.sender_id).key,
            "consent": consents.latest(patient.sender_id),
        },
        viewer,
    )
