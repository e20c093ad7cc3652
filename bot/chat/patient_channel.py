"""Chat channels for patients: the conversation is the one named in a verified patient token.

Rasa's own channels take the conversation id from the client: the REST channel from the
body's ``sender``, the socket.io channel from the ``session_id`` the browser sends with every
message. Anyone could therefore read or write another patient's conversation by sending
their id. These subclasses take the sender id from a token signed by :mod:`bot.patient_tokens`
instead, and nothing the client sends can change it.

socket.io (the widget):

- The engine.io handshake refuses a page whose ``Origin`` no clinic allows, and a request
  without an ``Origin`` at all (HTTP 400, ``{"error", "reason", "message"}``): python-engineio
  only checks an Origin that is present, every browser sends it, and a program without it has
  no business here. ``connect`` refuses a missing one too.
- A packet that cannot be decoded is dropped with one warning line a minute at most (how
  many were dropped in between), not a traceback each: anyone who completes a handshake can
  send them.
- ``connect`` verifies ``auth.token`` and that the page's Origin is one of the token's
  clinic's; a refusal carries ``{"reason", "message"}`` as the error's ``data``.
- The socket joins the room named by the token's sender id, so several tabs of one patient
  all receive the replies, and replies reach nobody else.
- Every message is checked against the token again, so revoking a link or its expiry ends
  a conversation that is already open: the socket gets ``access_denied`` and is
  disconnected.

REST (scripts, load tests, the demo): ``Authorization: Bearer <token>`` names the sender.
Without a token it is refused, except in demo mode, where it stays open for conversations
that no token was ever issued for and that are not another clinic's patients' (demo and test
conversations started over REST). Such a sender id must match
:data:`bot.patient_tokens.SENDER_ID_PATTERN` (400 otherwise): it ends up in dashboard addresses and
export file names. The body must be sent as ``application/json`` (415 otherwise): a page of
any site can make a browser post ``text/plain``, form or untyped bodies here without asking,
but not JSON. ``?stream=true`` is refused (400): a streamed turn would bypass the turn slots
and the early crisis reply.

The token checks query the database synchronously, so they run in the default thread-pool
executor and never stall the event loop that serves every other conversation. The one
exception is python-engineio's origin callable, which must return at once: it reads a set of
origins that :mod:`bot.patient_tokens` caches for a few seconds, so it touches the database at most
once per cache period.

Every message passes :class:`bot.chat.message_gate.MessageGate` before it reaches the agent:
a per-patient rate limit (keyed by the token's sender id, or by the demo-mode REST sender)
and a per-address one (the client's IP address: Sanic's ``remote_addr`` behind a proxy it is
told to trust, see docs/deploy.md, else the peer's), a maximum length, and clean text; a
crisis message always goes through. Over the limit the
socket gets ``rate_limited`` ``{"message", "retry_after"[, "id"]}`` (``id`` echoes the
client's message id, so the widget knows which message to send again); REST answers 429
with ``Retry-After``. A REST body that is not a JSON object, too large (413) or not UTF-8
is answered with a JSON refusal ``{"error", "reason", "message"}``, never a server error.

A message with an urgent crisis statement is answered with its ``utter_crisis_<kind>`` before anything else:
over socket.io before the per-message token re-check and before the turn (which then does not
repeat it), over REST as the response itself, the turn going on after it. Turns enter the
assistant through the server's turn slots (:mod:`bot.chat.turn_slots`), so that under load new
messages are still read, and crisis replies sent, at once.

Nothing of a conversation is kept before the patient agreed to their clinic's current consent
text (:mod:`bot.patient_consent`): a message from a patient without current consent never
reaches the assistant. :mod:`bot.chat.consent_gate` answers it instead - the crisis reply and a
crisis flag when the detector finds danger, and always a notice with the clinic's crisis
numbers. Over socket.io the widget is told where the patient stands (``consent_status``, before
``session_confirm``), agrees with ``consent`` ``{"version"}`` and hears of a message that was
not kept (``consent_required``); over REST, ``GET``/``POST /webhooks/rest/consent`` read the
text and record the agreement, and a message that was not kept is answered with the notice
marked ``consent_required``.

Custom payloads (``json_message`` of a custom action) reach the socket as the data of a
``bot_uttered`` event, e.g. ``{"download": {"url": ..., "label": ...}}``: Rasa's own
``SocketIOOutput.send_custom_json`` passes the payload's keys to ``AsyncServer.emit`` as
keyword arguments, which fails with ``TypeError`` for any key but emit's own.

If the database cannot be read, new connections are refused (``unavailable``, or HTTP 400 at
the handshake; REST answers 503), but a conversation that is already open goes on with the
identity checked at connect until the token expires: a patient in the middle of a chat,
perhaps in crisis, must not lose the assistant because a revocation cannot be looked up.

The Rasa server these channels are registered on answers ``GET /`` with ``{"status": "ok"}``
rather than Rasa's greeting with its version (which tells an attacker which advisories
apply), and every response it sends carries :data:`SECURITY_HEADERS`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar

import engineio
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError as SocketConnectionRefused

from bot import patient_consent, patient_tokens, settings
from bot.chat import (
    action_validation,
    clinic_nlg,
    consent_gate,
    message_gate,
    rate_limit,
    turn_slots,
)
from bot.chat.message_gate import MessageGate, Refused
from bot.nlu.crisis_detector import CRISIS_INTENT
from bot.safety import crisis_replies

logger = logging.getLogger(__name__)

# Rasa checks every action server reply against a JSON schema it re-validates on each call;
# the server that serves our channels checks it with a validator built once instead.
action_validation.install()

T = TypeVar("T")

#: Sent back (to the one socket) when a ``user_uttered`` event carries no readable text.
UNREADABLE_MESSAGE = message_gate.limits().messages[message_gate.UNREADABLE]

#: Event that tells a socket its message was refused for the rate limit (sent to it alone).
RATE_LIMITED_EVENT = "rate_limited"

#: Longest client message id echoed back in ``rate_limited``.
MAX_CLIENT_ID_CHARS = 64

#: Event that tells a connected socket its token no longer works, before it is disconnected.
ACCESS_DENIED_EVENT = "access_denied"

#: Tells the widget where its patient stands with the clinic's consent text (before
#: ``session_confirm``, and after an agreement): :meth:`bot.patient_consent.Status.as_dict`.
CONSENT_STATUS_EVENT = "consent_status"
#: Tells a socket that its message was not kept for want of current consent (the replies came
#: as ``bot_uttered``): ``{"version", "changed"[, "id"]}``.
CONSENT_REQUIRED_EVENT = "consent_required"
#: The widget's "I agree": ``{"version": n}``.
CONSENT_EVENT = "consent"

#: Refusals that are about where the request comes from rather than who sends it: 403.
FORBIDDEN_REASONS = frozenset({"origin_not_allowed", "wrong_clinic", "anonymous_not_allowed"})

#: When a token cannot be checked at all (the database is unreachable).
UNAVAILABLE_REASON = "unavailable"
UNAVAILABLE_MESSAGE = "The chat is not available right now. Please try again in a few minutes."
# How long a REST crisis reply waits for its turn's own messages before it goes out alone.
CRISIS_TURN_WAIT_SECONDS = 1.0

#: Headers on every response of the Rasa server: an API's share of the web app's
#: (bot/web/app.py). Nothing here is a page to sniff, frame, cache or refer from.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: Why an engine.io handshake without an ``Origin`` header is refused.
ORIGIN_REQUIRED_MESSAGE = (
    "The chat connects from a web page only: this request has no Origin header."
)
#: Why an engine.io POST without a session id is refused.
NO_SESSION_MESSAGE = "This request names no chat session: connect first."
#: Why a REST body that is not sent as JSON is refused.
JSON_REQUIRED_MESSAGE = "Send the message as JSON, with the header Content-Type: application/json."
#: Why ``?stream=true`` is refused.
STREAM_REFUSED_MESSAGE = (
    "This server does not stream replies: send the message without ?stream=true, and the "
    "replies come back together as one JSON list."
)
#: Why an "I agree" without the version of the text it agrees to is refused.
CONSENT_VERSION_MESSAGE = 'Send the version of the consent text agreed to, e.g. {"version": 1}.'
#: At most one warning line per this many seconds about undecodable socket.io packets.
UNDECODABLE_LOG_SECONDS = 60.0


async def _off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (a database query) in the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args, **kwargs))


async def _maybe_await(value: Any) -> None:
    """Await ``value`` if it is awaitable.

    ``AsyncServer.enter_room`` is a plain function in python-socketio 5.9 and a coroutine
    from 5.10 on; Rasa 3.6 calls it without ``await``, so with a newer python-socketio the
    socket never joins its room and the browser never receives a reply (RasaHQ/rasa#13027).
    """
    if inspect.isawaitable(value):
        await value


def verify_token(
    token: Any, *, origin: str | None, check_origin: bool = True
) -> patient_tokens.Identity:
    """:func:`bot.patient_tokens.verify_token`, with a token that cannot be a JWT refused up front.

    A JWT is ASCII; a header with other bytes arrives as a string with surrogate escapes,
    on which PyJWT fails with ``UnicodeEncodeError`` - which would read as "the database is
    unreachable" (503) rather than "this token is malformed" (401).
    """
    if isinstance(token, str) and not token.isascii():
        raise patient_tokens.AccessDenied("malformed_token")
    return patient_tokens.verify_token(token, origin=origin, check_origin=check_origin)


def origin_allowed(origin: str | None) -> bool:
    """python-engineio's origin check: some clinic allows ``origin``.

    If the clinics cannot be read, the handshake is refused (HTTP 400) rather than failing
    with a server error on every request; the widget then says the connection failed.
    """
    try:
        return patient_tokens.origin_allowed_anywhere(origin)
    except Exception:
        logger.exception("socket.io handshake refused: the clinics' origins could not be read")
        return False


def refusal(denied: patient_tokens.AccessDenied) -> SocketConnectionRefused:
    """The socket.io refusal for ``denied``.

    python-socketio sends ``{"message": first argument, "data": second argument}``; the
    JavaScript client turns that into an ``Error`` whose ``message`` is the patient-facing
    text and whose ``data`` is ``{"reason", "message"}``.
    """
    return SocketConnectionRefused(
        denied.message, {"reason": denied.reason, "message": denied.message}
    )


def client_address(request: Request | None) -> str | None:
    """The client's IP address: the one a trusted proxy names (Sanic's ``remote_addr``, empty
    unless ``SANIC_PROXIES_COUNT`` or ``SANIC_FORWARDED_SECRET`` says whom to trust), else the
    peer's. A header a client sets itself is never believed."""
    if request is None:
        return None
    return request.remote_addr or request.ip or None


