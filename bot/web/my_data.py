"""``GET /api/my-data/{token}``: the patient's own data, through the link the chat gave them.

The work is done by :mod:`bot.privacy.my_data`; this route turns its answer into a download (an
attachment that no browser or proxy keeps) or into a refusal with a kind sentence. A link
that is forged, mistyped, of another kind or for nobody is the same 404; a link that was
good once is a 410 saying why it stopped working.

``POST /api/my-data`` is how the widget gets such a link: with the patient's chat token (the
``Authorization`` header, from one of their clinic's pages), when the patient presses the
chat's download button. The link is never part of a chat message, so it is not kept with the
conversation, where the care team reads it and could open the patient's data as the patient.

``GET /api/my-data/{token}/readable`` is the same data, with the same token and the same
checks, as an HTML page a person can read without a JSON viewer. Everything the patient
wrote is untrusted text: every value is escaped, and the page runs no script and loads
nothing (its policy allows only its own stylesheet, by hash, also once saved to disk).
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from bot import patient_consent, patient_tokens
from bot.journal.schema import KIND_TITLES, LABELS
from bot.privacy import erasure, my_data
from bot.records import exports
from bot.web.api_docs import ApiError

router = APIRouter()
logger = logging.getLogger(__name__)

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


class MyDataFlagMessage(BaseModel):
    """A later message of the patient's kept with a flag."""

    at: str
    text: str


class MyDataFlag(BaseModel):
    """A message of the patient's that the companion treated as a sign of crisis, with how
    many such messages the flag stands for and the latest few of them."""

    created_at: str
    category: str | None
    message: str
    message_count: int = 1
    latest_messages: list[MyDataFlagMessage] = []


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


class MyDataMeasure(BaseModel):
    """A questionnaire the care team asked for (PHQ-9, GAD-7, AUDIT-C), as answered."""

    measure: str
    total: int
    max_total: int
    band: str
    answers: list[int]
    completed_at: str


class MyDataSession(BaseModel):
    """A ketamine session day, told by the patient or recorded by the care team."""

    session_on: str
    session_time: str | None
    recorded_by: str


class MyDataReminder(BaseModel):
    """An opt-in to reminders after sessions, with the address given."""

    channel: str
    address: str
    created_at: str
    stopped_at: str | None


class MyDataConsent(BaseModel):
    """An agreement to a version of the clinic's consent text, and its withdrawal."""

    version: int
    agreed_at: str
    withdrawn_at: str | None


class MyDataExport(BaseModel):
    """Everything stored about the patient (GDPR articles 15 and 20)."""

    patient: str
    clinic: str
    exported_at: str
    entries: list[MyDataEntry]
    risk_flags: list[MyDataFlag]
    conversations: list[MyDataConversation]
    measures: list[MyDataMeasure] = []
    sessions: list[MyDataSession] = []
    reminders: list[MyDataReminder] = []
    consent: list[MyDataConsent] = []


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


class MyDataLink(BaseModel):
    """A fresh link to the patient's own data, as a file and as a readable page."""

    url: str
    readable_url: str
    expires_at: str


LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": MyDataLink, "description": "A download link made for this patient now."},
    403: {
        "model": ApiError,
        "description": "No chat token, or one that is not valid (any more), or a page that is "
        "not one of the clinic's.",
    },
    404: {"model": ApiError, "description": "Nothing is stored about this patient yet."},
}

#: Messages of the link route that :data:`bot.patient_tokens.MESSAGES` does not have.
NOTHING_STORED = (
    "There's nothing stored about you yet. Once you've written in your journal, you can ask "
    "for a copy at any time."
)


READABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {}},
        "description": "The patient's data as a readable HTML page, as an attachment.",
    },
    404: {"content": {"text/html": {}}, "description": "The link is not valid."},
    410: {
        "content": {"text/html": {}},
        "description": "The link expired, its patient's chat links were revoked, or the data "
        "was erased after it was made.",
    },
}

