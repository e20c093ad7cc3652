"""Events opened once are kept per conversation, and nothing stale or erased is served."""

from __future__ import annotations

import pytest

from bot.chat.opened_events import OpenedEvents


class Opener:
    """Opens ``sealed:<text>`` as ``<text>``, counting calls; ``bad:`` values cannot be opened."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, row_id: int, sealed: str) -> str | None:
        self.calls.append(row_id)
        return None if sealed.startswith("bad:") else sealed.removeprefix("sealed:")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def opener() -> Opener:
    return Opener()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kept(clock: Clock) -> OpenedEvents:
    return OpenedEvents(max_conversations=3, idle_seconds=60, clock=clock)


def test_each_event_is_opened_once_across_turns(kept: OpenedEvents, opener: Opener) -> None:
    first = [(1, "sealed:hello"), (2, "sealed:how are you")]
    assert kept.read("p-1", first, opener) == ["hello", "how are you"]

    later = [*first, (3, "sealed:not great")]
    assert kept.read("p-1", later, opener) == ["hello", "how are you", "not great"]

    assert opener.calls == [1, 2, 3]


def test_a_row_sealed_anew_is_opened_again(kept: OpenedEvents, opener: Opener) -> None:
    kept.read("p-1", [(1, "sealed:hello")], opener)

    # a key rotation re-sealed the row, or SQLite gave a deleted row's id to a new one
    assert kept.read("p-1", [(1, "sealed:goodbye")], opener) == ["goodbye"]
    assert opener.calls == [1, 1]


def test_rows_no_longer_stored_are_not_kept(kept: OpenedEvents, opener: Opener) -> None:
    kept.read("p-1", [(1, "sealed:before"), (2, "sealed:also before")], opener)
    kept.read("p-1", [(3, "sealed:after")], opener)  # 1 and 2 were erased meanwhile

    assert kept.read("p-1", [(1, "sealed:before")], opener) == ["before"]
    assert opener.calls == [1, 2, 3, 1]


def test_an_event_that_cannot_be_opened_is_tried_again(kept: OpenedEvents, opener: Opener) -> None:
    assert kept.read("p-1", [(1, "bad:x"), (2, "sealed:fine")], opener) == [None, "fine"]
    assert kept.read("p-1", [(1, "bad:x"), (2, "sealed:fine")], opener) == [None, "fine"]
    assert opener.calls == [1, 2, 1]


def test_conversations_are_kept_apart(kept: OpenedEvents, opener: Opener) -> None:
    kept.read("p-1", [(1, "sealed:mine")], opener)

    assert kept.read("p-2", [(1, "sealed:theirs")], opener) == ["theirs"]
    assert kept.read("p-1", [(1, "sealed:mine")], opener) == ["mine"]
    assert opener.calls == [1, 1]


def test_the_least_recently_read_conversation_goes_first(
    kept: OpenedEvents, opener: Opener
) -> None:
    for sender in ("p-1", "p-2", "p-3"):
        kept.read(sender, [(1, f"sealed:{sender}")], opener)
    kept.read("p-1", [(1, "sealed:p-1")], opener)  # p-2 is now the oldest read
    kept.read("p-4", [(1, "sealed:p-4")], opener)

    assert len(kept) == 3
    opener.calls.clear()
    kept.read("p-1", [(1, "sealed:p-1")], opener)
    kept.read("p-2", [(1, "sealed:p-2")], opener)
    assert opener.calls == [1]  # only p-2 had to be opened again


def test_a_conversation_idle_too_long_is_dropped(
    kept: OpenedEvents, opener: Opener, clock: Clock
) -> None:
    kept.read("p-1", [(1, "sealed:hello")], opener)
    clock.now += 61
    kept.read("p-2", [(1, "sealed:someone else")], opener)

    assert len(kept) == 1
    kept.read("p-1", [(1, "sealed:hello")], opener)
    assert opener.calls == [1, 1, 1]


def test_an_erased_conversation_is_forgotten(kept: OpenedEvents, opener: Opener) -> None:
    kept.read("p-1", [(1, "sealed:hello")], opener)

    kept.forget("p-1")

    assert len(kept) == 0
    kept.read("p-1", [(1, "sealed:hello")], opener)
    assert opener.calls == [1, 1]
