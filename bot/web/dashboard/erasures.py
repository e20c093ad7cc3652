"""Patients' erasure requests, for clinics that must keep records (``erasure_review``).

Every therapist of the clinic sees the list, so that whoever the patient talks to next can
tell them where their request stands. Only clinic administrators resolve a request: erasing
cannot be undone, and whether a legal duty to keep the records applies is the clinic's
records decision, not any single clinician's. A request of another clinic is the same
audited 404 as one that does not exist, and a therapist who is not an administrator gets
that 404 for the resolve address too (as for the audit log).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from bot import records
from bot.clinics import audit
from bot.privacy import erasure
from bot.storage.models import utcnow
from bot.web.dashboard.patients import patient_path
from bot.web.dashboard.security import (
    PREFIX,
    Viewer,
    client_ip,
    denied,
    render,
    require_csrf,
    require_viewer,
)

router = APIRouter()

PAGE = f"{PREFIX}/erasure-requests"
_REQUEST_ID = re.compile(r"^[0-9]{1,18}$")
DECISIONS = ("erase", "decline")


def _page(
    request: Request,
    viewer: Viewer,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    open_requests, resolved = erasure.list_requests(viewer.clinic_id)
    audit.record(
        "view_erasure_requests",
        actor=viewer.email,
        clinic_id=viewer.clinic_id,
        ip=client_ip(request),
        detail={"open": len(open_requests), "resolved": len(resolved)},
    )
    return render(
        request,
        "therapist/erasure_requests.html",
        {
            "open_requests": open_requests,
            "resolved": resolved,
            "notice": notice,
            "error": error,
            "fmt": records.FORMATS,
            "now": utcnow(),
            "patient_path": patient_path,
            "max_note": erasure.MAX_NOTE,
        },
        viewer,
        status=status,
    )


@router.get("/erasure-requests", include_in_schema=False)
def erasure_requests(
    request: Request,
    viewer: Annotated[Viewer, Depends(require_viewer)],
    erased: str = "",
    declined: str = "",
) -> Response:
    """Open requests (longest waiting first) and the latest resolved ones."""
    notice = None
    if _REQUEST_ID.fullmatch(erased):
        notice = (
            f"Request {erased}: the patient's data was erased. The receipt is in the audit log."
        )
    elif _REQUEST_ID.fullmatch(declined):
        notice = f"Request {declined} was declined; the reason is shown below."
    return _page(request, viewer, notice=notice)


@router.post("/erasure-requests/{request_id}/resolve", include_in_schema=False)
def resolve(
    request: Request,
    request_id: str,
    viewer: Annotated[Viewer, Depends(require_csrf)],
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Erase the patient's data, or decline the request with a reason for the patient."""
    if not viewer.is_admin or not _REQUEST_ID.fullmatch(request_id):
        raise denied(request, viewer)
    found = erasure.request_of(viewer.clinic_id, int(request_id))
    if found is None:
        raise denied(request, viewer)
    if not found.is_open:
        return _page(
            request, viewer, error=f"Request {found.id} was already {found.status}.", status=409
        )
    if decision == "decline":
        try:
            erasure.decline_request(
                viewer.clinic_id, found.id, by=viewer.email, note=note, ip=client_ip(request)
            )
        except erasure.AlreadyResolved:
            return _page(
                request, viewer, error=f"Request {found.id} was already resolved.", status=409
            )
        except ValueError as problem:
            return _page(request, viewer, error=str(problem), status=400)
        return RedirectResponse(f"{PAGE}?declined={found.id}", status_code=303)
    if decision != "erase":
        return _page(request, viewer, error="Choose to erase or to decline.", status=400)
    if confirm != "yes":
        return _page(
            request,
            viewer,
            error="Tick the box to confirm that no duty to keep these records applies.",
            status=400,
        )
    receipt = erasure.erase_patient(
        found.sender_id, viewer.email, request_id=found.id, ip=client_ip(request)
    )
    if receipt.failed:
        stores = ", ".join(receipt.failed)
        return _page(
            request,
            viewer,
            error=f"Erasing failed for: {stores}. Everything else was erased and the request "
            "stays open; try again, or ask whoever runs the server to look at its log.",
            status=500,
        )
    return RedirectResponse(f"{PAGE}?erased={found.id}", status_code=303)
