"""Inviting patients from the dashboard, and their links: issue, re-issue, revoke, assign.

Any therapist of a clinic may invite a patient of that clinic, as ``python -m bot patient
invite`` does on the server: the clinic's label for the patient, the therapist they are
assigned to, how long the link works. The personal link is shown once, as text, with a copy
button and a QR code (SVG, made by ``segno``) to scan from the screen or print; only the
link's id is stored, so a lost link is re-issued, never shown again. Every change is audited,
and a patient of another clinic is the same audited 404 as an unknown one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from bot.clinics import patients as clinic_patients
from bot.clinics import therapists
from bot.web.dashboard.patients import (
    CsrfViewerDep,
    ViewerDep,
    denied_patient,
    patient_of_viewer,
    patient_path,
    record_audit,
)
from bot.web.dashboard.security import PREFIX, Viewer, render

router = APIRouter()

INVITE_PAGE = f"{PREFIX}/invite"
LIFETIME_DAYS = clinic_patients.LINK_LIFETIME_DAYS
DEFAULT_LIFETIME_DAYS = clinic_patients.DEFAULT_INVITE_LIFETIME.days
_LINK_ID = re.compile(r"^[0-9a-f]{32}$")


def qr_svg(url: str) -> Markup:
    """The link as an inline SVG QR code: error correction M, dark on light, no XML prolog.

    ``segno`` writes only path data and numbers from the link's bits, never the link's text,
    so the markup is safe to place in the page as it is.
    """
    code = segno.make(url, error="m", micro=False)
    return Markup(code.svg_inline(scale=4, border=4, dark="#000", light="#fff", omitsize=True))


def _colleagues(viewer: Viewer) -> list[therapists.StaffMember]:
    return [member for member in therapists.staff(viewer.clinic_id) if not member.disabled]


def _lifetime(days: str) -> timedelta | None:
    return timedelta(days=int(days)) if days.isdigit() and int(days) in LIFETIME_DAYS else None


def _invite_form(
    request: Request,
    viewer: Viewer,
    *,
    label: str = "",
    therapist: str | None = None,
    days: int = DEFAULT_LIFETIME_DAYS,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "therapist/invite.html",
        {
            "colleagues": _colleagues(viewer),
            "label": label,
            "therapist": viewer.email if therapist is None else therapist,
            "days": days,
            "lifetimes": LIFETIME_DAYS,
            "max_label": clinic_patients.MAX_LABEL,
            "error": error,
        },
        viewer,
        status=status,
    )


def _issued(request: Request, viewer: Viewer, invite: clinic_patients.Invite, *, reissued: bool):
    return render(
        request,
        "therapist/invite_link.html",
        {
            "invite": invite,
            "name": invite.label or None,
            "qr": qr_svg(invite.url),
            "path": patient_path(invite.sender_id),
            "reissued": reissued,
        },
        viewer,
    )


@router.get("/invite", include_in_schema=False)
def invite_form(request: Request, viewer: ViewerDep) -> Response:
    """The invitation form: label, assigned therapist (the viewer by default), link lifetime."""
    return _invite_form(request, viewer)


@router.post("/invite", include_in_schema=False)
def invite(
    request: Request,
    viewer: CsrfViewerDep,
    label: Annotated[str, Form()] = "",
    therapist: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = str(DEFAULT_LIFETIME_DAYS),
) -> Response:
    """A new patient of the viewer's clinic and their link, shown once."""
    lifetime = _lifetime(days)
    if lifetime is None:
        return _invite_form(
            request,
            viewer,
            label=label,
            therapist=therapist,
            error="Choose how long the link works.",
            status=400,
        )
    try:
        issued = clinic_patients.invite(
            viewer.clinic_slug, lifetime, label=label, therapist=therapist or None
        )
    except clinic_patients.InviteError as problem:
        return _invite_form(
            request,
            viewer,
            label=label,
            therapist=therapist,
            days=lifetime.days,
            error=str(problem),
            status=400,
        )
    record_audit(
        request,
        viewer,
        "invite_patient",
        target=issued.sender_id,
        detail={"link_id": issued.link_id, "therapist": issued.therapist, "days": lifetime.days},
    )
    return _issued(request, viewer, issued, reissued=False)


@router.post("/patients/{sender_id:path}/links/{link_id}/revoke", include_in_schema=False)
def revoke_link(request: Request, sender_id: str, link_id: str, viewer: CsrfViewerDep) -> Response:
    """Switch off one of the patient's links, then back to the patient page's links."""
    patient = patient_of_viewer(request, viewer, sender_id)
    if not _LINK_ID.fullmatch(link_id):
        raise denied_patient(request, viewer)
    result = clinic_patients.revoke_link(viewer.clinic_id, patient.sender_id, link_id)
    if result is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "revoke_link",
        target=patient.sender_id,
        detail={"link_id": link_id, "changed": result},
    )
    return RedirectResponse(f"{patient_path(patient.sender_id)}?revoked={link_id}#links", 303)


@router.post("/patients/{sender_id:path}/links", include_in_schema=False)
def reissue(
    request: Request,
    sender_id: str,
    viewer: CsrfViewerDep,
    days: Annotated[str, Form()] = str(DEFAULT_LIFETIME_DAYS),
) -> Response:
    """A new link for the patient; their earlier invitations are switched off."""
    patient = patient_of_viewer(request, viewer, sender_id)
    lifetime = _lifetime(days) or timedelta(days=DEFAULT_LIFETIME_DAYS)
    issued = clinic_patients.reissue(viewer.clinic_id, patient.sender_id, lifetime)
    if issued is None:
        raise denied_patient(request, viewer)
    record_audit(
        request,
        viewer,
        "reissue_link",
        target=patient.sender_id,
        detail={"link_id": issued.link_id, "days": lifetime.days},
    )
    return _issued(request, viewer, issued, reissued=True)


@router.post("/patients/{sender_id:path}/details", include_in_schema=False)
def update_details(
    request: Request,
    sender_id: str,
    viewer: CsrfViewerDep,
    label: Annotated[str, Form()] = "",
    therapist: Annotated[str, Form()] = "",
) -> Response:
    """Change the patient's label and assigned therapist."""
    patient = patient_of_viewer(request, viewer, sender_id)
    try:
        clinic_patients.update_patient(
            viewer.clinic_id, patient.sender_id, label=label, therapist=therapist or None
        )
    except clinic_patients.InviteError as problem:
        context = {"title": "Not saved", "message": str(problem), "back": patient_path(sender_id)}
        return render(request, "therapist/error.html", context, viewer, status=400)
    record_audit(
        request,
        viewer,
        "update_patient",
        target=patient.sender_id,
        detail={"therapist": therapist or None, "label_changed": label != (patient.label or "")},
    )
    return RedirectResponse(f"{patient_path(patient.sender_id)}?updated=1#details", 303)
