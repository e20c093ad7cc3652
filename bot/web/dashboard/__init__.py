"""The therapists' dashboard under ``/therapist/``: sign-in and audit (:mod:`.access`),
patients' records and exports (:mod:`.patients`), invitations and links (:mod:`.invites`),
validated measures (:mod:`.measures`),
questions for the next reflection (:mod:`.questions`),
erasure requests (:mod:`.erasures`);
shared checks in :mod:`.security`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from bot.web.dashboard import access, erasures, invites, measures, patients, questions, sessions
from bot.web.dashboard.security import Viewer, not_found, require_viewer

router = APIRouter(prefix="/therapist")
router.include_router(access.router)
router.include_router(invites.router)
router.include_router(measures.router)
router.include_router(questions.router)
router.include_router(sessions.router)
router.include_router(patients.router)
router.include_router(erasures.router)


@router.get("/{path:path}", include_in_schema=False)
def unknown_page(path: str, viewer: Annotated[Viewer, Depends(require_viewer)]) -> Response:
    """Any other dashboard address: the sign-in page for strangers, the ordinary 404 for
    therapists (so that guessing addresses tells nobody anything)."""
    raise not_found(viewer)