def _library_frames_only(traceback: TracebackType | None) -> bool:
    """Whether no frame of ``traceback`` is this project's code: the failure is in
    python-engineio/python-socketio reading what a client sent, not a bug of ours."""
    root = str(settings.PROJECT_ROOT / "bot")
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.startswith(root):
            return False
        traceback = traceback.tb_next
    return True


class UndecodablePackets(logging.Filter):
    """Turns python-engineio's traceback for each packet it cannot decode into one warning
    line a minute at most, saying how many were dropped.

    Anyone who completes a handshake can send such packets, and each used to write a
    25-line traceback: a cheap way to fill the disk and bury what matters in the logs.
    Tracebacks of our own handlers' failures are kept as they are.
    """

    def __init__(
        self,
        interval: float = UNDECODABLE_LOG_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, (ValueError, TypeError, IndexError, KeyError)):
            return True
        if not _library_frames_only(error.__traceback__):
            return True
        self._dropped += 1
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        record.msg = "socket.io: %d undecodable packet(s) dropped (%s)"
        record.args = (self._dropped, type(error).__name__)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        self._dropped = 0
        return True


def _engineio_logger() -> logging.Logger:
    """The logger python-engineio writes to: errors only (its INFO lines quote packets, that
    is, patients' messages), with :class:`UndecodablePackets` in front of it."""
    log = logging.getLogger(f"{__name__}.engineio")
    log.setLevel(logging.ERROR)
    if not any(isinstance(existing, UndecodablePackets) for existing in log.filters):
        log.addFilter(UndecodablePackets())
    return log


