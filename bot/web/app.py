"""The web app (port 8000): ``/widget.js``, the demo clinic page, clinics' widget settings.

It never imports Rasa: the widget talks to the Rasa server directly over socket.io, with a
token this app (or ``python -m bot patient invite``) issued. What this app serves must keep
working when the Rasa server is down - above all the clinic's crisis numbers, which the
widget receives with its configuration.

Cross-origin rules are per clinic: a clinic's page may read that clinic's configuration and
start an anonymous demo chat only from one of that clinic's origins. The ``Origin`` header
only keeps other sites' pages out: any program can send it. So anonymous sessions are also
limited per client address and in total (each is a new patient with its own chat allowance
and rows in the database), and there are none at all with demo mode off, where no demo
clinic is made either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from starlette.middleware.gzip import GZipMiddleware

from bot import settings
from bot.chat.rate_limit import RateLimiter
from bot.clinics import patients, registry
from bot.patient_tokens import MESSAGES, SETUP_HINTS, AccessDenied, normalize_origin
from bot.storage import db
from bot.web import access_log, api_docs, dashboard, my_data, reminder_links, safety_page
from bot.web.dashboard import security as dashboard_security
from bot.web.headers import AddHeaders

WEB_DIR = Path(__file__).resolve().parent
WIDGET_FILE = WEB_DIR / "static" / "widget.js"
TEMPLATES = Jinja2Templates(directory=WEB_DIR / "templates")

#: Headers for every response: no sniffing, no referrer leaking a patient's link, no framing
#: of our pages by other sites.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


#: Why an anonymous session was refused for the rate limit.
TOO_MANY_SESSIONS_MESSAGE = (
    "Too many chats were started from here just now. Please try again in a few minutes. "
    "If you are in crisis, call or text 988, or call 911 in an emergency."
)

ANONYMOUS_SESSION_DOCS: dict[int | str, dict[str, Any]] = {
    **api_docs.ANONYMOUS_SESSION_RESPONSES,
    403: {
        "model": api_docs.ApiError,
        "description": "The clinic allows no anonymous chats, or not from this page's origin, "
        "or this server allows none (demo mode off).",
    },
    429: {
        "model": api_docs.ApiError,
        "description": "Too many anonymous sessions from this address, or in all; "
        "``Retry-After`` says how many seconds to wait.",
    },
}


def _error(
    status: int, reason: str, message: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": reason, "message": message or MESSAGES[reason]}, status, headers=headers
    )


def _setup_refusal(status: int, reason: str, hint: str) -> JSONResponse:
    """A refusal that names a set-up problem of the page (an unknown clinic, a page on none
    of the clinic's origins). Any page may read it, unlike the configuration itself: it tells
    nothing a clinic's tag does not, and without it the widget could only say "not available",
    as if the servers were down. ``hint`` is for the web developer's console."""
    return JSONResponse(
        {"error": reason, "message": MESSAGES[reason], "hint": hint},
        status,
        headers={"Access-Control-Allow-Origin": "*", "Vary": "Origin", "Cache-Control": "no-store"},
    )


def _origin_refusal(slug: str, origin: str, clinic: registry.ClinicView) -> JSONResponse | None:
    """The refusal for a page whose ``Origin`` is not one of the clinic's; ``None`` if it is."""
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        hint = SETUP_HINTS["opaque_origin"].format(slug=slug, origin=origin)
        return _setup_refusal(403, "origin_not_allowed", hint)
    if normalized in clinic.origins:
        return None
    hint = SETUP_HINTS["origin_not_allowed"].format(slug=slug, origin=normalized)
    return _setup_refusal(403, "origin_not_allowed", hint)


def _link_required(clinic: registry.ClinicView) -> dict[str, str] | None:
    """Why a visitor without a personal link cannot chat at this clinic (``None``: they can
    start an anonymous chat), sent with the configuration so the widget says it at once,
    without asking for a session it cannot have."""
    if not clinic.allow_anonymous:
        reason = "anonymous_not_allowed"
    elif not settings.demo_mode():
        reason = "anonymous_off"
    else:
        return None
    return {
        "error": reason,
        "message": MESSAGES[reason],
        "hint": SETUP_HINTS[reason].format(slug=clinic.slug),
    }


class SessionLimits:
    """How many anonymous sessions may start: per client address and in total
    (``COMPANION_ANONYMOUS_SESSIONS_PER_IP``, ``COMPANION_ANONYMOUS_SESSIONS``), each a
    token bucket as full as its count."""

    def __init__(self) -> None:
        per_ip = settings.anonymous_sessions_per_ip()
        total = settings.anonymous_sessions_total()
        self.per_ip = (
            RateLimiter(per_ip[0], per_ip[1], per_ip[0], hold_refused=False) if per_ip else None
        )
        self.total = (
            RateLimiter(total[0], total[1], total[0], hold_refused=False) if total else None
        )

    def wait(self, address: str) -> int:
        """Seconds to wait before a session may start from ``address``; 0 takes one now.

        The address's bucket is asked first, so one address flooding the endpoint spends
        its own allowance and not everyone's.
        """
        if self.per_ip is not None:
            decision = self.per_ip.take(address)
            if not decision.allowed:
                return decision.retry_after
        if self.total is not None:
            decision = self.total.take("")
            if not decision.allowed:
                return decision.retry_after
        return 0


def _cors(response: Response, request: Request, clinic: registry.ClinicView | None) -> Response:
    """Let the clinic's own pages read this response, and nobody else's."""
    response.headers["Vary"] = "Origin"
    origin = request.headers.get("origin")
    if clinic is None or not origin:
        return response
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        return response
    if normalized in clinic.origins:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


def _clinic_or_none(slug: str) -> registry.ClinicView | None:
    """The clinic of ``slug``; the demo clinic is made on first use in demo mode only."""
    if slug == settings.demo_clinic_slug():
        return registry.ensure_demo_clinic()
    try:
        registry.check_slug(slug)
    except registry.ClinicError:
        return None
    return registry.get_clinic(slug)


def _demo_page_policy() -> str:
    """Content Security Policy of the demo page: our script, our servers, nothing inline."""
    web = settings.public_web_url()
    rasa = settings.public_rasa_url()
    sockets = rasa.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return (
        f"default-src 'self'; script-src 'self' {web}; connect-src 'self' {web} {rasa} {sockets}; "
        f"style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
    )


logger = logging.getLogger(__name__)


def _server_error(_request: Request, _error: Exception) -> Response:
    """The 500 answer, with the security headers set here: Starlette sends it from outside
    every middleware, so :class:`AddHeaders` never sees it."""
    return PlainTextResponse(
        "Internal Server Error", 500, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"}
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the risk-flag notifier beside the app: flags are told to clinics from here, never
    from the action server, so a crisis reply never waits for e-mail."""
    from bot.clinics.notify import NotifierThread
    from bot.clinics.reminders import reminder_pass

    interval = settings.notify_interval()
    notifier = None
    if interval > 0:
        # Patients' reminders after their sessions go through the same loop and SMTP server.
        notifier = NotifierThread(interval_seconds=interval, more_passes=(reminder_pass,))
        notifier.start()
    else:
        logger.info("Risk-flag notifications are not sent by this process (interval 0).")
    try:
        yield
    finally:
        if notifier is not None:  # stop() waits for a notice in flight: not on the event loop
            await asyncio.to_thread(notifier.stop)


def create_app() -> FastAPI:
    """The ASGI application (``uvicorn bot.web.app:create_app --factory``)."""
    app = FastAPI(
        title="Integration companion web app",
        summary="Chat widget, demo clinic page and clinics' widget settings.",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    access_log.install()
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(AddHeaders, headers=SECURITY_HEADERS)
    # Exports and redirects do not go through dashboard_security.render; this makes sure
    # they are not cached or framed either.
    app.add_middleware(
        AddHeaders, headers=dashboard_security.DASHBOARD_HEADERS, prefix=dashboard_security.PREFIX
    )
    app.add_exception_handler(dashboard_security.LoginRequired, dashboard_security.login_required)
    app.add_exception_handler(dashboard_security.PageError, dashboard_security.page_error)
    app.include_router(dashboard.router)
    app.include_router(my_data.router)
    app.include_router(safety_page.router)
    app.include_router(reminder_links.router)

    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    session_limits = SessionLimits()

    @app.get("/healthz", tags=["operations"], responses=api_docs.HEALTH_RESPONSES)
    def healthz() -> JSONResponse:
        """Liveness and database reachability (for load balancers and ``make run``)."""
        try:
            db.ensure_schema()
            with db.session_scope(write=False) as session:
                session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return JSONResponse({"status": "error", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        if not WIDGET_FILE.is_file():
            return Response(
                "/* widget.js has not been built: run `make install` */",
                503,
                media_type="text/javascript",
            )
        return FileResponse(
            WIDGET_FILE,
            media_type="text/javascript; charset=utf-8",
            headers={
                "Cache-Control": "public, max-age=300",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def demo_page(request: Request) -> Response:
        clinic = registry.ensure_demo_clinic() if settings.demo_mode() else None
        if clinic is None:
            return HTMLResponse(
                "<!doctype html><title>Not found</title><p>There is no demo on this server.</p>",
                404,
                headers={"Content-Security-Policy": _demo_page_policy()},
            )
        response = TEMPLATES.TemplateResponse(
            request,
            "demo.html",
            {"clinic": clinic, "widget_src": settings.widget_script_url()},
        )
        response.headers["Content-Security-Policy"] = _demo_page_policy()
        return response

    @app.get(
        "/api/clinics/{slug}/widget-config",
        tags=["widget"],
        responses=api_docs.WIDGET_CONFIG_RESPONSES,
    )
    def widget_config(slug: str, request: Request) -> Response:
        """Branding, greeting, crisis numbers and where to connect, for the clinic's widget.

        A page on another origin than the clinic's gets a refusal that says so instead (a
        request from the web app's own pages carries no ``Origin`` and gets the settings).
        """
        clinic = _clinic_or_none(slug)
        config: dict[str, Any] | None = registry.widget_config(slug) if clinic else None
        if clinic is None or config is None:
            hint = SETUP_HINTS["unknown_clinic"].format(slug=slug)
            return _setup_refusal(404, "unknown_clinic", hint)
        origin = request.headers.get("origin")
        refusal = _origin_refusal(slug, origin, clinic) if origin else None
        if refusal is not None:
            return refusal
        config["link_required"] = _link_required(clinic)
        response = JSONResponse(config, headers={"Cache-Control": "no-cache"})
        return _cors(response, request, clinic)

    @app.post(
        "/api/clinics/{slug}/anonymous-session",
        tags=["widget"],
        responses=ANONYMOUS_SESSION_DOCS,
    )
    def anonymous_session(slug: str, request: Request) -> Response:
        """A short-lived token for a visitor without a personal link (demo clinics only)."""
        wait = session_limits.wait(request.client.host if request.client else "")
        if wait:
            refusal = _error(
                429, "rate_limited", TOO_MANY_SESSIONS_MESSAGE, {"Retry-After": str(wait)}
            )
            return _cors(refusal, request, None)
        clinic = _clinic_or_none(slug)
        if clinic is None:
            return _cors(_error(404, "unknown_clinic"), request, None)
        if not settings.demo_mode():
            return _cors(_error(403, "anonymous_off"), request, clinic)
        try:
            token, expires_at = patients.start_anonymous(slug, request.headers.get("origin"))
        except AccessDenied as denied:
            return _cors(_error(403, denied.reason), request, clinic)
        response = JSONResponse(
            {"token": token, "expires_at": expires_at.isoformat()},
            headers={"Cache-Control": "no-store"},
        )
        return _cors(response, request, clinic)

    @app.options("/api/clinics/{slug}/{endpoint}", include_in_schema=False)
    def preflight(slug: str, endpoint: str, request: Request) -> Response:
        response = Response(status_code=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
        return _cors(response, request, _clinic_or_none(slug))

    return app