#: The readable page's only style; allowed by its hash, so no other style or script runs.
PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;color:#1b1f23;margin:0;background:#f7f8f9}"
    "main{max-width:46rem;margin:0 auto;padding:1.5rem 1rem 3rem;background:#fff}"
    "h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;"
    "border-bottom:2px solid #2f6f73}h3{font-size:1.05rem;margin:1.25rem 0 .25rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.25rem 0}"
    "dt{font-weight:600}dd{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}"
    "ol,ul{padding-left:1.25rem}li{margin:.4rem 0;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".meta{color:#4a5560;font-size:.9rem}.who{font-weight:600}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
PAGE_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'"
#: Headers of the readable page: as :data:`NO_STORE`, with the page's own style allowed.
PAGE_HEADERS: dict[str, str] = {
    **NO_STORE,
    "Content-Security-Policy": f"{PAGE_POLICY}; frame-ancestors 'none'; sandbox",
}

#: Headings of the journal's kinds of entry in the readable copy.
SPEAKERS: dict[str, str] = {"patient": "You", "assistant": "Companion"}
RATINGS = ("mood", "craving")


def _bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or ``None``."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def _link_cors(response: Response, origin: str | None, allowed: bool) -> Response:
    """Let the widget on the patient's clinic page read the answer, and no other page."""
    response.headers["Vary"] = "Origin"
    if origin and allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


@router.post(my_data.PATH, tags=["widget"], responses=LINK_RESPONSES)
def my_data_link(request: Request) -> Response:
    """A link to my data, made when I press the chat's download button (10 minutes).

    The chat token (``Authorization: Bearer``) names the patient, and the page asking must be
    one of their clinic's, as for the chat itself.
    """
    origin = request.headers.get("origin")
    try:
        identity = patient_tokens.verify_token(_bearer(request), origin=origin)
    except patient_tokens.AccessDenied as denied:
        refusal = JSONResponse(
            {"error": denied.reason, "message": denied.message}, 403, headers=NO_STORE
        )
        return _link_cors(refusal, origin, patient_tokens.origin_allowed_anywhere(origin))
    try:
        url, expires_at = my_data.export_link(identity.sender_id)
    except my_data.UnknownPatient:
        nothing = JSONResponse(
            {"error": "nothing_stored", "message": NOTHING_STORED}, 404, headers=NO_STORE
        )
        return _link_cors(nothing, origin, True)
    link = {
        "url": url,
        "readable_url": my_data.readable_link(url),
        "expires_at": expires_at.isoformat(),
    }
    return _link_cors(JSONResponse(link, headers=NO_STORE), origin, True)


#: Where the widget erases the patient's data with their chat token (shown with the consent
#: text once consent was withdrawn, when the chat itself keeps nothing more).
ERASE_PATH = f"{my_data.PATH}/erase"


class ErasureAnswer(BaseModel):
    """What became of the patient's "Delete my data"."""

    outcome: str
    message: str


@router.post(
    ERASE_PATH,
    tags=["widget"],
    responses={
        200: {"model": ErasureAnswer, "description": "Erased, or filed for the clinic."},
        403: {"model": ApiError, "description": "No chat token, or not a valid one here."},
        503: {"model": ErasureAnswer, "description": "Nothing was erased; try again later."},
    },
)
def erase_my_data(request: Request) -> Response:
    """Erase my data (or ask my clinic to, where it must keep records), with my chat token:
    the same erasure as the chat's "delete my data", for a patient who withdrew consent."""
    origin = request.headers.get("origin")
    try:
        identity = patient_tokens.verify_token(_bearer(request), origin=origin)
    except patient_tokens.AccessDenied as denied:
        refusal = JSONResponse(
            {"error": denied.reason, "message": denied.message}, 403, headers=NO_STORE
        )
        return _link_cors(refusal, origin, patient_tokens.origin_allowed_anywhere(origin))
    try:
        outcome = erasure.request_erasure(identity.sender_id)
    except Exception:  # noqa: BLE001 - the person must get an answer whatever failed
        logger.exception("erasure from the widget failed")
        failed = {"outcome": "failed", "message": patient_consent.erasure_message("failed")}
        return _link_cors(JSONResponse(failed, 503, headers=NO_STORE), origin, True)
    kind = outcome.kind
    if kind == "erased" and outcome.receipt is not None and outcome.receipt.failed:
        kind = "erased_partly"
    answer = {"outcome": kind, "message": patient_consent.erasure_message(kind)}
    return _link_cors(JSONResponse(answer, headers=NO_STORE), origin, True)


@router.options(ERASE_PATH, include_in_schema=False)
@router.options(my_data.PATH, include_in_schema=False)
def my_data_link_preflight(request: Request) -> Response:
    """The browser's question before the widget sends its token from a clinic's page."""
    origin = request.headers.get("origin")
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization"
    response.headers["Access-Control-Max-Age"] = "600"
    return _link_cors(response, origin, patient_tokens.origin_allowed_anywhere(origin))


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


@router.get(
    f"{my_data.PATH}/{{token}}{my_data.READABLE_SUFFIX}",
    tags=["patients"],
    responses=READABLE_RESPONSES,
    response_class=HTMLResponse,
)
def my_data_readable(token: str, request: Request) -> Response:
    """The same data as a page I can read (HTML), with the same link (10 minutes)."""
    ip = request.client.host if request.client else None
    try:
        document, filename = my_data.download(token, ip=ip, file_format="html")
    except my_data.ExportRefused as refused:
        return HTMLResponse(
            page("Download link", [f"<p>{_text(refused.message)}</p>"]),
            refused.status,
            headers=PAGE_HEADERS,
        )
    return HTMLResponse(
        readable_page(document),
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ----------------------------------------------------------------------------- readable page


def _text(value: Any) -> str:
    """Any value as escaped text: what the patient wrote can never become markup."""
    return html.escape(str(value), quote=True)


def _value(value: Any) -> str:
    """A journal field's value (text, number, list or nested answers) as escaped HTML."""
    if isinstance(value, dict):
        return _pairs([(LABELS.get(key, key), item) for key, item in value.items()])
    if isinstance(value, list | tuple):
        return _text(", ".join(str(item) for item in value))
    return _text(value)


def _pairs(pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<dt>{_text(label)}</dt><dd>{_value(value)}</dd>"
        for label, value in pairs
        if value not in (None, "", [], {})
    )
    return f"<dl>{rows}</dl>" if rows else ""


def _entry(entry: dict[str, Any]) -> str:
    title = KIND_TITLES.get(entry["kind"], entry["kind"].replace("_", " ").capitalize())
    pairs: list[tuple[str, Any]] = [
        ("Written", entry["created_at"]),
        ("Status", entry["status"]),
        ("Session date", entry.get("session_date")),
    ]
    pairs += [
        (rating.capitalize(), f"{entry[rating]}/10")
        for rating in RATINGS
        if entry.get(rating) is not None
    ]
    pairs += [(LABELS.get(key, key), value) for key, value in entry["fields"].items()]
    pairs += [
        (f"Your care team asked: {asked['question']}", asked.get("answer") or "(skipped)")
        for asked in entry.get("care_team_questions") or ()
    ]
    return f"<h3>{_text(entry['number'])}. {_text(title)}</h3>{_pairs(pairs)}"


def _flag(flag: dict[str, Any]) -> str:
    category = flag.get("category") or "unspecified"
    said = f": {_text(flag['message'])}" if flag.get("message") else ""
    later = "".join(
        f'<br><span class="meta">{_text(m.get("at", ""))}</span> {_text(m.get("text", ""))}'
        for m in flag.get("latest_messages") or ()
    )
    return (
        f'<li><span class="meta">{_text(flag["created_at"])} ({_text(category)})</span>{said}'
        f"{later}</li>"
    )


def _measure(result: dict[str, Any]) -> str:
    return (
        f'<li><span class="meta">{_text(result["completed_at"])}</span> '
        f"{_text(result['measure_name'])}: {_text(result['total'])} of "
        f"{_text(result['max_total'])} ({_text(result['band'])})</li>"
    )


def _session(session: dict[str, Any]) -> str:
    at = f", {_text(session['session_time'])}" if session.get("session_time") else ""
    return f"<li>{_text(session['session_on'])}{at} ({_text(session['recorded_by'])})</li>"


def _reminder(reminder: dict[str, Any]) -> str:
    stopped = f", stopped {_text(reminder['stopped_at'])}" if reminder.get("stopped_at") else ""
    return (
        f"<li>{_text(reminder['channel'])} to {_text(reminder['address'])}, from "
        f"{_text(reminder['created_at'])}{stopped}</li>"
    )


def _consent(agreement: dict[str, Any]) -> str:
    withdrawn = (
        f", withdrawn {_text(agreement['withdrawn_at'])}" if agreement.get("withdrawn_at") else ""
    )
    return (
        f"<li>Version {_text(agreement['version'])}: agreed "
        f"{_text(agreement['agreed_at'])}{withdrawn}</li>"
    )


def _message(message: dict[str, Any]) -> str:
    who = SPEAKERS.get(message["speaker"], message["speaker"])
    options = (
        f'<br><span class="meta">Options: {_text(", ".join(message["options"]))}</span>'
        if message.get("options")
        else ""
    )
    return (
        f'<li><span class="who">{_text(who)}</span> '
        f'<span class="meta">{_text(message["at"])}</span><br>{_text(message["text"])}'
        f"{options}</li>"
    )


def _conversation(conversation: dict[str, Any]) -> str:
    messages = "".join(_message(message) for message in conversation["messages"])
    return (
        f"<h3>Conversation {_text(conversation['number'])}</h3>"
        f'<p class="meta">{_text(conversation["started_at"])} to '
        f"{_text(conversation['ended_at'])}</p><ol>{messages}</ol>"
    )


def _section(title: str, items: list[str], empty: str, *, listed: bool = False) -> str:
    if not items:
        return f"<h2>{_text(title)}</h2><p>{_text(empty)}</p>"
    body = f"<ul>{''.join(items)}</ul>" if listed else "".join(items)
    return f"<h2>{_text(title)}</h2>{body}"


def page(title: str, parts: list[str]) -> str:
    """A complete page around already escaped ``parts``, with its policy in the page itself."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_text(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )


def readable_page(document: dict[str, Any]) -> str:
    """The export document (:func:`bot.privacy.my_data.export_document`) as a readable page."""
    intro = (
        "<h1>Your data</h1>"
        f'<p class="meta">Clinic: {_text(document["clinic"])} · Exported: '
        f"{_text(document['exported_at'])} · Your id: {_text(document['patient'])}</p>"
        "<p>Everything the companion keeps about you: your journal, the messages it treated "
        "as a sign of crisis, the questionnaires you answered, and your conversations. The JSON download holds the same data "
        "for other programs.</p>"
    )
    return page(
        "Your data",
        [
            intro,
            _section("Journal", [_entry(e) for e in document["entries"]], "No journal entries."),
            _section(
                "Safety notes",
                [_flag(f) for f in document["risk_flags"]],
                "No safety notes.",
                listed=True,
            ),
            _section(
                "Questionnaires",
                [_measure(m) for m in document.get("measures", ())],
                "No questionnaires.",
                listed=True,
            ),
            _section(
                "Sessions",
                [_session(x) for x in document.get("sessions", ())],
                "No sessions recorded.",
                listed=True,
            ),
            _section(
                "Reminders",
                [_reminder(x) for x in document.get("reminders", ())],
                "No reminders asked for.",
                listed=True,
            ),
            _section(
                "Conversations",
                [_conversation(c) for c in document["conversations"]],
                "No conversations.",
            ),
            _section(
                "Consent",
                [_consent(agreement) for agreement in document.get("consent", ())],
                "No agreement recorded.",
                listed=True,
            ),
        ],
    )
