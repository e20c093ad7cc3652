"""How many turns a Rasa server works on at once; the other messages wait in order.

A Rasa server runs every turn on one asyncio event loop, and a turn holds the loop for tens of
milliseconds at a time (model inference, the tracker store). With fifty patients' turns in
flight, one pass of the loop runs dozens of those pieces before it looks at the network
again, so a message that has just arrived waits seconds before its handler even starts, and
a crisis message with it, although its reply needs no model at all (the channels send it at
once, :mod:`bot.chat.patient_channel`). Letting only a few turns into the pipeline at a time
keeps each pass of the loop short: new messages are read, crisis replies sent, and
everything else queues here without holding the loop.

A conversation takes at most one slot at a time: its later messages wait in a queue of their
own, outside the slots. Rasa's lock store already lets only one turn of a conversation run,
but a turn waiting for it would otherwise sit in a slot (and poll once a second), so one
patient sending many messages at once (crisis messages pass the rate limit) could fill every
slot and stall everyone else.

A message takes its place in its conversation's queue when it arrives (:meth:`TurnSlots.reserve`,
which does not wait), not when it is ready for its turn: between the two, a channel checks
the patient's token in a thread pool, and two checks can finish in either order. Places taken
at arrival keep a patient's messages in the order they were sent whatever happens in between.
The slots themselves are asyncio's ``Semaphore``, which in the Python the Rasa environment runs
hands a freed slot to whoever has waited longest (``tests/rasa/chat/test_turn_slots.py`` holds
both queues to that).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot import settings


class Place:
    """A message's place in its conversation's queue, taken when the message arrived.

    ``async with place.turn():`` waits for the conversation's earlier messages to be done,
    then for a slot. A place must be given up with :meth:`release` (or by its turn ending)
    whether or not its turn ran, or the conversation's later messages would wait for ever; a
    place given up early still lets the next message in only after the earlier ones.
    """

    def __init__(self, slots: TurnSlots, sender_id: str, before: asyncio.Future[None] | None):
        self._slots = slots
        self._sender_id = sender_id
        self._before = before
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._released = False

    @property
    def can_start_now(self) -> bool:
        """No earlier message of the conversation is pending and a slot is free."""
        return (self._before is None or self._before.done()) and not self._slots.semaphore.locked()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for the conversation's earlier messages, then for a slot; hold both meanwhile."""
        try:
            if self._before is not None:
                await asyncio.shield(self._before)
            async with self._slots.semaphore:
                yield
        finally:
            self.release()

    def release(self) -> None:
        """Let the conversation's next message go once every earlier one is done (idempotent)."""
        if self._released:
            return
        self._released = True
        if self._before is None or self._before.done():
            self._finish()
        else:
            self._before.add_done_callback(lambda _: self._finish())

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self._slots._forget(self._sender_id, self.done)


class TurnSlots:
    """The slots of one event loop, and the queue of each conversation in front of them."""

    def __init__(self, slots: int) -> None:
        self.semaphore = asyncio.Semaphore(slots)
        self._last: dict[str, asyncio.Future[None]] = {}

    @property
    def conversations_waiting(self) -> int:
        return len(self._last)

    def reserve(self, sender_id: str) -> Place:
        """Take the next place in the conversation's queue now (call it before any ``await``
        in a message's handler, so that places follow the order in which messages arrived)."""
        place = Place(self, sender_id, self._last.get(sender_id))
        self._last[sender_id] = place.done
        return place

    @asynccontextmanager
    async def turn(self, sender_id: str) -> AsyncIterator[None]:
        """Take a place now and wait for the turn (for callers with nothing to do between)."""
        async with self.reserve(sender_id).turn():
            yield

    def _forget(self, sender_id: str, done: asyncio.Future[None]) -> None:
        """Drop a conversation whose last message is done: nothing is kept for idle ones."""
        if self._last.get(sender_id) is done:
            del self._last[sender_id]


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
