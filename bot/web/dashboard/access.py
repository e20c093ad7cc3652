"""Signing in and out of the dashboard, and the clinic administrators' pages: the audit log
and the staff page, where an administrator ends a colleague's access (disable, enable, end
sessions) for accounts of their own clinic only."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from bot.clinics import audit, therapists
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
    denied,
    login_csrf_token,
    new_login_nonce,
    render,
    require_admin,
    require_admin_csrf,
    require_csrf,
    safe_next,
    set_cookie,
)

router = APIRouter()

SIGNED_OUT = "You have signed out."
#: Longest value of a filter field that is worth looking up.
_FILTER_MAX = 320
STAFF_PAGE = f"{PREFIX}/staff"
_ACCOUNT_ID = re.compile(r"^[0-9]{1,18}$")
#: The staff forms' actions, and what the page says after each.
STAFF_ACTIONS: dict[str, str] = {
    "disable": "{email} can no longer sign in, and every session of theirs has ended.",
    "enable": "{email} can sign in again.",
    "end-sessions": "{email} was signed out everywhere.",
}


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
    """Check the form token, take the attempt's turn, wait for it, then check the password.

    The turn is taken (and counted) before the wait, so simultaneous attempts queue instead of
    all being checked; the wait is an ``asyncio.sleep`` so that a guesser slows only their own
    attempts, not the worker threads everyone else's pages need.
    """
    if not check_login_csrf(request, csrf_token):
        context = {"title": CSRF_TITLE, "message": CSRF_MESSAGE}
        return render(request, "therapist/error.html", context, None, 403)
    ip = client_ip(request)
    attempt = await run_in_threadpool(therapists.reserve, email, ip)
    if not attempt.refused and attempt.wait > 0:
        await asyncio.sleep(attempt.wait)
    result = await run_in_threadpool(
        therapists.authenticate,
        email,
        password,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
        attempt=attempt,
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


# ----------------------------------------------------------------------------- staff page


def _staff_page(
    request: Request,
    viewer: Viewer,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The clinic's accounts; the visit is recorded before the list is read."""
    audit.record(
        "view_staff", actor=viewer.email, clinic_id=viewer.clinic_id, ip=client_ip(request)
    )
    members = therapists.staff(viewer.clinic_id)
    return render(
        request,
        "therapist/staff.html",
        {"members": members, "notice": notice, "error": error},
        viewer,
        status=status,
    )


@router.get("/staff", include_in_schema=False)
def staff_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(require_admin)],
    done: str = "",
    account: str = "",
) -> Response:
    """The clinic's accounts, with what the last form did (from the redirect's query)."""
    notice = None
    if done in STAFF_ACTIONS and _ACCOUNT_ID.fullmatch(account):
        emails = {member.id: member.email for member in therapists.staff(viewer.clinic_id)}
        if int(account) in emails:
            notice = STAFF_ACTIONS[done].format(email=emails[int(account)])
    return _staff_page(request, viewer, notice=notice)


@router.post("/staff/{account_id}/{action}", include_in_schema=False)
def staff_change(
    request: Request,
    account_id: str,
    action: str,
    viewer: Annotated[Viewer, Depends(require_admin_csrf)],
) -> Response:
    """Disable, enable or sign out an account of the administrator's own clinic.

    Another clinic's account is the same audited 404 as one that does not exist. Disabling
    keeps at least one administrator able to sign in, so no administrator can shut the
    clinic out of this page (the command line can, for whoever runs the server).
    """
    if action not in STAFF_ACTIONS or not _ACCOUNT_ID.fullmatch(account_id):
        raise denied(request, viewer)
    scope = {
        "by": viewer.email,
        "therapist_id": int(account_id),
        "clinic": viewer.clinic_id,
        "ip": client_ip(request),
    }
    try:
        if action == "disable":
            change = therapists.disable(keep_an_admin=True, **scope)
        elif action == "enable":
            change = therapists.enable(**scope)
        else:
            change = therapists.end_sessions(**scope)
    except therapists.AccountNotFound:
        raise denied(request, viewer) from None
    except therapists.LastAdministrator as problem:
        return _staff_page(request, viewer, error=str(problem), status=409)
    if change.therapist.id == viewer.therapist_id and action != "enable":
        response = RedirectResponse(f"{PREFIX}/login?signed_out=1", status_code=303)
        delete_cookie(response, request, SESSION_COOKIE)
        return response
    return RedirectResponse(
        f"{STAFF_PAGE}?done={action}&account={change.therapist.id}", status_code=303
    )
