"""What a patient's message must pass before it reaches the assistant, in both chat channels.

In order:

1. The sender's rate limit and its network address's (:mod:`bot.chat.rate_limit`) each take a
   token, whatever the message is, so a flood of broken messages is limited like any other.
2. The text must be a non-blank string. NUL characters are removed (PostgreSQL refuses them
   in text columns, and no keyboard types them) and unpaired surrogates, which JSON allows
   but UTF-8 cannot encode, become U+FFFD, so the tracker store and the action server never
   fail on what a client sent.
3. It must be at most ``max_message_chars`` long (bot/content/chat_limits.yml).
4. It must be within the rate limit.

A message refused at 3 or 4 is checked by the deterministic crisis detector
(:mod:`bot.safety.detector`) and goes through anyway if it has any risk signal: a crisis
message always gets its reply, however it arrives. If the detector finds nothing, the
channel's ``second_opinion`` (the assistant's own NLU, classifier included) is asked too, at
most ``SECOND_OPINIONS_PER_MINUTE`` times a minute per sender so that a flood cannot make
the server classify every message it refuses; a message it reads as a crisis goes through. Of an over-long crisis message the
assistant gets the part with the crisis statement in it (a window of at most
``max_message_chars``), because the classifier's cost grows with the length of the text.
Only the first ``crisis_scan_chars`` of an over-long message are checked, so that a hostile
megabyte costs milliseconds, not seconds.

The check runs in one thread of its own with its own matcher, built there on first use:
never on the event loop, never competing with the token checks in the default executor, at
most one core however many refusals arrive, and never sharing spaCy objects with the NLU
pipeline's detector in the main thread (spaCy does not promise they are thread-safe). If the
check itself fails, the message goes through: a missed refusal costs little, a missed crisis
a great deal.

The early crisis reply of the chat channels (:mod:`bot.chat.patient_channel`) asks
:meth:`CrisisCheck.is_crisis_now` instead, on the event loop itself, with a matcher of its own
that only the loop's thread uses. An admitted message is at most ``max_message_chars`` long,
which the detector reads in about 3 ms (0.2 ms for a chat-sized message): less than one hop
to a thread and back costs when the loop is busy with other patients, and the reply must not
queue behind them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.chat.rate_limit import RateLimiter, combined
from bot.safety.detector import CrisisMatch, CrisisMatcher

logger = logging.getLogger(__name__)

#: How often a minute one sender's refused messages are given to the channel's second opinion.
SECOND_OPINIONS_PER_MINUTE = 6

LIMITS_PATH = Path(__file__).resolve().parents[1] / "content" / "chat_limits.yml"
RATE_LIMITED = "rate_limited"
TOO_LONG = "message_too_long"
UNREADABLE = "unreadable"

_SURROGATE = re.compile("[\ud800-\udfff]")
_WINDOW_OVERLAP = 400
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ChatLimits:
    """The limits and texts of bot/content/chat_limits.yml."""

    max_message_chars: int
    crisis_scan_chars: int
    max_body_bytes: int
    max_sender_chars: int
    messages: dict[str, str]


@functools.lru_cache(maxsize=1)
def limits() -> ChatLimits:
    with LIMITS_PATH.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    numbers = {
        name: int(data[name])
        for name in ("max_message_chars", "crisis_scan_chars", "max_body_bytes", "max_sender_chars")
    }
    if min(numbers.values()) < 1 or numbers["crisis_scan_chars"] < numbers["max_message_chars"]:
        raise ValueError(f"{LIMITS_PATH}: limits must be positive, scan >= message length")
    messages = {key: _fill(str(value), numbers) for key, value in data["messages"].items()}
    return ChatLimits(**numbers, messages=messages)


def _fill(text: str, numbers: dict[str, int]) -> str:
    """One line, with ``{name}`` replaced by the limit of that name (5000 reads 5,000)."""
    for name, value in numbers.items():
        text = text.replace(f"{{{name}}}", f"{value:,}")
    return " ".join(text.split())


@dataclass(frozen=True)
class Admitted:
    """The message goes to the assistant with this text."""

    text: str
    #: True when it was refused (too long, too fast) and let through as a crisis message.
    crisis_override: bool = False


@dataclass(frozen=True)
class Refused:
    """The message does not reach the assistant; ``message`` is for the patient."""

    reason: str
    message: str
    retry_after: int = 0


def clean_text(text: str) -> str:
    """The text without NUL characters and with unpaired surrogates replaced (see above)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text)


