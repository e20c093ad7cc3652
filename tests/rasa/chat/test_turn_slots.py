"""The server's turn slots (bot/chat/turn_slots.py): at most N turns at once, first come first
served, one slot per conversation at a time, one set per event loop, sized by the setting.
(tests/rasa/chat/test_early_crisis_reply.py: crisis replies while every slot is taken.)"""

from __future__ import annotations

import asyncio

import pytest

from bot import settings
from bot.chat import turn_slots
from bot.chat.turn_slots import TurnSlots


def test_never_more_turns_at_once_than_slots() -> None:
    async def scenario() -> int:
        slots, inside, most = TurnSlots(3), 0, 0

        async def turn(n: int) -> None:
            nonlocal inside, most
            async with slots.turn(f"patient {n % 7}"):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.001 * (n % 4))
                inside -= 1

        await asyncio.gather(*(turn(n) for n in range(40)))
        assert slots.conversations_waiting == 0  # nothing kept for finished conversations
        return most

    assert asyncio.run(scenario()) == 3


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    """A message arriving just as a slot is freed queues behind the ones already waiting (an
    unfair semaphore, as in older Pythons, would let it take the slot first)."""

    async def scenario() -> list[str]:
        slots, order = TurnSlots(1), []
        holding, done = asyncio.Event(), asyncio.Event()

        async def turn(name: str, hold: bool = False) -> None:
            async with slots.turn(name):
                order.append(name)
                if hold:
                    holding.set()
                    await done.wait()

        first = asyncio.create_task(turn("first", hold=True))
        await holding.wait()
        waiting = [asyncio.create_task(turn(f"waiting {n}")) for n in range(3)]
        await asyncio.sleep(0)
        done.set()
        await asyncio.sleep(0)  # the first turn ends...
        await turn("newcomer")  # ...and in the same instant a new message arrives
        await asyncio.gather(first, *waiting)
        return order

    assert asyncio.run(scenario()) == [
        "first",
        "waiting 0",
        "waiting 1",
        "waiting 2",
        "newcomer",
    ]


def test_one_patients_many_messages_take_one_slot_and_keep_their_order() -> None:
    """Twenty messages of one patient at once (crisis messages pass the rate limit) must not
    fill the slots: another patient's turn gets in while they wait, and theirs run in order."""

    async def scenario() -> tuple[list[str], list[str]]:
        slots, order, inside_when_other_ran = TurnSlots(2), [], []
        busy: list[str] = []

        async def turn(sender: str, name: str) -> None:
            async with slots.turn(sender):
                busy.append(name)
                order.append(name)
                await asyncio.sleep(0.01)
                busy.remove(name)

        async def other() -> None:
            await asyncio.sleep(0.005)
            async with slots.turn("someone else"):
                inside_when_other_ran.extend(busy)

        await asyncio.gather(*(turn("flooding", f"m{n}") for n in range(20)), other())
        return order, inside_when_other_ran

    order, inside = asyncio.run(scenario())
    assert order == [f"m{n}" for n in range(20)]
    assert inside == ["m0"]  # the other patient ran beside the first message, not after all


def test_one_set_of_slots_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_CONCURRENT_TURNS", "2")

    async def twice() -> tuple[TurnSlots, TurnSlots]:
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


def test_a_message_keeps_the_place_it_took_on_arrival_whenever_it_is_ready() -> None:
    """A channel reserves a message's place before checking its token, and the checks can
    finish in either order: the message that arrived first still runs first."""

    async def scenario() -> list[str]:
        slots, order = TurnSlots(4), []
        first, second = slots.reserve("patient"), slots.reserve("patient")

        async def turn(place, name: str, ready_after: float) -> None:
            await asyncio.sleep(ready_after)  # the token check
            async with place.turn():
                order.append(name)

        await asyncio.gather(turn(first, "first", 0.05), turn(second, "second", 0))
        assert slots.conversations_waiting == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_place_given_up_without_a_turn_still_holds_back_the_messages_after_it() -> None:
    """A refused message gives up its place; the next one still waits for the one before."""

    async def scenario() -> list[str]:
        slots, order = TurnSlots(4), []
        first, refused, third = (slots.reserve("patient") for _ in range(3))

        async def turn(place, name: str, ready_after: float) -> None:
            await asyncio.sleep(ready_after)
            async with place.turn():
                order.append(name)

        refused.release()
        refused.release()  # giving up twice is harmless
        await asyncio.gather(turn(first, "first", 0.05), turn(third, "third", 0))
        assert slots.conversations_waiting == 0
        return order

    assert asyncio.run(scenario()) == ["first", "third"]


def test_a_place_can_start_now_only_with_nothing_before_it_and_a_free_slot() -> None:
    async def scenario() -> list[bool]:
        slots, seen = TurnSlots(1), []
        first = slots.reserve("ana")
        seen.append(first.can_start_now)  # an idle server
        second = slots.reserve("ana")
        seen.append(second.can_start_now)  # behind ana's first message
        async with first.turn():
            seen.append(slots.reserve("ben").can_start_now)  # the only slot is taken
        await asyncio.sleep(0)
        seen.append(second.can_start_now)  # ana's first is done, the slot is free
        return seen

    assert asyncio.run(scenario()) == [True, False, False, True]
