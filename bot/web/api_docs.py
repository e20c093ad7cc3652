"""What the JSON API answers, as published in ``/openapi.json``.

The routes build their JSON by hand (they must answer even when parts of the system are
down), so FastAPI cannot infer these shapes. They are declared here so that clinics' web
developers can rely on the published schema, and so that the schemathesis tests
(``tests/app/web/test_openapi_fuzz.py``) check every answer, refusals included, against it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ApiError(BaseModel):
    """Every refusal: a reason code for programs, a sentence for the patient."""

    error: str
    message: str
    #: For the web developer of a clinic's page (the widget writes it to the browser's
    #: console): what is set up wrong and the command that puts it right.
    hint: str | None = None


class Health(BaseModel):
    status: str
    database: str


class CrisisLine(BaseModel):
    name: str
    number: str
    #: Said after the number, e.g. "or text START to 88788"; absent when the line has none.
    detail: str | None = None


class WidgetConfig(BaseModel):
    """Everything the widget needs before it can show anything, crisis lines first."""

    clinic: str
    name: str
    accent_color: str
    greeting: str
    allow_anonymous: bool
    crisis_lines: list[CrisisLine]
    socket_url: str
    socket_path: str
    anonymous_session_url: str
    #: Why a visitor without a personal link cannot chat here; null when they can.
    link_required: ApiError | None


class AnonymousSession(BaseModel):
    token: str
    expires_at: str


def _refusal(description: str) -> dict[str, Any]:
    return {"model": ApiError, "description": description}


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Health, "description": "The app and its database answer."},
    503: {"model": Health, "description": "The database cannot be reached."},
}
WIDGET_CONFIG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WidgetConfig, "description": "The clinic's widget settings."},
    403: _refusal("The page's origin is not one of the clinic's (readable by any page)."),
    404: _refusal("No clinic with this slug (readable by any page)."),
}
ANONYMOUS_SESSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AnonymousSession, "description": "A short-lived patient token."},
    403: _refusal("The clinic allows no anonymous chats, or not from this page's origin."),
    404: _refusal("No clinic with this slug."),
}