def _handshake_refusal(request: Any) -> HTTPResponse | None:
    """The refusal of an engine.io request that opens no session of a web page: a handshake
    without ``Origin``, or a POST without a session id (which python-engineio answers with a
    server error)."""
    if not isinstance(request, Request) or request.args.get("sid"):
        return None
    if not request.headers.get("origin"):
        return _json_refusal(400, "origin_required", ORIGIN_REQUIRED_MESSAGE)
    if request.method not in {"GET", "OPTIONS"}:
        return _json_refusal(400, "bad_request", NO_SESSION_MESSAGE)
    return None


class PatientEngineIOServer(engineio.AsyncServer):
    """python-engineio's server, refusing requests that open no session of a web page."""

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        refused = _handshake_refusal(args[0] if args else None)
        if refused is not None:
            return refused
        return await super().handle_request(*args, **kwargs)


class PatientSocketServer(AsyncServer):
    """python-socketio's server on :class:`PatientEngineIOServer`."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return PatientEngineIOServer


async def _status_instead_of_version(request: Request) -> HTTPResponse | None:
    """``GET /`` answers with a plain status, not Rasa's greeting with its version."""
    if request.path == "/" and request.method in {"GET", "HEAD"}:
        return response.json({"status": "ok"})
    return None


async def _add_security_headers(_: Request, answer: HTTPResponse) -> None:
    """:data:`SECURITY_HEADERS` on a response, leaving any the response set itself."""
    for name, value in SECURITY_HEADERS.items():
        if name not in answer.headers:
            answer.headers[name] = value


def harden_server(app: Sanic) -> None:
    """Install :func:`_status_instead_of_version` and the security headers on the server
    (once, whichever channel is registered first)."""
    if getattr(app.ctx, "patient_channels_hardened", False):
        return
    app.ctx.patient_channels_hardened = True
    app.register_middleware(_status_instead_of_version, "request")
    app.register_middleware(_add_security_headers, "response")


class HardeningBlueprint(Blueprint):
    """A blueprint that hardens the server it is registered on (:func:`harden_server`)."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        harden_server(app)
        super().register(app, options)


class HardeningSocketBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, hardening the server it is registered on."""

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        harden_server(app)
        super().register(app, options)


@functools.lru_cache(maxsize=1)
def _crisis_templates() -> dict[str, str]:
    """The ``utter_crisis_<kind>`` texts of domain.yml (the domain the model is trained from)."""
    try:
        domain = yaml.safe_load((settings.PROJECT_ROOT / "domain.yml").read_text())
        return {
            kind: str(variations[0]["text"])
            for name, variations in domain["responses"].items()
            if (kind := crisis_replies.kind_of(name))
        }
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        logger.error("crisis replies not found in domain.yml: no early crisis reply")
        return {}


