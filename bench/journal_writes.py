"""Journal entries saved per second on SQLite and on PostgreSQL.

Every check-in and reflection ends in ``bot.journal.save_entry``: one transaction that locks
the patient's row, numbers the entry and seals its text. This times that call in a loop, from
one thread and from several at once (each thread its own patient, as the action server's
thread pool does), on a fresh SQLite file and on a fresh database of a throwaway PostgreSQL
server (tests/support/pg_server.py, with durable commits switched back on so both are compared
as they would run in production).

    .venv/bin/python bench/journal_writes.py --seconds 5 --out bench/results/journal_writes.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import results_file

from bot import encryption, settings
from bot.journal import entries as journal
from bot.storage import db

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests" / "support"))
import pg_server  # noqa: E402

FIELDS = {
    "note": "slept badly but ok, walked to the river and the craving passed after a while",
    "what_stood_out": "the feeling of floating above my life",
}


def writes_per_second(prefix: str, threads: int, seconds: float) -> dict[str, float]:
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def writer(index: int) -> None:
        sender = f"{prefix}-{threads}-{index}"
        while time.monotonic() < deadline:
            journal.save_entry(sender, "checkin", fields=FIELDS, mood=6, craving=3)
            counts[index] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {"threads": threads, "writes": sum(counts), "per_second": round(sum(counts) / elapsed)}


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'journal.db'}"
        return
    with pg_server.running() as server:
        # The throwaway server trades durability for test speed; production does not.
        server.sql("ALTER SYSTEM SET fsync = on")
        server.sql("ALTER SYSTEM SET synchronous_commit = on")
        server.sql("ALTER SYSTEM SET full_page_writes = on")
        server.sql("SELECT pg_reload_conf()")
        yield server.create_database()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", default="1,4")
    parser.add_argument("--out", type=Path, default=Path("bench/results/journal_writes.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="companion-bench-journal-") as tmp:
        workdir = Path(tmp)
        os.environ.pop(encryption.ENV_KEYS, None)
        os.environ[encryption.ENV_KEYS_FILE] = str(workdir / "data.keys")
        encryption.reset()
        encryption.ensure_keys_file()
        for backend in ("sqlite", "postgresql"):
            with database(backend, workdir) as url:
                os.environ["DATABASE_URL"] = url
                db.reset_engines()
                db.upgrade(url)
                journal.save_entry("warm-up", "checkin", fields=FIELDS)
                results[backend] = [
                    writes_per_second(backend, int(n), args.seconds)
                    for n in args.threads.split(",")
                ]
                db.reset_engines()
    results_file.record(
        args.out,
        "bot.journal.save_entry (check-in with sealed text) per second, durable commits",
        seconds_per_measurement=args.seconds,
        backends=results,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
