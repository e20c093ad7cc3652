"""A Redis lock store that several Rasa servers can share without losing turns.

endpoints.yml of a deployment with several Rasa servers (deploy/endpoints.yml) names it::

    lock_store:
      type: bot.chat.lock_store.AtomicRedisLockStore
      url: ...        # the same keys as Rasa's own ``type: redis``

Why not Rasa's ``RedisLockStore``: it keeps a conversation's ticket queue as one JSON value and
changes it by reading the value, changing it in Python and writing it back
(rasa/core/lock_store.py, 3.6). Two servers that issue a ticket for the same conversation at
the same moment both read the same queue, both take the same ticket number, and the second
write wins: both servers believe they are served and work on the conversation at once. Rasa
then stores a turn's events by counting what is already stored, so one server's turn is
written over by the other's and user messages are lost (rasa#9213; the fix Rasa merged,
``ConcurrentRedisLockStore``, was reverted from the open-source version). Cleaning up has the
same gap: a server can delete the queue just after another one added its ticket to it.

Here every change of the queue (issuing a ticket, dropping expired ones, finishing a ticket
and deleting an empty queue) runs as one Redis transaction: ``WATCH`` the key, read it,
change it, and ``MULTI``/``EXEC`` the write, which Redis refuses if anyone wrote the key in
between; redis-py then runs the change again on the new value. The queue itself, the
ticket-lock algorithm and the waiting loop stay Rasa's. The key also expires with its last
ticket, so a server killed in the middle of a turn leaves nothing behind in Redis.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Result = TypeVar("Result")


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with every read-change-write of a ticket queue made atomic."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds lock stores named by module path as ``cls(endpoint_config=...)``; the
        # keys are those of ``type: redis`` (url is the host), passed on to Rasa's class.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(
        self,
        conversation_id: str,
        change: Callable[[TicketLock | None], tuple[TicketLock | None, Result]],
    ) -> Result:
        """Apply ``change`` to the stored queue in one transaction and return its result.

        ``change`` gets the queue (None when there is none) and returns the queue to store
        (None deletes it) and a result. It may run more than once, so it must not have side
        effects beyond the queue it returns.
        """
        key = self.key_prefix + conversation_id

        def attempt(pipe: Any) -> Result:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new_lock, result = change(lock)
            pipe.multi()
            if new_lock is None or not new_lock.tickets:
                pipe.delete(key)
            else:
                last_expiry = max(ticket.expires for ticket in new_lock.tickets)
                lifetime_ms = max(1, math.ceil((last_expiry - time.time()) * 1000))
                pipe.set(key, new_lock.dumps(), px=lifetime_ms)
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issue the next ticket of the conversation's queue, creating the queue if needed."""

        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # Rasa's own contract: any failure is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (a server that died holding one) from the queue."""

        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a ticket; the queue is deleted when no ticket is left in it."""

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket. Rasa's version then deletes the queue when it looks empty,
        which could delete a ticket issued in between; here the queue is deleted in the same
        transaction that removed the last ticket (see ``_change``)."""
        self.finish_serving(conversation_id, ticket_number)
