"""The server's turn slots (bot/nlu/turn_slots.py): one set per event loop, sized by the
setting, first come first served. (tests/rasa/test_early_crisis_reply.py: a crisis reply
while every slot is taken.)"""

from __future__ import annotations

import asyncio

import pytest

from bot import settings
from bot.nlu import turn_slots


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two messages of one patient must keep their order: a message arriving just as a slot
    is freed queues behind the ones already waiting (an unfair semaphore, as in older
    Pythons, would let it take the slot before the woken waiter runs)."""
    monkeypatch.setenv("COMPANION_CONCURRENT_TURNS", "1")

    async def scenario() -> list[str]:
        slots, order = turn_slots.for_running_loop(), []

        async def turn(name: str) -> None:
            async with slots:
                order.append(name)

        await slots.acquire()  # the turn in progress
        waiting = [asyncio.create_task(turn(f"waiting {n}")) for n in range(3)]
        await asyncio.sleep(0)
        slots.release()  # it ends, and in the same instant a new message arrives
        await turn("newcomer")
        await asyncio.gather(*waiting)
        return order

    assert asyncio.run(scenario()) == ["waiting 0", "waiting 1", "waiting 2", "newcomer"]


def test_one_set_of_slots_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_CONCURRENT_TURNS", "2")

    async def twice() -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        return turn_slots.for_running_loop(), turn_slots.for_running_loop()

    first, again = asyncio.run(twice())
    other, _ = asyncio.run(twice())
    assert first is again and first is not other


@pytest.mark.parametrize("value, expected", [("", 4), ("1", 1), (" 12 ", 12)])
def test_concurrent_turns_setting(value: str, expected: int, monkeypatch) -> None:
    monkeypatch.setenv("COMPANION_CONCURRENT_TURNS", value)
    assert settings.concurrent_turns() == expected


@pytest.mark.parametrize("value", ["0", "-3", "four", "2.5"])
def test_a_mistyped_concurrent_turns_is_an_error(value: str, monkeypatch) -> None:
    monkeypatch.setenv("COMPANION_CONCURRENT_TURNS", value)
    with pytest.raises(RuntimeError, match="COMPANION_CONCURRENT_TURNS"):
        settings.concurrent_turns()