def crisis_reply(kind: str = "suicide", clinic: str | None = None) -> str | None:
    """The crisis reply of ``kind`` with ``clinic``'s numbers, exactly as the turn's response
    generator renders it (:mod:`bot.chat.clinic_nlg`, whose copy of the clinic's settings it
    uses), so a reply sent early is recognised when the turn sends it."""
    template = _crisis_templates().get(kind)
    if template is None:
        return None
    return crisis_replies.render(template, kind, clinic_nlg.cached_settings(clinic))


class PatientSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, with custom payloads sent as the event's data, and the crisis
    reply sent at most once per turn: ahead of the turn (:meth:`send_crisis_reply_now`) or by
    the turn itself, whichever comes first."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._sent_early: str | None = None
        self._sent_by_turn: set[str] = set()

    async def send_crisis_reply_now(self, recipient_id: str, text: str) -> None:
        """Send the crisis reply at once, unless the turn already did; the turn then leaves
        the same reply out. (One event loop: nothing runs between the check and the mark.)"""
        if text.strip() in self._sent_by_turn:
            return
        self._sent_early = text.strip()
        await super().send_text_message(recipient_id, text)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if text.strip() == self._sent_early:
            self._sent_early = None
            return
        self._sent_by_turn.add(text.strip())
        await super().send_text_message(recipient_id, text, **kwargs)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """Emit ``json_message`` as the data of one ``bot_uttered`` event to the patient.

        Rasa's version calls ``emit(event, **json_message)``, so a payload such as
        ``{"download": {...}}`` raises ``TypeError`` and the patient gets nothing.
        """
        await self._send_message(recipient_id, dict(json_message))


async def _early_crisis_reply(text: str, clinic: str | None) -> str | None:
    """The crisis reply for ``text`` if it has an urgent crisis statement (checked on the
    loop, see :meth:`bot.chat.message_gate.CrisisCheck.urgent_kind_now`), with the clinic's
    numbers (read now if the server has no copy yet)."""
    kind = message_gate.crisis_check().urgent_kind_now(text)
    if kind is None:
        return None
    await clinic_nlg.clinic_settings(clinic)
    return crisis_reply(kind, clinic)


async def _reply_early_if_crisis(
    output: PatientSocketIOOutput, sender_id: str, text: str, clinic: str | None
) -> None:
    """Send the crisis reply now if ``text`` has an urgent crisis statement."""
    reply = await _early_crisis_reply(text, clinic)
    if reply:
        await output.send_crisis_reply_now(sender_id, reply)


async def _turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    place: turn_slots.Place | None = None,
) -> None:
    """Hand ``message`` to the assistant once its conversation's earlier messages are done and
    one of the server's turn slots is free; ``place`` is the place it took when it arrived."""
    place = place or turn_slots.for_running_loop().reserve(message.sender_id)
    async with place.turn():
        await on_new_message(message)


async def _record_consent(sender_id: str, clinic: str, version: Any) -> dict[str, Any]:
    """Record the patient's "I agree" to ``version``; the status that follows, with
    ``"error"`` (``consent_changed``, ``bad_request``, ``unavailable``) when it was not
    recorded."""
    if isinstance(version, bool) or not isinstance(version, int):
        status = await consent_gate.current_status(sender_id, clinic)
        answer = status.as_dict() if status is not None else {"current": False}
        return {**answer, "error": "bad_request", "message": CONSENT_VERSION_MESSAGE}
    try:
        status = await _off_loop(patient_consent.record, sender_id, clinic, version)
    except patient_consent.VersionChanged as changed:
        return {
            "current": False,
            "version": changed.current,
            "changed": True,
            "error": "consent_changed",
            "message": patient_consent.message("changed"),
        }
    except Exception as error:
        logger.error("consent not recorded (%s)", type(error).__name__)
        return {"current": False, "error": UNAVAILABLE_REASON, "message": UNAVAILABLE_MESSAGE}
    logger.info("consent recorded (version %d)", version)
    return status.as_dict()


class SecondOpinion:
    """The message gate's second opinion on a message it refuses: does the running
    assistant's NLU (classifier, fallback and detector) read it as a crisis? So wording the
    detector does not know still reaches the risk assessment. The server's app (and with it
    the agent) is learnt from the first request; until then, and for an agent that cannot
    parse (no model loaded), there is no opinion."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, text: str) -> bool:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or not hasattr(agent, "parse_message") or not agent.is_ready():
            return False
        parsed = await agent.parse_message(text)
        # The wording model's urgent guess keeps the next-best intent; its level says it.
        level = (parsed.get("crisis_detection") or {}).get("level")
        return (parsed.get("intent") or {}).get("name") == CRISIS_INTENT or level == "urgent"


def _client_id(data: Any) -> str | None:
    """The client's id for its message, if it sent a short string one."""
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, str) and 0 < len(value) <= MAX_CLIENT_ID_CHARS:
        return value
    return None


class PatientSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with the sender id taken from a verified patient token.

    Accepts Rasa's socket.io credentials. ``session_persistence`` is always in effect (the
    conversation is the token's whatever the setting), and ``jwt_key``/``jwt_method`` and
    client metadata are not used: the token of :mod:`bot.patient_tokens` replaces them.
    """

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> PatientSocketIOOutput | None:
        """The output for messages pushed through Rasa's HTTP API."""
        if self.sio is None:
            return None
        return PatientSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = PatientSocketServer(
            async_mode="sanic",
            # A callable: python-engineio answers the handshake of a page whose Origin no
            # clinic allows with HTTP 400 (Rasa's ``[]`` switches the check off).
            cors_allowed_origins=origin_allowed,
            # Nothing here uses cookies; do not invite browsers to send them.
            cors_credentials=False,
            engineio_logger=_engineio_logger(),
        )
        socketio_webhook = HardeningSocketBlueprint(
            sio, self.socketio_path, "socketio_webhook", __name__
        )
        # Kept for get_output_channel (messages pushed through Rasa's HTTP API).
        self.sio = sio
        namespace = self.namespace
        opinion = SecondOpinion()
        gate = MessageGate(
            rate_limit.from_settings(),
            second_opinion=opinion,
            address_limiter=rate_limit.ip_from_settings(),
        )
        message_gate.crisis_check().warm()  # the early crisis reply must not wait for spaCy
        # Each socket's patient, readable without an await (see handle_message).
        senders: dict[str, str] = {}

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            opinion.app = opinion.app or getattr(request, "app", None)
            origin = environ.get("HTTP_ORIGIN")
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                if not origin:
                    raise patient_tokens.AccessDenied("origin_not_allowed")
                identity = await _off_loop(verify_token, token, origin=origin)
            except patient_tokens.AccessDenied as denied:
                logger.info("socket.io connection refused: %s", denied.reason)
                raise refusal(denied) from None
            except Exception:
                logger.exception("socket.io connection refused: the token could not be checked")
                raise SocketConnectionRefused(
                    UNAVAILABLE_MESSAGE,
                    {"reason": UNAVAILABLE_REASON, "message": UNAVAILABLE_MESSAGE},
                ) from None
            await sio.save_session(
                sid,
                {
                    "sender_id": identity.sender_id,
                    "clinic": identity.clinic,
                    # Kept in the server's memory only, to check the token again per message.
                    "token": token,
                    "origin": origin,
                    "expires_at": identity.expires_at,
                    "address": client_address(request),
                    # Where the patient stood with the consent text at connect: what an open
                    # chat goes on with while the database cannot be read.
                    "consent": await consent_gate.current_status(
                        identity.sender_id, identity.clinic
                    ),
                },
                namespace=namespace,
            )
            senders[sid] = identity.sender_id
            # Join the room now, so that a reply is not lost if a client sends a message
            # before its session_request.
            await _maybe_await(sio.enter_room(sid, identity.sender_id, namespace=namespace))
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str) -> None:
            senders.pop(sid, None)
            logger.debug("socket.io client disconnected")

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            # Whatever session_id the client proposes is ignored: the token decides.
            session = await sio.get_session(sid, namespace=namespace)
            sender_id = session["sender_id"]
            await _maybe_await(sio.enter_room(sid, sender_id, namespace=namespace))
            status = await consent_gate.current_status(sender_id, session["clinic"])
            if status is not None:
                session["consent"] = status
                await sio.emit(
                    CONSENT_STATUS_EVENT, status.as_dict(), room=sid, namespace=namespace
                )
            await sio.emit("session_confirm", sender_id, room=sid, namespace=namespace)

        @sio.on(CONSENT_EVENT, namespace=namespace)
        async def consent(sid: str, data: Any = None) -> None:
            # The widget's "I agree", with the version of the text it showed; the token is
            # checked again, as for a message.
            session = await sio.get_session(sid, namespace=namespace)
            version = data.get("version") if isinstance(data, dict) else None
            try:
                await _off_loop(verify_token, session["token"], origin=session["origin"])
            except patient_tokens.AccessDenied as denied:
                refusal = {"reason": denied.reason, "message": denied.message}
                await sio.emit(ACCESS_DENIED_EVENT, refusal, room=sid, namespace=namespace)
                await sio.disconnect(sid, namespace=namespace)
                return
            except Exception:
                logger.exception("socket.io consent refused: the token could not be checked")
                await sio.emit(
                    ACCESS_DENIED_EVENT,
                    {"reason": UNAVAILABLE_REASON, "message": UNAVAILABLE_MESSAGE},
                    room=sid,
                    namespace=namespace,
                )
                return
            answer = await _record_consent(session["sender_id"], session["clinic"], version)
            await sio.emit(
                CONSENT_STATUS_EVENT, answer, room=session["sender_id"], namespace=namespace
            )

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            # python-socketio runs each message's handler as a task of its own, started in
            # the order the messages arrived. The message takes its place in the
            # conversation's queue before the first await: the awaits below (the token
            # re-check in a thread pool above all) can finish in any order.
            sender = senders.get(sid)
            place = turn_slots.for_running_loop().reserve(sender) if sender else None
            try:
                await handle_admitted(sid, data, place)
            finally:
                if place is not None:
                    place.release()

        async def handle_admitted(sid: str, data: Any, place: turn_slots.Place | None) -> None:
            session = await sio.get_session(sid, namespace=namespace)
            sender_id, clinic = session["sender_id"], session["clinic"]
            # The gate comes before the token re-check: a flood is refused from memory,
            # without a database query per message.
            admission = await gate.admit(
                sender_id,
                data.get("message") if isinstance(data, dict) else None,
                session.get("address"),
            )
            if isinstance(admission, Refused):
                await self._refuse(sio, sid, admission, _client_id(data))
                return
            output = PatientSocketIOOutput(sio, self.bot_message_evt)
            # A crisis message gets the crisis reply at once: before the token re-check (a
            # query that queues in the thread pool when the server is busy; the reply is the
            # same for everyone and the socket was verified at connect) and before the turn,
            # which waits behind every other patient's message for the assistant's pipeline
            # (docs/benchmarks.md). The turn runs as usual (risk flag, form interrupted)
            # without repeating the reply.
            await _reply_early_if_crisis(output, sender_id, admission.text, clinic)
            try:
                try:
                    await _off_loop(verify_token, session["token"], origin=session["origin"])
                except patient_tokens.AccessDenied:
                    raise
                except Exception:
                    # The token was good at connect and its link cannot be read now.
                    # Answering the patient (a crisis message above all) matters more than a
                    # revocation that nobody can see until the database is back; the
                    # token's own expiry still holds.
                    logger.exception("socket.io token re-check failed; using the connect check")
                    if datetime.now(timezone.utc) >= session["expires_at"]:
                        raise patient_tokens.AccessDenied("expired") from None
            except patient_tokens.AccessDenied as denied:
                logger.info("socket.io message refused: %s", denied.reason)
                refusal = {"reason": denied.reason, "message": denied.message}
                client_id = _client_id(data)
                if client_id is not None:
                    # Which message it was: a late reply to an earlier one may have come in
                    # between, and the widget keeps this one as not sent.
                    refusal["id"] = client_id
                await sio.emit(ACCESS_DENIED_EVENT, refusal, room=sid, namespace=namespace)
                await sio.disconnect(sid, namespace=namespace)
                return
            status = await consent_gate.current_status(sender_id, clinic)
            if status is None:
                # The consent cannot be read now (the database is down, and with it every
                # store): an open chat goes on as the last reading said, as for its token.
                status = session.get("consent")
            else:
                session["consent"] = status
            if status is None or not status.current:
                # Nothing of it reaches the assistant (which is what keeps things); the
                # crisis reply, when there is one, was sent above and is not repeated.
                refused = await consent_gate.refuse(
                    admission.text,
                    sender_id,
                    clinic,
                    status,
                    crisis_reply=crisis_reply,
                    second_opinion=opinion,
                )
                for reply in refused.replies:
                    await output.send_text_message(sender_id, reply)
                notice: dict[str, Any] = {"version": refused.version, "changed": refused.changed}
                client_id = _client_id(data)
                if client_id is not None:
                    notice["id"] = client_id
                await sio.emit(CONSENT_REQUIRED_EVENT, notice, room=sid, namespace=namespace)
                return
            message = UserMessage(
                admission.text,
                output,
                sender_id,
                input_channel=self.name(),
                metadata={"clinic": clinic},
            )
            await _turn(on_new_message, message, place)

        return socketio_webhook

    async def _refuse(
        self, sio: AsyncServer, sid: str, refused: Refused, client_id: str | None
    ) -> None:
        """Tell this socket alone why its message did not reach the assistant.

        Unreadable and over-long messages are answered like a reply (a widget never sends
        them; a broken or hand-made client is told rather than met with silence); a rate
        limit gets its own event, which the widget answers by sending the message again.
        """
        if refused.reason == message_gate.RATE_LIMITED:
            data: dict[str, Any] = {"message": refused.message, "retry_after": refused.retry_after}
            if client_id is not None:
                data["id"] = client_id
            await sio.emit(RATE_LIMITED_EVENT, data, room=sid, namespace=self.namespace)
        else:
            await sio.emit(
                self.bot_message_evt, {"text": refused.message}, room=sid, namespace=self.namespace
            )


