"""Validated measures on the patient page: schedule one (once or repeating), cancel it.

The results themselves are read with the page (:mod:`bot.journal.measure_records`); these
routes only change schedules, for a patient of the viewer's clinic, audited like every
change, and go back to the page's measures section.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from bot.journal import measure_records
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

#: How often a measure can repeat, as the form offers it (days; empty: once).
REPEATS: dict[str, int | None] = {"once": None, "14": 14, "28": 28}


@router.post("/patients/{sender_id:path}/measures/{schedule_id}/cancel", include_in_schema=False)
def cancel(request: Request, sender_id: str, schedule_id: str, viewer: CsrfViewerDep) -> Response:
    """Stop a schedule; what the patient already answered stays."""
    patient = patient_of_viewer(request, viewer, sender_id)
    row = row_id(request, viewer, schedule_id)
    done = measure_records.cancel(viewer.clinic_id, patient.sender_id, row, by=viewer.email)
    if done is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "cancel_measure",
        target=patient.sender_id,
        detail={"schedule_id": row, "changed": done},
    )
    return back_to_section(patient.sender_id, "measures", "cancelled")


@router.post("/patients/{sender_id:path}/measures", include_in_schema=False)
def schedule(
    request: Request,
    sender_id: str,
    viewer: CsrfViewerDep,
    measure: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "once",
    start: Annotated[str, Form()] = "",
) -> Response:
    """Ask the patient to fill in a measure from a day on, once or every two or four weeks."""
    patient = patient_of_viewer(request, viewer, sender_id)
    try:
        first = date.fromisoformat(start) if start else None
        if repeat not in REPEATS:
            raise ValueError("Choose how often the measure repeats.")
        made = measure_records.schedule(
            viewer.clinic_id,
            patient.sender_id,
            measure,
            by=viewer.email,
            every_days=REPEATS[repeat],
            start=first,
        )
    except ValueError as problem:
        message = str(problem) if "Invalid isoformat" not in str(problem) else "Give a valid day."
        context = {"title": "Not scheduled", "message": message, "back": patient_path(sender_id)}
        return render(request, "therapist/error.html", context, viewer, status=400)
    if made is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "schedule_measure",
        target=patient.sender_id,
        detail={"measure": made.measure, "every_days": made.every_days, "due_on": str(made.due_on)},
    )
    return back_to_section(patient.sender_id, "measures", "scheduled")
