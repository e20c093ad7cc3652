"""Signing in and out of the dashboard, and the clinic administrators' audit log page."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from bot import audit, therapists
from bot.web.dashboard.security import (
    CSRF_MESSAGE,
    CSRF_TITLE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    Viewer,
    check_login_csrf,
    client_ip,
    current_viewer,
    delete_cookie,
    login_csrf_token,
    new_login_nonce,
    render,
    require_admin,
    require_csrf,
    safe_next,
    set_cookie,
)

router = APIRouter()

SIGNED_OUT = "You have signed out."
#: Longest value of a filter field that is worth looking up.
_FILTER_MAX = 320


def _login_page(
    request: Request,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    """The login form, with a nonce cookie and the form token that matches it.

    An existing nonce is kept, so that two open login tabs both keep working.
    """
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or len(nonce) > 100:
        nonce = new_login_nonce()
    response = render(
        request,
        "therapist/login.html",
        {
            "login_csrf_token": login_csrf_token(nonce),
            "next": safe_next(next_path),
            "email": email,
            "error": error,
            "notice": notice,
        },
        None,
        status=status,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, nonce)
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "", signed_out: str = "") -> Response:
    if current_viewer(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    response = _login_page(request, next_path=next, notice=SIGNED_OUT if signed_out else None)
    if SESSION_COOKIE in request.cookies:  # an ended session's cookie is of no more use
        delete_cookie(response, request, SESSION_COOKIE)
    return response


@router.post("/login", include_in_schema=False)
async def login_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the form token, wait out any throttling delay, then check the password.

    The delay is an ``asyncio.sleep`` so that a guesser slows only their own attempts, not the
    worker threads everyone else's pages need.
    """
    if not check_login_csrf(request, csrf_token):
        context = {"title": CSRF_TITLE, "message": CSRF_MESSAGE}
        return render(request, "therapist/error.html", context, None, 403)
    delay = await run_in_threadpool(therapists.login_delay, email)
    if delay > 0:
        await asyncio.sleep(delay)
    result = await run_in_threadpool(
        therapists.authenticate,
        email,
        password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    if not result.ok or result.cookie is None:
        return _login_page(
            request,
            next_path=next,
            email=email.strip()[: therapists.MAX_EMAIL_LENGTH],
            error=therapists.LOGIN_FAILED,
            status=400,
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a browser that signs in again leaves no second live session behind
        await run_in_threadpool(therapists.end_session, previous, ip=client_ip(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, result.cookie)
    delete_cookie(response, request, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, viewer: Annotated[Viewer, Depends(require_csrf)]) -> Response:
    therapists.end_session(request.cookies.get(SESSION_COOKIE), ip=client_ip(request))
    response = RedirectResponse(f"{PREFIX}/login?signed_out=1", status_code=303)
    delete_cookie(response, request, SESSION_COOKIE)
    return response


# ----------------------------------------------------------------------------- audit page


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(require_admin)],
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """The clinic's audit log, newest first; the visit itself is recorded before it is shown."""
    problems: list[str] = []
    action = action.strip() if action.strip() in audit.ACTIONS else ""
    actor = actor.strip()[:_FILTER_MAX]
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name, text in (("since", since), ("until", until)):
        if text.strip():
            try:
                bounds[name] = audit.parse_moment(text[:40], end=name == "until")
            except ValueError:
                problems.append(f"{text[:40]!r} is not a date like 2026-11-27.")
    filters = {
        "action": action or None,
        "actor": actor or None,
        "since": bounds["since"].isoformat() if bounds["since"] else None,
        "until": bounds["until"].isoformat() if bounds["until"] else None,
    }
    audit.record(
        "view_audit",
        actor=viewer.email,
        clinic_id=viewer.clinic_id,
        ip=client_ip(request),
        detail={key: value for key, value in filters.items() if value},
    )
    rows = audit.query(
        viewer.clinic_id,
        action=action or None,
        actor=actor or None,
        since=bounds["since"],
        until=bounds["until"],
        limit=audit.DEFAULT_LIMIT,
    )
    return render(
        request,
        "therapist/audit.html",
        {
            "rows": rows,
            "actions": audit.ACTIONS,
            "filters": {"action": action, "actor": actor, "since": since, "until": until},
            "problems": problems,
            "limit": audit.DEFAULT_LIMIT,
        },
        viewer,
    )