def _json_error(status: int, reason: str, message: str) -> HTTPResponse:
    headers = {"WWW-Authenticate": f'Bearer error="{reason}"'} if status == 401 else None
    return response.json({"error": reason, "message": message}, status=status, headers=headers)


def _denied(denied: patient_tokens.AccessDenied) -> HTTPResponse:
    status = 403 if denied.reason in FORBIDDEN_REASONS else 401
    return _json_error(status, denied.reason, denied.message)


#: REST status per refusal of the message gate.
GATE_STATUS = {
    message_gate.UNREADABLE: 400,
    message_gate.TOO_LONG: 413,
    message_gate.RATE_LIMITED: 429,
}


def _json_refusal(
    status: int, reason: str, message: str, retry_after: int | None = None
) -> HTTPResponse:
    """A refusal with both keys: ``error`` like this channel's other refusals and ``reason``
    like the socket.io refusals, so a client may read either."""
    body: dict[str, Any] = {"error": reason, "reason": reason, "message": message}
    headers = None
    if retry_after is not None:
        body["retry_after"] = retry_after
        headers = {"Retry-After": str(retry_after)}
    return response.json(body, status=status, headers=headers)


def _gate_refusal(refused: Refused) -> HTTPResponse:
    status = GATE_STATUS[refused.reason]
    if refused.reason == message_gate.UNREADABLE:
        text = message_gate.limits().messages["bad_request"]
        return _json_refusal(status, "bad_request", text)
    retry = refused.retry_after if refused.reason == message_gate.RATE_LIMITED else None
    return _json_refusal(status, refused.reason, refused.message, retry)


