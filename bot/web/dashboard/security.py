"""What every dashboard page relies on: who is signed in, CSRF checks, and safe rendering.

- :func:`require_viewer` is the FastAPI dependency of every page behind the login: it
  resolves the ``companion_session`` cookie to a live server-side session or raises
  :class:`LoginRequired`, which the app answers with a redirect to the login page.
- :func:`require_csrf` guards every POST: the form's ``csrf_token`` must be the session's;
  :func:`require_admin` and :func:`require_admin_csrf` add the administrator's role.
- :func:`render` renders a template with the headers every dashboard page needs; the
  app's :class:`bot.web.headers.AddHeaders` middleware adds the same headers to anything else under
  ``/therapist`` (exports, redirects, errors), so no response there is cached or framed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from bot import settings
from bot.clinics import audit, therapists

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
PREFIX = "/therapist"
LOGIN_PATH = f"{PREFIX}/login"
SESSION_COOKIE = "companion_session"
LOGIN_CSRF_COOKIE = "companion_login_csrf"
CSRF_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
#: Headers of every response under ``/therapist``: patient data is never cached by the
#: browser or a proxy, never framed, and the page may run only our own files.
DASHBOARD_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in therapist looking at a page."""

    therapist_id: int
    email: str
    clinic_id: int
    clinic_slug: str
    clinic_name: str
    is_admin: bool
    csrf_token: str


class LoginRequired(Exception):
    """No live session: the app redirects to the login page (see :func:`login_required`)."""

    def __init__(self, next_path: str | None = None) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


class PageError(Exception):
    """A refusal shown as the dashboard's error page (403 for CSRF, 404 for "not yours")."""

    def __init__(self, status: int, title: str, message: str, viewer: Viewer | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.viewer = viewer


NOT_FOUND_TITLE = "Not found"
NOT_FOUND_MESSAGE = "There is nothing here, or it is not part of your clinic's records."
CSRF_TITLE = "This form has expired"
CSRF_MESSAGE = "Please go back, reload the page and try again."


def not_found(viewer: Viewer | None = None) -> PageError:
    """The one 404 for unknown pages, other clinics' patients and admin pages alike."""
    return PageError(404, NOT_FOUND_TITLE, NOT_FOUND_MESSAGE, viewer)


def client_ip(request: Request) -> str | None:
    """The peer's address as uvicorn reports it.

    Behind a reverse proxy, run uvicorn with ``--proxy-headers --forwarded-allow-ips=<proxy>``:
    it then puts the trusted proxy's ``X-Forwarded-For`` here. Reading that header ourselves
    would let any client write whatever address it likes into the audit log.
    """
    return request.client.host if request.client else None


def secure_cookie(request: Request) -> bool:
    return settings.secure_cookies(request.url.scheme)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """A cookie only our dashboard's pages send back: no script access, no cross-site sends."""
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )


def delete_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, httponly=True, samesite="strict", secure=secure_cookie(request)
    )


def _viewer(signed_in: therapists.SignedIn) -> Viewer:
    therapist = signed_in.therapist
    return Viewer(
        therapist_id=therapist.id,
        email=therapist.email,
        clinic_id=therapist.clinic_id,
        clinic_slug=therapist.clinic_slug,
        clinic_name=therapist.clinic_name,
        is_admin=therapist.is_admin,
        csrf_token=signed_in.csrf_token,
    )


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in viewer, or ``None`` (for pages that work either way, like the login)."""
    signed_in = therapists.resolve_session(
        request.cookies.get(SESSION_COOKIE), ip=client_ip(request)
    )
    return _viewer(signed_in) if signed_in is not None else None


def require_viewer(request: Request) -> Viewer:
    """FastAPI dependency: the signed-in therapist, or :class:`LoginRequired`.

    A sync dependency, so FastAPI runs its database work in a worker thread.
    """
    viewer = current_viewer(request)
    if viewer is None:
        next_path = request.url.path if request.method == "GET" else None
        if next_path and request.url.query:
            next_path += "?" + request.url.query
        raise LoginRequired(next_path)
    return viewer


def denied(request: Request, viewer: Viewer) -> PageError:
    """Record a refused address in the audit log and return the ordinary 404 to raise."""
    audit.record(
        "access_denied",
        actor=viewer.email,
        clinic_id=viewer.clinic_id,
        outcome="denied",
        ip=client_ip(request),
        detail={"path": request.url.path},
    )
    return not_found(viewer)


def require_admin(request: Request, viewer: Annotated[Viewer, Depends(require_viewer)]) -> Viewer:
    """FastAPI dependency: a clinic administrator; anyone else gets the ordinary 404 (audited)."""
    if not viewer.is_admin:
        raise denied(request, viewer)
    return viewer


async def require_csrf(
    request: Request, viewer: Annotated[Viewer, Depends(require_viewer)]
) -> Viewer:
    """FastAPI dependency for every POST: the form's token must be this session's."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not hmac.compare_digest(
        submitted.encode(), viewer.csrf_token.encode()
    ):
        await run_in_threadpool(
            audit.record,
            "access_denied",
            actor=viewer.email,
            clinic_id=viewer.clinic_id,
            outcome="denied",
            ip=client_ip(request),
            detail={"path": request.url.path, "reason": "csrf"},
        )
        raise PageError(403, CSRF_TITLE, CSRF_MESSAGE, viewer)
    return viewer


