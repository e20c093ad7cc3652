"""How many turns a Rasa server works on at once; the other messages wait in order.

A Rasa server runs every turn on one asyncio event loop, and a turn holds the loop for tens of
milliseconds at a time (model inference, the tracker store). With fifty patients' turns in
flight, one pass of the loop runs dozens of those pieces before it looks at the network
again, so a message that has just arrived waits seconds before its handler even starts, and
a crisis message with it, although its reply needs no model at all (the channels send it at
once, :mod:`bot.nlu.patient_channel`). Letting only a few turns into the pipeline at a time
keeps each pass of the loop short: new messages are read, crisis replies sent, and
everything else queues here without holding the loop.

A conversation takes at most one slot at a time: its later messages wait on a lock of their
own, outside the slots. Rasa's lock store already lets only one turn of a conversation run,
but a turn waiting for it would otherwise sit in a slot (and poll once a second), so one
patient sending many messages at once (crisis messages pass the rate limit) could fill every
slot and stall everyone else.

Both queues are asyncio's ``Semaphore`` and ``Lock``, which in the Python the Rasa environment
runs hand a freed place to whoever has waited longest, so a later message never overtakes an
earlier one (``tests/rasa/test_turn_slots.py`` holds them to that).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot import settings


class TurnSlots:
    """The slots of one event loop, and the queue of each conversation in front of them."""

    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._conversations: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def conversations_waiting(self) -> int:
        return len(self._conversations)

    @asynccontextmanager
    async def turn(self, sender_id: str) -> AsyncIterator[None]:
        """Wait for the conversation's earlier turns, then for a slot; hold both meanwhile."""
        lock, users = self._conversations.get(sender_id, (asyncio.Lock(), 0))
        self._conversations[sender_id] = (lock, users + 1)
        try:
            async with lock, self._slots:
                yield
        finally:
            lock, users = self._conversations[sender_id]
            if users == 1:
                del self._conversations[sender_id]
            else:
                self._conversations[sender_id] = (lock, users - 1)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TurnSlots] = (
    weakref.WeakKeyDictionary()
)


def for_running_loop() -> TurnSlots:
    """The slots of the running event loop (one per Rasa server; both chat channels share
    them), as many as ``COMPANION_CONCURRENT_TURNS`` says."""
    loop = asyncio.get_running_loop()
    slots = _BY_LOOP.get(loop)
    if slots is None:
        slots = _BY_LOOP[loop] = TurnSlots(settings.concurrent_turns())
    return slots
