"""What one turn costs the sealed tracker store as a conversation grows.

Rasa reads the conversation's current session back from the tracker store at every message
and writes the turn's new events after it; every event is sealed at rest. This plays turns
of three events (the patient's message, the reply, the listen) into
``bot.chat.tracker_store.DatabaseUrlTrackerStore`` on a fresh SQLite file (the embedded
default) and times, once the conversation holds 30, 150 and 600 events, a turn's read and
write: as the running server does it (events opened in an earlier turn are kept,
``bot.chat.opened_events``) and as a server that has just started (every event opened).

Run with the Rasa environment:

    .venv-rasa/bin/python bench/tracker_store.py --out bench/results/tracker_store.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import results_file
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot import settings
from bot.chat import tracker_store
from bot.chat.opened_events import OpenedEvents

SENDER = "p-bench-tracker"
SIZES = (30, 150, 600)
MESSAGE = "slept badly but ok, walked to the river and the craving passed after a while"


def turn_events(index: int) -> list:
    return [
        UserUttered(f"{MESSAGE} ({index})", {"name": "share_reflection", "confidence": 0.9}, []),
        BotUttered("Thank you for writing that down. What else stood out?"),
        ActionExecuted("action_listen"),
    ]


async def one_turn(store: tracker_store.DatabaseUrlTrackerStore, index: int) -> tuple[float, float]:
    started = time.perf_counter()
    tracker = await store.retrieve(SENDER) or store.init_tracker(SENDER)
    read = time.perf_counter()
    for event in turn_events(index):
        tracker.update(event)
    await store.save(tracker)
    return (read - started) * 1000, (time.perf_counter() - read) * 1000


async def measure(store: tracker_store.DatabaseUrlTrackerStore, repeats: int) -> list[dict]:
    rows, index = [], 0
    for size in SIZES:
        while index * 3 < size:
            await one_turn(store, index)
            index += 1
        running, started = [], []
        for _ in range(repeats):
            running.append(await one_turn(store, index))
            index += 1
            tracker_store._OPENED = OpenedEvents()  # as a server that has just started
            started.append(await one_turn(store, index))
            index += 1
        rows.append(
            {
                "events": size,
                "running_read_ms": round(statistics.median(r for r, _ in running), 2),
                "running_write_ms": round(statistics.median(w for _, w in running), 2),
                "just_started_read_ms": round(statistics.median(r for r, _ in started), 2),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("bench/results/tracker_store.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-bench-") as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'companion.db'}"
        os.environ["COMPANION_DATA_KEYS_FILE"] = str(Path(tmp) / "data.keys")
        store = tracker_store.DatabaseUrlTrackerStore(
            domain=Domain.load(settings.PROJECT_ROOT / "domain.yml")
        )
        rows = asyncio.run(measure(store, args.repeats))
        store.engine.dispose()
    results_file.record(
        args.out,
        "one turn's tracker-store read and write (median ms), sealed events on SQLite, "
        "by the number of events in the conversation's session",
        repeats=args.repeats,
        rows=rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
