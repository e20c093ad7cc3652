"""One Rasa server or two behind nginx, on one machine: what a second server buys at 50 patients.

A clinic with more patients than one Rasa server can answer runs several, the way ``deploy/``
ships them (docs/deploy.md): ``rasa@N`` and ``actions@N`` units with their environment files,
PostgreSQL as the tracker store, Redis as the lock store, nginx in front with TLS. This script
starts exactly those files (tests/support/cluster.py reads the units' command lines, as the
cluster tests do) on a throwaway PostgreSQL server, once with one pair of servers and once
with two, and drives each through nginx with bench/load.py's patients over REST: the same
conversations, closed loop, no think time, every conversation a new patient with a signed
token, and bench/crisis_probe.py beside it timing a separate patient's crisis reply.

Only REST is measured: nginx sends a socket.io connection to one server by the client's
address (``ip_hash``, sticky), and a load generator on one machine has one address, so every
simulated socket.io patient would land on the same server.

    .venv/bin/python bench/scale_out.py --seconds 30 --out bench/results/scale_out.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import load
from results_file import record

from bot import encryption, settings
from bot.clinics import registry

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests" / "support"))
import cluster  # noqa: E402  (tests/support: the deployment as shipped)
import pg_server  # noqa: E402

SERVER_COUNTS = (1, 2)
PATIENTS = 50


def shared_environment(workdir: Path, database_url: str) -> dict[str, str]:
    """The values of deploy/systemd/companion.env this run sets, and this process's own
    environment to match (it makes the clinic and the patients' tokens)."""
    keys_file = workdir / "secrets" / "data.keys"
    shared = {
        "DATABASE_URL": database_url,
        "COMPANION_DATA_KEYS_FILE": str(keys_file),
        "COMPANION_TOKEN_SECRET": "bench-token-key-" + uuid.uuid4().hex,
        "COMPANION_ACTION_SECRET": "bench-action-key-" + uuid.uuid4().hex,
        "COMPANION_RATE_LIMIT": "off",
    }
    os.environ.pop(encryption.ENV_KEYS, None)
    os.environ.update({**shared, encryption.ENV_KEYS_FILE: str(keys_file)})
    encryption.reset()
    encryption.ensure_keys_file()
    return shared


async def drive(bot: load.Bot, roots: dict[str, int], seconds: float) -> dict[str, Any]:
    """One warm-up pass of every conversation, then 50 patients for ``seconds``."""
    bot.reply_counts = [[1] * len(script) for script in bot.conversations]  # REST: one reply
    sampler = load.MemorySampler(roots)
    sampler.start()
    await load.measure(bot, "rest", len(bot.conversations), 5)  # warm-up, not reported
    cell = load.cell_result(await load.measure(bot, "rest", PATIENTS, seconds))
    await sampler.stop()
    return {**cell, "rss": sampler.result()}


def run(servers: int, workdir: Path, shared: dict[str, str], seconds: float) -> dict[str, Any]:
    with cluster.started(workdir, shared, servers=servers) as running:
        bot = load.Bot(
            "ours",
            running.balancer_url,
            load.OUR_CONVERSATIONS,
            tokens=True,
            ca_file=running.ca_file,
        )
        roots = {
            name.removesuffix(".service"): service.process.pid
            for name, service in running.services.items()
            if name.startswith(("rasa@", "actions@"))
        }
        cell = asyncio.run(drive(bot, roots, seconds))
    print(f"{servers} server(s): {cell['throughput_msg_s']} msg/s, {cell['errors']} errors")
    return {"servers": servers, **cell}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="load time per measurement")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale_out.json"))
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="companion-scale-") as tmp, pg_server.running() as pg:
        for servers in SERVER_COUNTS:
            workdir = Path(tmp) / f"servers-{servers}"
            shared = shared_environment(workdir, pg.create_database())
            cluster.write_environment(
                workdir / "etc", shared, [5005, 5006][:servers], [5055, 5056][:servers]
            )
            migrated = cluster.migrate(workdir / "etc")
            if migrated.returncode != 0:
                raise SystemExit(f"migrate.service failed: {migrated.stderr[-2000:]}")
            registry.create(load.CLINIC, "Bench clinic", origins=[load.ORIGIN])
            runs.append(run(servers, workdir, shared, args.seconds))
    one = runs[0]["throughput_msg_s"]
    record(
        args.out,
        f"{PATIENTS} patients over REST through nginx (TLS), closed loop, no think time; the "
        "units of deploy/systemd with PostgreSQL and Redis; one Rasa and action server pair, "
        "then two",
        load_average_before=load_before,
        seconds_per_measurement=args.seconds,
        runs=runs,
        throughput_two_to_one=round(runs[-1]["throughput_msg_s"] / one, 2) if one else None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
