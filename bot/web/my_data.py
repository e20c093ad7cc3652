"""``GET /api/my-data/{token}``: the patient's own data, through the link the chat gave them.

The work is done by :mod:`bot.my_data`; this route turns its answer into a download (an
attachment that no browser or proxy keeps) or into a refusal with a kind sentence. A link
that is forged, mistyped, of another kind or for nobody is the same 404; a link that was
good once is a 410 saying why it stopped working.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot import exports, my_data
from bot.web.api_docs import ApiError

router = APIRouter()

#: Headers of every answer of this route: personal data, never stored or shown in a frame.
NO_STORE: dict[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Robots-Tag": "noindex, nofollow",
}


class MyDataEntry(BaseModel):
    """A journal entry, exactly as the clinic's JSON export has it."""

    number: int
    kind: str
    status: str
    created_at: str
    session_date: str | None
    mood: int | None
    craving: int | None
    fields: dict[str, Any]


class MyDataFlag(BaseModel):
    """A message of the patient's that the companion treated as a sign of crisis."""

    created_at: str
    category: str | None
    message: str


class MyDataMessage(BaseModel):
    at: str
    speaker: str
    text: str
    options: list[str]


class MyDataConversation(BaseModel):
    number: int
    started_at: str
    ended_at: str
    messages: list[MyDataMessage]


class MyDataExport(BaseModel):
    """Everything stored about the patient (GDPR articles 15 and 20)."""

    patient: str
    clinic: str
    exported_at: str
    entries: list[MyDataEntry]
    risk_flags: list[MyDataFlag]
    conversations: list[MyDataConversation]


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": MyDataExport,
        "description": "The patient's data, as a JSON attachment.",
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=…",
                "schema": {"type": "string"},
            }
        },
    },
    404: {"model": ApiError, "description": "The link is not valid."},
    410: {
        "model": ApiError,
        "description": "The link expired, its patient's chat links were revoked, or the data "
        "was erased after it was made.",
    },
}


@router.get(
    f"{my_data.PATH}/{{token}}",
    tags=["patients"],
    responses=RESPONSES,
)
def my_data_download(token: str, request: Request) -> Response:
    """Download everything stored about me, with the link the chat gave me (10 minutes)."""
    ip = request.client.host if request.client else None
    try:
        document, filename = my_data.download(token, ip=ip)
    except my_data.ExportRefused as refused:
        return JSONResponse(
            {"error": refused.reason, "message": refused.message},
            refused.status,
            headers=NO_STORE,
        )
    return Response(
        exports.json_bytes(document),
        media_type="application/json; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
