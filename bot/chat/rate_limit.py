"""Message rate limits for the chat channels: a token bucket per sender id, and one per
network address.

Why: one patient (or a script with a patient's token, or a demo-mode REST sender) sending
thousands of messages a minute would keep the NLU pipeline, the policies and the tracker
store busy for everyone else. A person types a message every few seconds at most, so the
limit only ever meets programs.

How: each sender has a bucket of ``burst`` tokens (default 20) that refills at
``count / seconds`` tokens per second (default 30 per 60 s, ``COMPANION_RATE_LIMIT="30/60"``,
``COMPANION_RATE_LIMIT_BURST=20``; see ``bot.settings``). A message takes one token; with none
left it is refused and told how many seconds until the next token. A token bucket rather than
a fixed window: clicking a few quick replies in a row, or the widget sending its queue after a
reconnect, fits in the burst, and the wait after a flood is the time to one token, not the
rest of a window.

A refused sender is held until the time it was told (``retry_after``): a token that refills
before then is kept for the message sent again, not given to a newer one. Otherwise a message
typed after a refused one could get in first, and the patient's words would be read out of
order once the refused one is sent again. (The per-address limiter holds nobody: its tokens
are shared by many conversations and order matters only within one; the message gate holds
the sender instead, :meth:`RateLimiter.hold`.)

Memory stays bounded: a bucket that has refilled completely says nothing a new bucket would
not, so idle senders are dropped as they reach the front of the least-recently-used order,
and at most ``max_senders`` buckets are kept whatever happens (the oldest goes first).

The same buckets, keyed by the client's address (:func:`ip_from_settings`), limit what all the
conversations from one address send together: conversations are cheap to start (an anonymous
demo session, a demo-mode REST sender), so a per-sender limit alone does not stop one
machine.

The limiter is per process and not shared between Rasa server processes; each process limits
what reaches its own agent, which is the point. It is used from the event loop only, but a
lock makes it safe from threads too.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot import settings

#: Buckets kept at most; far above the number of patients typing within one refill time.
MAX_SENDERS = 100_000


@dataclass(frozen=True)
class Decision:
    """Whether one message may go on; if not, whole seconds until it may (at least 1)."""

    allowed: bool
    retry_after: int = 0
    #: The first refusal since this sender was last allowed: worth a log line, the
    #: thousand that follow in a flood are not.
    first_refusal: bool = False


@dataclass
class _Bucket:
    tokens: float
    updated: float
    refusing: bool = False
    #: Refused until then (the clock's time), whatever tokens refill sooner.
    held_until: float = 0.0


class RateLimiter:
    """Token buckets keyed by sender id (see the module docstring)."""

    def __init__(
        self,
        count: int,
        seconds: float,
        burst: int,
        *,
        max_senders: int = MAX_SENDERS,
        clock: Callable[[], float] = time.monotonic,
        hold_refused: bool = True,
    ) -> None:
        if count < 1 or seconds <= 0 or burst < 1 or max_senders < 1:
            raise ValueError("a rate limit needs count >= 1, seconds > 0, burst >= 1")
        self.rate = count / seconds
        self.burst = burst
        self.max_senders = max_senders
        self._clock = clock
        self.hold_refused = hold_refused
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, sender_id: str) -> Decision:
        """Take a token for one message from ``sender_id``."""
        with self._lock:
            now = self._clock()
            self._evict_idle(now)
            bucket = self._buckets.pop(sender_id, None)
            if bucket is None:
                bucket = _Bucket(tokens=float(self.burst), updated=now)
            else:
                bucket.tokens = self._refilled(bucket, now)
                bucket.updated = now
            self._buckets[sender_id] = bucket
            while len(self._buckets) > self.max_senders:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1 and now >= bucket.held_until:
                bucket.tokens -= 1
                bucket.refusing = False
                return Decision(allowed=True)
            first = not bucket.refusing
            bucket.refusing = True
            if now >= bucket.held_until:
                wait = max(1, math.ceil((1 - bucket.tokens) / self.rate))
                if self.hold_refused:
                    bucket.held_until = now + wait
            else:
                wait = max(1, math.ceil(bucket.held_until - now))
            return Decision(allowed=False, retry_after=wait, first_refusal=first)

    def hold(self, sender_id: str, seconds: float) -> None:
        """Refuse ``sender_id`` for ``seconds`` from now (another limit refused them for that
        long), so none of their later messages gets in before the refused one is sent again."""
        with self._lock:
            bucket = self._buckets.get(sender_id)
            if bucket is not None:
                bucket.held_until = max(bucket.held_until, self._clock() + seconds)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)

    def _evict_idle(self, now: float) -> None:
        """Drop the least recently used buckets that have refilled completely."""
        while self._buckets:
            sender_id, bucket = next(iter(self._buckets.items()))
            if self._refilled(bucket, now) < self.burst or now < bucket.held_until:
                return
            del self._buckets[sender_id]


def from_settings() -> RateLimiter | None:
    """The limiter for the current settings, shared by every channel of this process.

    Both channels (socket.io and REST) get the same instance, so a patient cannot double
    their allowance by using both; None when the limit is switched off.
    """
    limit = settings.rate_limit()
    if limit is None:
        return None
    return _shared(limit[0], limit[1], settings.rate_limit_burst())


@functools.lru_cache(maxsize=8)
def _shared(count: int, seconds: float, burst: int) -> RateLimiter:
    return RateLimiter(count, seconds, burst)


def ip_from_settings() -> RateLimiter | None:
    """The per-address limiter for the current settings, shared by both channels of this
    process; None when it is switched off (``COMPANION_IP_RATE_LIMIT``)."""
    limit = settings.ip_rate_limit()
    if limit is None:
        return None
    return _shared_by_address(limit[0], limit[1], settings.ip_rate_limit_burst())


@functools.lru_cache(maxsize=8)
def _shared_by_address(count: int, seconds: float, burst: int) -> RateLimiter:
    return RateLimiter(count, seconds, burst, hold_refused=False)


def combined(*decisions: Decision | None) -> Decision | None:
    """One decision from several limits: allowed only if every one allows it, then as long
    a wait as the longest; a first refusal if any limit's refusal is its first."""
    present = [decision for decision in decisions if decision is not None]
    if not present:
        return None
    refused = [decision for decision in present if not decision.allowed]
    if not refused:
        return Decision(allowed=True)
    return Decision(
        allowed=False,
        retry_after=max(decision.retry_after for decision in refused),
        first_refusal=any(decision.first_refusal for decision in refused),
    )
