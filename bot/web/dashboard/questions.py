"""Questions for the patient's next reflection, on the patient page: write one, withdraw one.

What the patient answered is read with the page (:mod:`bot.journal.care_team_questions`);
these routes only add and withdraw questions, for a patient of the viewer's clinic (another
clinic's patient is the audited 404), audited like every change (``assign_prompt``,
``withdraw_prompt``; the audit names the question by id, never by its text), and go back to
the page's questions section.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from bot.journal import care_team_questions
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


@router.post("/patients/{sender_id:path}/questions/{question_id}/withdraw", include_in_schema=False)
def withdraw(request: Request, sender_id: str, question_id: str, viewer: CsrfViewerDep) -> Response:
    """Withdraw a question the patient has not been asked yet."""
    patient = patient_of_viewer(request, viewer, sender_id)
    row = row_id(request, viewer, question_id)
    done = care_team_questions.withdraw(viewer.clinic_id, patient.sender_id, row, by=viewer.email)
    if done is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "withdraw_prompt",
        target=patient.sender_id,
        detail={"question_id": row, "changed": done},
    )
    return back_to_section(patient.sender_id, "questions", "withdrawn" if done else "unchanged")


@router.post("/patients/{sender_id:path}/questions", include_in_schema=False)
def ask(
    request: Request,
    sender_id: str,
    viewer: CsrfViewerDep,
    question: Annotated[str, Form()] = "",
) -> Response:
    """Keep a question for the patient's next session reflection."""
    patient = patient_of_viewer(request, viewer, sender_id)
    try:
        made = care_team_questions.ask(
            viewer.clinic_id, patient.sender_id, question, by=viewer.email
        )
    except ValueError as problem:
        context = {"title": "Not saved", "message": str(problem), "back": patient_path(sender_id)}
        return render(request, "therapist/error.html", context, viewer, status=400)
    if made is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "assign_prompt",
        target=patient.sender_id,
        detail={"question_id": made.id, "length": len(made.question)},
    )
    return back_to_section(patient.sender_id, "questions", "asked")
