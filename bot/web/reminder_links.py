"""The unsubscribe link in every reminder e-mail (:mod:`bot.clinics.reminders`).

``GET /reminders/unsubscribe/{token}`` asks to confirm: a link scanner or a mail program's
preview must not stop reminders by opening it. ``POST`` to the same address stops them: the
page's button, and the one-click unsubscribe of RFC 8058 that mail programs send
(``List-Unsubscribe=One-Click`` in the body; the body is not needed). The signed token is the
only credential, so there is no CSRF token: a forged request can only stop reminders, for the
one opt-in whose signed link it holds. A forged or erased link answers the same 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.templating import Jinja2Templates

from bot.clinics import reminders

router = APIRouter()

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
#: Personal, and no reason to be kept or framed; the page loads nothing and runs nothing.
HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Robots-Tag": "noindex, nofollow",
}


def _page(request: Request, status: int = 200, **context: object) -> Response:
    context = {"heading": "Reminders", "message": None, "confirm": False, **context}
    response = TEMPLATES.TemplateResponse(
        request, "reminders/unsubscribe.html", context, status_code=status
    )
    response.headers.update(HEADERS)
    return response


def _unknown(request: Request) -> Response:
    return _page(request, 404, message=reminders.content()["unknown_link"])


@router.get("/reminders/unsubscribe/{token}", include_in_schema=False)
def confirm(request: Request, token: str) -> Response:
    """Ask before stopping: opening the link alone changes nothing."""
    target = reminders.link_target(token)
    if target is None:
        return _unknown(request)
    words = reminders.content()
    if target.stopped:
        return _page(request, message=words["unsubscribed"].format(clinic=target.clinic_name))
    return _page(
        request,
        heading=words["unsubscribe_confirm"].format(clinic=target.clinic_name),
        confirm=True,
        button=words["unsubscribe_button"],
        action=str(request.url.path),
    )


@router.post("/reminders/unsubscribe/{token}", include_in_schema=False)
def unsubscribe(request: Request, token: str) -> Response:
    """Stop the reminders (the page's button, or a mail program's one-click POST)."""
    target = reminders.unsubscribe_by_token(token)
    if target is None:
        return _unknown(request)
    words = reminders.content()
    return _page(request, message=words["unsubscribed"].format(clinic=target.clinic_name))
