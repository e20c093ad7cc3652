"""Ketamine sessions on the patient page: record one, delete a wrong one.

The integration window and the reminders after a session are counted from these
(:mod:`bot.journal.session_calendar`). Only for a patient of the viewer's clinic, audited
(``record_session``, ``delete_session``), and back to the page's sessions section.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from bot.journal import session_calendar
from bot.web.dashboard.patients import (
    CsrfViewerDep,
    back_to_section,
    denied_patient,
    patient_of_viewer,
    patient_path,
    record_audit,
    row_id,
)
from bot.web.dashboard.security import render

router = APIRouter()


@router.post("/patients/{sender_id:path}/sessions/{session_id}/delete", include_in_schema=False)
def delete(request: Request, sender_id: str, session_id: str, viewer: CsrfViewerDep) -> Response:
    """Delete a session recorded by mistake (its reminders and offers go with it)."""
    patient = patient_of_viewer(request, viewer, sender_id)
    row = row_id(request, viewer, session_id)
    gone = session_calendar.delete_session(viewer.clinic_id, patient.sender_id, row)
    if gone is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "delete_session",
        target=patient.sender_id,
        detail={"session_on": gone.session_on.isoformat(), "source": gone.source},
    )
    return back_to_section(patient.sender_id, "sessions", "deleted")


@router.post("/patients/{sender_id:path}/sessions", include_in_schema=False)
def record(
    request: Request,
    sender_id: str,
    viewer: CsrfViewerDep,
    day: Annotated[str, Form()] = "",
    at: Annotated[str, Form()] = "",
) -> Response:
    """Record a session's day, and its time if known (the clinic's time zone)."""
    patient = patient_of_viewer(request, viewer, sender_id)
    try:
        made = session_calendar.record_session(
            patient.sender_id,
            date.fromisoformat(day),
            by=viewer.email,
            source="staff",
            at_time=at or None,
            clinic_id=viewer.clinic_id,
        )
    except ValueError as problem:
        message = "Give a valid day." if "isoformat" in str(problem) else str(problem)
        context = {"title": "Not recorded", "message": message, "back": patient_path(sender_id)}
        return render(request, "therapist/error.html", context, viewer, status=400)
    if made is None:
        raise denied_patient(request, viewer)
    view, new = made
    record_audit(
        request,
        viewer,
        "record_session",
        target=patient.sender_id,
        detail={"session_on": view.session_on.isoformat(), "changed": new},
    )
    return back_to_section(patient.sender_id, "sessions", "recorded" if new else "exists")
