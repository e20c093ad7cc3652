"""The shared lock store (bot/chat/lock_store.py) on a real redis-server.

Each store instance below stands for one Rasa server: its own Redis connection pool, the same
Redis. What must hold: two servers never hold a conversation's lock at once, tickets are never
issued twice, and nothing is left in Redis once the turns are done or their tickets expired.
Rasa's ``RedisLockStore`` is run through the same interleaving to show what the class fixes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cluster
import pytest
from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore, _create_from_endpoint_config
from rasa.utils.endpoints import EndpointConfig

from bot import runner
from bot.chat.lock_store import AtomicRedisLockStore

PASSWORD = os.urandom(8).hex()


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = runner.free_port()
    service = cluster.redis_service(port, PASSWORD, Path(tmp_path_factory.mktemp("redis")))
    service.start()
    try:
        runner.wait_until_ready(service, timeout=30)
        yield port
    finally:
        runner.stop_all([service])


def _config(port: int, prefix: str) -> EndpointConfig:
    return EndpointConfig(
        url="127.0.0.1",
        type="bot.chat.lock_store.AtomicRedisLockStore",
        port=port,
        password=PASSWORD,
        db=1,
        key_prefix=prefix,
    )


@pytest.fixture
def servers(redis_port: int, request: pytest.FixtureRequest) -> list[AtomicRedisLockStore]:
    """Two lock stores built as Rasa builds them from endpoints.yml, one per 'server'."""
    prefix = "t" + request.node.name.replace("_", "")[-20:]
    stores = [_create_from_endpoint_config(_config(redis_port, prefix)) for _ in range(2)]
    assert all(type(store) is AtomicRedisLockStore for store in stores)
    return stores


def _raced_issue(first: RedisLockStore, second: RedisLockStore, conversation: str) -> list[int]:
    """``first`` issues a ticket, and while it holds the queue it has read, ``second`` issues
    one too: the moment two servers receive the same patient's messages."""
    original = TicketLock.issue_ticket
    numbers: list[int] = []
    interleaved = threading.Event()

    def issue_with_a_rival(lock: TicketLock, lifetime: float) -> int:
        if not interleaved.is_set():
            interleaved.set()
            numbers.append(second.issue_ticket(conversation, 30))
        return original(lock, lifetime)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TicketLock, "issue_ticket", issue_with_a_rival)
        numbers.insert(0, first.issue_ticket(conversation, 30))
    return numbers


def test_rasas_redis_store_gives_two_servers_the_same_ticket(redis_port: int):
    stores = [
        RedisLockStore(host="127.0.0.1", port=redis_port, password=PASSWORD, key_prefix="stock")
        for _ in range(2)
    ]
    first, second = _raced_issue(*stores, "patient-a")
    assert first == second == 0  # both believe they are served: the race this module fixes


def test_a_ticket_issued_meanwhile_makes_the_other_server_take_the_next_one(servers):
    first, second = _raced_issue(*servers, "patient-a")
    assert sorted([first, second]) == [0, 1]
    lock = servers[0].get_lock("patient-a")
    assert [ticket.number for ticket in lock.tickets] == [0, 1]


@pytest.mark.slow
def test_tickets_issued_from_many_threads_are_all_different(servers):
    def issue(n: int) -> int:
        return servers[n % 2].issue_ticket("patient-b", 60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(issue, range(200)))
    assert sorted(numbers) == list(range(200))


def test_turns_on_two_servers_never_overlap(servers):
    """Eight turns of one conversation, four on each server's event loop, each reading a
    value, pausing, and writing it back: with the lock held across the turn none is lost."""
    store_value = {"turns": 0}
    inside = {"now": 0, "most": 0}
    guard = threading.Lock()
    start = threading.Barrier(2)

    async def turn(store: AtomicRedisLockStore) -> None:
        async with store.lock("patient-c", lock_lifetime=30, wait_time_in_seconds=0.01):
            with guard:
                inside["now"] += 1
                inside["most"] = max(inside["most"], inside["now"])
            seen = store_value["turns"]
            await asyncio.sleep(0.02)
            store_value["turns"] = seen + 1
            with guard:
                inside["now"] -= 1

    def server(store: AtomicRedisLockStore) -> None:
        start.wait()

        async def four_turns() -> None:
            await asyncio.gather(*(turn(store) for _ in range(4)))

        asyncio.run(four_turns())

    threads = [threading.Thread(target=server, args=(store,)) for store in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert store_value["turns"] == 8
    assert inside["most"] == 1
    assert servers[0].get_lock("patient-c") is None  # the queue is gone with its last ticket


@pytest.mark.slow
def test_the_key_expires_with_the_last_ticket(servers):
    """A server killed in the middle of a turn never cleans up: its ticket, and the key,
    expire on their own."""
    store = servers[0]
    store.issue_ticket("patient-d", lock_lifetime=1.5)
    key = store.key_prefix + "patient-d"
    assert 0 < store.red.pttl(key) <= 1500
    time.sleep(1.7)
    assert store.red.exists(key) == 0
    # The next message of that conversation is served at once.
    assert store.issue_ticket("patient-d", 30) == 0
    store.cleanup("patient-d", 0)
    assert store.red.exists(key) == 0


def test_cleanup_keeps_a_ticket_issued_by_the_other_server(servers):
    first, second = servers
    mine = first.issue_ticket("patient-e", 30)
    theirs = second.issue_ticket("patient-e", 30)
    first.cleanup("patient-e", mine)
    lock = second.get_lock("patient-e")
    assert lock is not None and not lock.is_locked(theirs)
    second.cleanup("patient-e", theirs)
    assert second.get_lock("patient-e") is None


def test_a_lost_redis_is_a_lock_error(redis_port: int):
    from rasa.core.lock_store import LockError

    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, password="wrong")
    with pytest.raises(LockError):
        store.issue_ticket("patient-f")
