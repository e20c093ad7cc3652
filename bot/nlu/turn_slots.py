"""How many turns a Rasa server works on at once; the other messages wait in order.

A Rasa server runs every turn on one asyncio event loop, and a turn holds the loop for tens of
milliseconds at a time (model inference, the tracker store). With fifty patients' turns in
flight, one pass of the loop runs dozens of those pieces before it looks at the network
again, so a message that has just arrived waits seconds before its handler even starts, and
a crisis message with it, although its reply needs no model at all (the channels send it at
once, :mod:`bot.nlu.patient_channel`). Letting only a few turns into the pipeline at a time
keeps each pass of the loop short: new messages are read, crisis replies sent, and
everything else queues here without holding the loop.

The queue is an ``asyncio.Semaphore``, which in the Python the Rasa environment runs hands a
freed slot to the message that has waited longest, so a later message never overtakes an
earlier one of the same patient (``tests/rasa/test_turn_slots.py`` holds it to that).
"""

from __future__ import annotations

import asyncio
import weakref

from bot import settings

_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def for_running_loop() -> asyncio.Semaphore:
    """The slots of the running event loop (one per Rasa server; both chat channels share
    them), as many as ``COMPANION_CONCURRENT_TURNS`` says."""
    loop = asyncio.get_running_loop()
    slots = _BY_LOOP.get(loop)
    if slots is None:
        slots = _BY_LOOP[loop] = asyncio.Semaphore(settings.concurrent_turns())
    return slots
