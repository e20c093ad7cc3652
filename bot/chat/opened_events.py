"""The opened (decrypted) events of the conversations the Rasa server served last.

Rasa reads a conversation's whole current session back from the tracker store at every
message, and every stored event is sealed (:mod:`bot.encryption`), so without this each turn
would open every earlier event of the session again: under load that was about a twentieth of
the Rasa server's time. Stored events never change (the store only inserts and deletes rows),
so an event opened once is kept here under its row id, with the sealed value it was opened
from; a row whose sealed value differs (a key rotation re-sealed it, or SQLite reused the id
of a deleted row) is opened again.

What is kept is patient text in the Rasa server's memory, where the conversation is anyway
while it is being answered. It is bounded: the conversations of the last
:data:`MAX_CONVERSATIONS` senders, each dropped after :data:`IDLE_SECONDS` without a read; a
conversation's entry holds only the rows its last read returned (rows erased since are gone
from it at the next read), and an erasure in the chat drops it at once
(:meth:`OpenedEvents.forget`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

#: How many conversations are kept; the least recently read go first.
MAX_CONVERSATIONS = 200

#: A conversation not read for this long is dropped (at the next read of any conversation).
IDLE_SECONDS = 30 * 60


class OpenedEvents:
    """Plaintext of stored events by sender and row id, least recently used out first."""

    def __init__(
        self,
        max_conversations: int = MAX_CONVERSATIONS,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_conversations
        self._idle = idle_seconds
        self._clock = clock
        # sender -> (time of the last read, {row id: (sealed value, plaintext)})
        self._conversations: OrderedDict[str, tuple[float, dict[int, tuple[str, str]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def read(
        self,
        sender_id: str,
        rows: list[tuple[int, str]],
        open_value: Callable[[int, str], str | None],
    ) -> list[str | None]:
        """The plaintext of each ``(row id, sealed value)`` of ``sender_id``'s read, in order,
        opening with ``open_value`` only what is not kept already (``None`` where it could
        not open one: that row is tried again next time). The conversation's entry becomes
        exactly these rows."""
        with self._lock:
            _, known = self._conversations.pop(sender_id, (0.0, {}))
        kept: dict[int, tuple[str, str]] = {}
        plaintexts: list[str | None] = []
        for row_id, sealed in rows:
            entry = known.get(row_id)
            if entry is None or entry[0] != sealed:
                plaintext = open_value(row_id, sealed)
                if plaintext is None:
                    plaintexts.append(None)
                    continue
                entry = (sealed, plaintext)
            kept[row_id] = entry
            plaintexts.append(entry[1])
        now = self._clock()
        with self._lock:
            self._conversations[sender_id] = (now, kept)
            # Least recently read first: drop from the front while too many or idle too long.
            while len(self._conversations) > self._max or (
                now - next(iter(self._conversations.values()))[0] > self._idle
            ):
                self._conversations.popitem(last=False)
        return plaintexts

    def forget(self, sender_id: str) -> None:
        """Drop everything kept of ``sender_id``'s conversation (it was erased)."""
        with self._lock:
            self._conversations.pop(sender_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._conversations)