async def require_admin_csrf(
    request: Request, viewer: Annotated[Viewer, Depends(require_csrf)]
) -> Viewer:
    """FastAPI dependency for an administrator's POST: the session's form token first, then
    the role; anyone else gets the ordinary 404 (audited), as for the admin pages."""
    if not viewer.is_admin:
        raise await run_in_threadpool(denied, request, viewer)
    return viewer


# ----------------------------------------------------------------------------- login form CSRF


def _login_key() -> bytes:
    return hmac.new(settings.token_secret(), b"companion dashboard login csrf", "sha256").digest()


def login_csrf_token(nonce: str) -> str:
    """The login form's token for a browser's nonce cookie (signed double submit).

    Before sign-in there is no session to hold a token, so the browser holds a random nonce
    in a cookie and the form carries its HMAC: a cross-site form can neither read the cookie
    nor compute the HMAC, and a cookie planted by a sibling site does not come with one.
    """
    return hmac.new(_login_key(), nonce.encode(), hashlib.sha256).hexdigest()


def new_login_nonce() -> str:
    return secrets.token_urlsafe(32)


def check_login_csrf(request: Request, submitted: str | None) -> bool:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or not submitted or len(nonce) > 100:
        return False
    return hmac.compare_digest(submitted.encode(), login_csrf_token(nonce).encode())


# ----------------------------------------------------------------------------- rendering


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    viewer: Viewer | None,
    status: int = 200,
) -> Response:
    """A dashboard page: ``viewer`` and ``csrf_token`` in the context, dashboard headers set."""
    full = {"viewer": viewer, "csrf_token": viewer.csrf_token if viewer else None, **context}
    response = TEMPLATES.TemplateResponse(request, template, full, status_code=status)
    response.headers.update(DASHBOARD_HEADERS)
    return response


def safe_next(path: str | None) -> str:
    """Where to go after signing in: only a dashboard path of this site, else the list.

    Anything else (``//evil.example``, ``https://…``, backslashes) would make the login page
    an open redirect.
    """
    if (
        not path
        or not path.startswith(PREFIX + "/")
        or path.startswith("//")
        or "\\" in path
        or any(ord(c) < 32 for c in path)
        or path.startswith(LOGIN_PATH)
    ):
        return PREFIX + "/"
    return path


async def login_required(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`LoginRequired`: 303 to the login page, cookie dropped."""
    target = LOGIN_PATH
    next_path = exc.next_path if isinstance(exc, LoginRequired) else None
    if next_path and safe_next(next_path) == next_path and next_path != PREFIX + "/":
        target += "?next=" + quote(next_path, safe="/")
    response = RedirectResponse(target, status_code=303)
    if SESSION_COOKIE in request.cookies:
        delete_cookie(response, request, SESSION_COOKIE)
    response.headers.update(DASHBOARD_HEADERS)
    return response


async def page_error(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`PageError`: the dashboard's error page."""
    assert isinstance(exc, PageError)
    return render(
        request,
        "therapist/error.html",
        {"title": exc.title, "message": exc.message},
        exc.viewer,
        status=exc.status,
    )