def windows(text: str, size: int) -> Iterator[str]:
    """Overlapping pieces of at most ``size`` characters, cut at whitespace where possible."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(
                (m.start() for m in _WHITESPACE.finditer(text, start + size // 2, end)), default=-1
            )
            end = cut if cut > start else end
        yield text[start:end]
        if end >= len(text):
            return
        start = max(start + 1, end - _WINDOW_OVERLAP)
        found = _WHITESPACE.search(text, start, end)
        start = found.end() if found else start


class CrisisCheck:
    """The crisis detector for refused messages, in a thread of its own (see above)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisis-gate")
        self._matcher: CrisisMatcher | None = None
        self._loop_matcher: CrisisMatcher | None = None

    def _detect(self, text: str) -> bool:
        if self._matcher is None:
            self._matcher = CrisisMatcher()
        return self._matcher.detect(text) is not None

    def _crisis_window(self, text: str, size: int) -> str | None:
        if not self._detect(text):
            return None
        for piece in windows(text, size):
            if self._detect(piece):
                return piece
        # The statement only reads as one across a cut: the start still goes through, so
        # the assistant answers rather than the patient being refused.
        logger.warning("crisis statement found in an over-long message but in no window")
        return text[:size]

    async def crisis_window(self, text: str, size: int) -> str | None:
        """The first piece of ``text`` (at most ``size`` long) with a crisis statement."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._crisis_window, text, size)
        except Exception as error:
            # The type only: an exception's text may quote the patient's message.
            logger.error(
                "crisis check of a refused message failed (%s); letting it through",
                type(error).__name__,
            )
            return text[:size]

    def warm(self) -> None:
        """Build both matchers now (the thread's in its thread, the loop's here, at server
        start), so that the first crisis message does not wait for spaCy."""
        self._executor.submit(self._detect, "")
        self.is_crisis_now("")

    def match_now(self, text: str) -> CrisisMatch | None:
        """The detector's most acute signal in ``text`` (an admitted message), checked on the
        calling thread: the event loop's, and only that one. ``None`` if the check fails."""
        try:
            if self._loop_matcher is None:
                self._loop_matcher = CrisisMatcher()
            return self._loop_matcher.detect(text)
        except Exception as error:
            logger.error("crisis check failed (%s)", type(error).__name__)
            return None

    def urgent_kind_now(self, text: str) -> str | None:
        """The reply kind if ``text`` (an admitted message) has an urgent crisis statement
        (:meth:`match_now`). ``None`` if the check fails: the message still takes the
        assistant's own path, whose detector is the same."""
        match = self.match_now(text)
        return match.reply if match is not None and match.level == "urgent" else None

    def is_crisis_now(self, text: str) -> bool:
        """Whether ``text`` has an urgent crisis statement (see :meth:`urgent_kind_now`)."""
        return self.urgent_kind_now(text) is not None


@functools.lru_cache(maxsize=1)
def crisis_check() -> CrisisCheck:
    """The process's crisis check for refused messages (its matcher is built on first use)."""
    return CrisisCheck()


class MessageGate:
    """Decides, per message, whether it reaches the assistant and with which text."""

    def __init__(
        self,
        limiter: RateLimiter | None,
        chat_limits: ChatLimits | None = None,
        check: CrisisCheck | None = None,
        second_opinion: Callable[[str], Awaitable[bool]] | None = None,
        address_limiter: RateLimiter | None = None,
    ) -> None:
        self.limiter = limiter
        self.address_limiter = address_limiter
        self.limits = chat_limits or limits()
        self._check = check
        self._second_opinion = second_opinion
        self._opinions: dict[str, list[float]] = {}

    def _refused(self, reason: str, retry_after: int = 0) -> Refused:
        return Refused(reason, self.limits.messages[reason], retry_after)

    async def admit(
        self, sender_id: str, raw: Any, address: str | None = None
    ) -> Admitted | Refused:
        """Let ``raw`` (the client's ``message`` value) through, or say why not.

        ``address`` is the client's network address, for the limit of everything sent from
        it (None: not known, only the sender's limit applies).
        """
        own = self.limiter.take(sender_id) if self.limiter is not None else None
        # A message its sender's own limit refuses takes nothing from the address's tokens,
        # which the other conversations from that address share.
        decision = combined(
            own,
            self.address_limiter.take(address)
            if self.address_limiter is not None and address and (own is None or own.allowed)
            else None,
        )
        if not isinstance(raw, str) or not raw.strip():
            return self._refused(UNREADABLE)
        text = clean_text(raw)
        if not text.strip():
            return self._refused(UNREADABLE)
        size = self.limits.max_message_chars
        if len(text) > size:
            window = await self._crisis_window(text[: self.limits.crisis_scan_chars], size)
            if window is not None:
                logger.warning("over-long message let through: it has a crisis statement")
                return Admitted(window, crisis_override=True)
            logger.info("message refused: %s (%d characters)", TOO_LONG, len(text))
            return self._refused(TOO_LONG)
        if decision is not None and not decision.allowed:
            if await self._crisis_window(text, size) is not None:
                logger.warning("rate-limited message let through: it has a crisis statement")
                return Admitted(text, crisis_override=True)
            if await self._ask_second_opinion(sender_id, text):
                logger.warning("rate-limited message let through: the assistant reads a crisis")
                return Admitted(text, crisis_override=True)
            if decision.first_refusal:
                logger.info(
                    "messages refused: rate limit reached (retry after %d s)", decision.retry_after
                )
            if self.limiter is not None and own is not None and own.allowed:
                # The address's limit refused it: hold the sender as their own limit would.
                self.limiter.hold(sender_id, decision.retry_after)
            return self._refused(RATE_LIMITED, decision.retry_after)
        return Admitted(text)

    async def _crisis_window(self, text: str, size: int) -> str | None:
        check = self._check or crisis_check()
        return await check.crisis_window(text, size)

    async def _ask_second_opinion(self, sender_id: str, text: str) -> bool:
        """The channel's second opinion on a refused message, within the sender's budget.
        A failing opinion lets the message through: a missed crisis costs more."""
        if self._second_opinion is None:
            return False
        now = time.monotonic()
        recent = [t for t in self._opinions.get(sender_id, []) if now - t < 60.0]
        if len(recent) >= SECOND_OPINIONS_PER_MINUTE:
            self._opinions[sender_id] = recent
            return False
        self._opinions[sender_id] = [*recent, now]
        if len(self._opinions) > 10_000:  # forget idle senders
            self._opinions = {k: v for k, v in self._opinions.items() if now - v[-1] < 60.0}
        try:
            return await self._second_opinion(text)
        except Exception as error:
            logger.error("second opinion on a refused message failed (%s)", type(error).__name__)
            return True