def _is_json_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names JSON: ``application/json`` or ``application/*+json``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, slash, subtype = media.partition("/")
    return (
        kind == "application" and bool(slash) and (subtype == "json" or subtype.endswith("+json"))
    )


def json_body(request: Request) -> dict[str, Any] | HTTPResponse:
    """The request's JSON object, or the refusal: not sent as JSON (415), too large, not
    UTF-8, not JSON, not an object.

    Only a body declared as JSON is read: a page of any site can make a browser post a
    ``text/plain``, form-encoded or untyped body here without asking first (no CORS
    preflight), so accepting those would let any web page write into demo conversations.
    The body is parsed here rather than with Sanic's ``request.json``, whose failures become
    Sanic's own error pages.
    """
    chat_limits = message_gate.limits()
    if not _is_json_type(request.headers.get("content-type")):
        return _json_refusal(415, "unsupported_media_type", JSON_REQUIRED_MESSAGE)
    raw = request.body or b""
    if len(raw) > chat_limits.max_body_bytes:
        return _json_refusal(413, "body_too_large", chat_limits.messages["body_too_large"])
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        return _json_refusal(400, "bad_request", chat_limits.messages["bad_request"])
    return body


def _wants_stream(request: Request) -> bool:
    """Whether the request asks for a streamed reply (``?stream=`` anything but false)."""
    values = request.args.getlist("stream") or []
    return any(value.strip().lower() not in {"", "false", "0", "no", "off"} for value in values)


def _bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" for another scheme or none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class PatientRestInput(RestInput):
    """Rasa's REST channel with the sender id taken from a Bearer token.

    The body's ``sender`` only counts in demo mode without a token, and never for a patient
    of a clinic other than the demo clinic or for a conversation that has a token. ``input_channel`` and ``metadata`` from the body
    are not used: the metadata is ``{"clinic": slug}`` of the verified patient or the demo
    clinic. Streaming (``?stream=true``) is refused. Replies and errors are Rasa's, with one
    exception:
    a message with an urgent crisis statement is answered with its crisis reply at once, and its turn
    (the risk flag, closing a form) goes on after the response. A REST response carries a
    whole turn, so otherwise the crisis reply would wait for the turn, and under load the turn
    waits behind every other patient's (docs/benchmarks.md). The crisis policy makes
    the crisis reply the only thing such a turn says (the safety-plan line aside), so nothing is lost; the next message of
    the same patient waits for the turn as always (the conversation's lock).
    """

    def __init__(self) -> None:
        super().__init__()
        self._turns_after_reply: set[asyncio.Task[Any]] = set()

    def _finish_after_reply(self, turn: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run ``turn`` to its end, even after the response went out; failures are logged."""
        task = asyncio.ensure_future(turn)
        self._turns_after_reply.add(task)  # a reference, so the task is not collected mid-way

        def done(finished: asyncio.Future[Any]) -> None:
            self._turns_after_reply.discard(task)
            if not finished.cancelled() and finished.exception() is not None:
                # The type only: an exception's text may quote the patient's message.
                logger.error("REST crisis turn failed: %s", type(finished.exception()).__name__)

        task.add_done_callback(done)
        return task

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def authorize(
        self, request: Request, body: dict[str, Any]
    ) -> tuple[str, str] | HTTPResponse:
        """``(sender_id, clinic)`` for this request with this JSON ``body``, or the refusal."""
        token = _bearer_token(request)
        if token is not None:
            try:
                identity = await _off_loop(
                    verify_token, token or None, origin=None, check_origin=False
                )
            except patient_tokens.AccessDenied as denied:
                return _denied(denied)
            except Exception:
                logger.exception("REST request refused: the token could not be checked")
                return _json_error(503, UNAVAILABLE_REASON, UNAVAILABLE_MESSAGE)
            return identity.sender_id, identity.clinic
        if not settings.demo_mode():
            return _denied(patient_tokens.AccessDenied("missing_token"))
        sender = body.get("sender")
        if not isinstance(sender, str) or not sender:
            return _json_error(400, "bad_request", "Send a sender id with the message.")
        if len(
            sender
        ) > message_gate.limits().max_sender_chars or not patient_tokens.valid_sender_id(sender):
            return _json_error(400, "bad_request", patient_tokens.SENDER_ID_MESSAGE)
        demo = settings.demo_clinic_slug()
        try:
            clinic = await _off_loop(patient_tokens.sender_clinic, sender)
        except Exception:
            logger.exception("REST request refused: the sender's clinic could not be read")
            return _json_error(503, UNAVAILABLE_REASON, UNAVAILABLE_MESSAGE)
        if clinic is not None and clinic != demo:
            return _denied(patient_tokens.AccessDenied("wrong_clinic"))
        try:
            linked = await _off_loop(patient_tokens.sender_has_links, sender)
        except Exception:
            logger.exception("REST request refused: the sender's links could not be read")
            return _json_error(503, UNAVAILABLE_REASON, UNAVAILABLE_MESSAGE)
        if linked:
            # A conversation opened with a personal link or an anonymous demo session is
            # reachable with its token only, even in demo mode.
            return _denied(patient_tokens.AccessDenied("missing_token"))
        return sender, demo

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = HardeningBlueprint(f"custom_webhook_{type(self).__name__}", __name__)
        opinion = SecondOpinion()
        gate = MessageGate(
            rate_limit.from_settings(),
            second_opinion=opinion,
            address_limiter=rate_limit.ip_from_settings(),
        )
        message_gate.crisis_check().warm()  # the early crisis reply must not wait for spaCy

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/consent", methods=["GET"])
        async def consent_status(request: Request) -> HTTPResponse:
            """The clinic's consent text and where this patient stands with it (a demo-mode
            sender names itself with ``?sender=``)."""
            authorized = await self.authorize(request, {"sender": request.args.get("sender")})
            if isinstance(authorized, HTTPResponse):
                return authorized
            sender_id, clinic = authorized
            status = await consent_gate.current_status(sender_id, clinic)
            try:
                text = await _off_loop(patient_consent.clinic_text, clinic)
            except Exception as error:
                logger.error("consent text not read (%s)", type(error).__name__)
                return _json_error(503, UNAVAILABLE_REASON, UNAVAILABLE_MESSAGE)
            answer = status.as_dict() if status is not None else {"current": False}
            return response.json({**answer, "consent": text.as_dict()})

        @webhook.route("/consent", methods=["POST"])
        async def agree(request: Request) -> HTTPResponse:
            """The patient's "I agree" to ``{"version": n}`` of the clinic's consent text."""
            body = json_body(request)
            if isinstance(body, HTTPResponse):
                return body
            authorized = await self.authorize(request, body)
            if isinstance(authorized, HTTPResponse):
                return authorized
            sender_id, clinic = authorized
            answer = await _record_consent(sender_id, clinic, body.get("version"))
            status = {
                None: 200,
                "bad_request": 400,
                "consent_changed": 409,
                UNAVAILABLE_REASON: 503,
            }[answer.get("error")]
            if "error" in answer:
                answer = {"reason": answer["error"], **answer}
            return response.json(answer, status=status)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            opinion.app = opinion.app or request.app
            if _wants_stream(request):
                return _json_refusal(400, "stream_not_supported", STREAM_REFUSED_MESSAGE)
            body = json_body(request)
            if isinstance(body, HTTPResponse):
                return body
            authorized = await self.authorize(request, body)
            if isinstance(authorized, HTTPResponse):
                return authorized
            sender_id, clinic = authorized
            raw = body.get("message")
            admission = await gate.admit(sender_id, raw, client_address(request))
            if isinstance(admission, Refused):
                if admission.reason == message_gate.UNREADABLE and isinstance(raw, str):
                    # Blank text is answered like a reply, as on the socket; a message that
                    # is not text at all is a malformed request (400).
                    return response.json([{"recipient_id": sender_id, "text": admission.message}])
                return _gate_refusal(admission)
            text = admission.text
            status = await consent_gate.current_status(sender_id, clinic)
            if status is None or not status.current:
                refused = await consent_gate.refuse(
                    text,
                    sender_id,
                    clinic,
                    status,
                    crisis_reply=crisis_reply,
                    second_opinion=opinion,
                )
                answer: list[dict[str, Any]] = [
                    {"recipient_id": sender_id, "text": reply} for reply in refused.replies
                ]
                answer[-1]["consent_required"] = {
                    "version": refused.version,
                    "changed": refused.changed,
                }
                return response.json(answer)
            metadata = {"clinic": clinic}
            collector = CollectingOutputChannel()
            message = UserMessage(
                text, collector, sender_id, input_channel=self.name(), metadata=metadata
            )
            place = turn_slots.for_running_loop().reserve(sender_id)
            try:
                reply = await _early_crisis_reply(text, clinic)
            except BaseException:
                place.release()
                raise
            if reply:
                # The crisis reply never waits for other turns. When its own turn can run at
                # once, a moment's wait adds what the turn says after it (the safety plan's
                # line, the check-in).
                wait = CRISIS_TURN_WAIT_SECONDS if place.can_start_now else 0.0
                turn = self._finish_after_reply(_turn(on_new_message, message, place))
                if wait:
                    await asyncio.wait({turn}, timeout=wait)
                finished = turn.done() and not turn.cancelled() and turn.exception() is None
                after = collector.messages if finished else []
                rest = [sent for sent in after if (sent.get("text") or "").strip() != reply.strip()]
                return response.json([{"recipient_id": sender_id, "text": reply}, *rest])
            try:
                await _turn(on_new_message, message, place)
            except asyncio.CancelledError:
                logger.error("REST message timed out")
            except Exception as error:
                # The type only: an exception's text may quote the patient's message.
                logger.error("REST message failed: %s", type(error).__name__)
            return response.json(collector.messages)

        return webhook
