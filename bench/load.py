"""Many patients at once: our assistant against Rasa's starter bot, same machine, same run.

Starts our Rasa server and action server the way a clinic deploys them (demo mode off, a
patient token per conversation, SQLite, rate limit off) and the stock ``rasa init`` bot
(bench/stock_bot.py) next to it. Then, for 1, 10 and 50 concurrent patients, over REST and
over socket.io, each bot in turn (stock first, then ours, back to back) gets a fixed time of
closed-loop load: every patient plays realistic multi-turn conversations one after the other
with no think time, each conversation as a new patient (a fresh token and, over socket.io, a
fresh connection, neither of which is timed). Ours play the check-in form, the reflection
after a session (integration form), a psychoeducation question, the trigger log and, as every
fifth conversation, a crisis message, timed on its own. Beside every measurement of ours,
bench/crisis_probe.py, a process of its own, sends one crisis message a second as a new
patient and times the crisis reply without this process's queue in the way. Memory of every
server process is sampled throughout.

A turn's latency is the time until its whole answer arrived: the REST response, or over
socket.io the last of the ``bot_uttered`` events that turn produces (how many is learnt in a
calibration pass that also warms both servers up).

    .venv/bin/python bench/load.py --seconds 20 --out bench/results/load.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import socketio
import stock_bot

from bot import encryption, runner, settings
from bot.clinics import patients, registry
from bot.storage import db

LEVELS = (1, 10, 50)
CHANNELS = ("rest", "socketio")
ORIGIN = "https://bench.example"
CLINIC = "bench"
TURN_TIMEOUT = 60.0
CRISIS = "I want to kill myself"

OUR_CONVERSATIONS: list[list[str]] = [
    ["hi", "quick check-in", "6", "3", "slept badly but ok", "show my journal"],
    [
        "I had my session yesterday",
        "The feeling of floating above my life",
        "tingling hands, some sadness",
        "I drink when I feel invisible",
        "notice when I feel invisible",
        "tell my partner one honest thing a day",
        "seven",
        "2/10",
    ],
    ["how does ketamine work?", "is it safe to drive after a session?"],
    [
        "I'm craving a drink",
        "7",
        "places",
        "tired",
        "walked past my old bar",
        "went home and made tea",
        "no thanks",
    ],
    [CRISIS],
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summarise(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


# -- the bots --------------------------------------------------------------------------------


@dataclass
class Bot:
    """One bot under test: where it listens and how a conversation gets its identity."""

    name: str
    url: str
    conversations: list[list[str]]
    tokens: bool  # ours: every conversation is a new patient with a signed token
    reply_counts: list[list[int]] = field(default_factory=list)  # per conversation, per turn
    #: The certificate authority to trust, for a bot behind TLS (bench/scale_out.py's nginx).
    ca_file: Path | None = None

    def http(self) -> aiohttp.ClientSession:
        """A client session for one simulated patient (their own connections, as a browser)."""
        tls = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT),
            connector=aiohttp.TCPConnector(ssl=tls),
        )

    async def identity(self) -> str:
        if not self.tokens:
            return f"bench-{uuid.uuid4().hex[:12]}"
        loop = asyncio.get_running_loop()
        invite = await loop.run_in_executor(None, patients.invite, CLINIC, timedelta(days=1))
        return invite.token


class Failed(Exception):
    """A turn without a proper answer (HTTP error, empty reply, timeout)."""


class RestConversation:
    def __init__(self, bot: Bot, session: aiohttp.ClientSession, identity: str) -> None:
        self.bot, self.session, self.identity = bot, session, identity

    async def open(self) -> None:
        """Agree to the clinic's consent text, as a patient does before the first message."""
        url = f"{self.bot.url}/webhooks/rest/consent"
        if self.bot.tokens:
            headers, params = {"Authorization": f"Bearer {self.identity}"}, {}
        else:
            headers, params = {}, {"sender": self.identity}
        async with self.session.get(url, params=params, headers=headers) as response:
            version = (await response.json(content_type=None))["consent"]["version"]
        async with self.session.post(
            url, json={**params, "version": version}, headers=headers
        ) as response:
            if response.status != 200:
                raise Failed(f"consent: REST {response.status}")

    async def turn(self, text: str, expected: int) -> float:
        if self.bot.tokens:
            headers, body = {"Authorization": f"Bearer {self.identity}"}, {"message": text}
        else:
            headers, body = {}, {"sender": self.identity, "message": text}
        started = time.perf_counter()
        async with self.session.post(
            f"{self.bot.url}/webhooks/rest/webhook", json=body, headers=headers
        ) as response:
            replies = await response.json(content_type=None) if response.status == 200 else None
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200 or not replies:
            raise Failed(f"REST {response.status}, replies {replies!r}")
        return elapsed

    async def close(self) -> None:
        return None


#: The version of the consent text the benchmark's clinics show (they never change it).
CONSENT_VERSION = 1


async def agree_over_socket(sio: socketio.AsyncClient, version: int) -> None:
    """Send the widget's "I agree" and wait until the server recorded it."""
    recorded = asyncio.Event()

    async def status(data: Any = None) -> None:
        if isinstance(data, dict) and data.get("current"):
            recorded.set()

    sio.on("consent_status", status)
    await sio.emit("consent", {"version": version})
    try:
        await asyncio.wait_for(recorded.wait(), TURN_TIMEOUT)
    except TimeoutError:
        raise Failed("socket.io: consent not recorded") from None


class SocketConversation:
    """A patient's socket.io connection (websocket transport), with what the server sent."""

    def __init__(self, bot: Bot, identity: str) -> None:
        self.bot, self.identity = bot, identity
        self.sio = socketio.AsyncClient(reconnection=False)
        self.arrivals: asyncio.Queue[float] = asyncio.Queue()
        self.extra = 0

        async def bot_uttered(_data: Any = None) -> None:
            self.arrivals.put_nowait(time.perf_counter())

        self.sio.on("bot_uttered", bot_uttered)

    async def open(self) -> None:
        await self.sio.connect(
            self.bot.url,
            headers={"Origin": ORIGIN},
            auth={"token": self.identity} if self.bot.tokens else None,
            transports=["websocket"],
            wait_timeout=30,
        )
        await agree_over_socket(self.sio, CONSENT_VERSION)

    async def turn(self, text: str, expected: int) -> float:
        while not self.arrivals.empty():  # late parts of the previous answer
            self.arrivals.get_nowait()
            self.extra += 1
        started = time.perf_counter()
        await self.sio.emit("user_uttered", {"message": text})
        last = started
        try:
            for _ in range(max(1, expected)):
                last = await asyncio.wait_for(self.arrivals.get(), TURN_TIMEOUT)
        except TimeoutError:
            raise Failed(f"socket.io: fewer than {expected} replies to {text!r}") from None
        return (last - started) * 1000

    async def close(self) -> None:
        await self.sio.disconnect()


def conversation(bot: Bot, channel: str, session: aiohttp.ClientSession, identity: str) -> Any:
    if channel == "rest":
        return RestConversation(bot, session, identity)
    return SocketConversation(bot, identity)


async def calibrate(bot: Bot, quiet: float = 1.0) -> None:
    """Count the bot_uttered events of every turn (and warm the server up on the way)."""
    bot.reply_counts = []
    for script in bot.conversations:
        talk = SocketConversation(bot, await bot.identity())
        await talk.open()
        counts = []
        for text in script:
            await talk.sio.emit("user_uttered", {"message": text})
            await asyncio.wait_for(talk.arrivals.get(), TURN_TIMEOUT)
            count = 1
            while True:
                try:
                    await asyncio.wait_for(talk.arrivals.get(), quiet)
                    count += 1
                except TimeoutError:
                    break
            counts.append(count)
        bot.reply_counts.append(counts)
        await talk.close()


# -- one measurement -------------------------------------------------------------------------


@dataclass
class Cell:
    bot: str
    channel: str
    patients: int
    latencies: list[float] = field(default_factory=list)
    crisis: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    extra_replies: int = 0
    elapsed: float = 0.0
    probe: list[float] = field(default_factory=list)  # bench/crisis_probe.py, ours only
    probe_errors: list[str] = field(default_factory=list)


async def patient(bot: Bot, channel: str, number: int, deadline: float, cell: Cell) -> None:
    async with bot.http() as http:
        index = number  # patients start in different flows
        while time.monotonic() < deadline:
            which = index % len(bot.conversations)
            index += 1
            talk = conversation(bot, channel, http, await bot.identity())
            try:
                await talk.open()
                for text, expected in zip(
                    bot.conversations[which], bot.reply_counts[which], strict=True
                ):
                    if time.monotonic() >= deadline:
                        break
                    elapsed = await talk.turn(text, expected)
                    (cell.crisis if text == CRISIS else cell.latencies).append(elapsed)
            except (Failed, aiohttp.ClientError, socketio.exceptions.SocketIOError) as error:
                cell.errors.append(str(error)[:200])
            except TimeoutError:
                cell.errors.append("timeout")
            finally:
                cell.extra_replies += getattr(talk, "extra", 0)
                with contextlib.suppress(Exception):
                    await talk.close()


@contextlib.contextmanager
def crisis_probe(bot: Bot, channel: str, cell: Cell) -> Iterator[None]:
    """bench/crisis_probe.py in a process of its own while the block runs (our bot only:
    the starter bot has no crisis reply); its timings go to ``cell.probe``."""
    if not bot.tokens:
        yield
        return
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        command = [sys.executable, str(Path(__file__).with_name("crisis_probe.py"))]
        command += ["--url", bot.url, "--channel", channel, "--clinic", CLINIC]
        command += ["--origin", ORIGIN, "--out", out.name]
        if bot.ca_file:
            command += ["--ca-file", str(bot.ca_file)]
        process = subprocess.Popen(command)
        try:
            yield
        finally:
            process.terminate()
            process.wait(10)
        for line in Path(out.name).read_text().splitlines():
            record = json.loads(line)
            if "ms" in record:
                cell.probe.append(record["ms"])
            else:
                cell.probe_errors.append(record["error"])


async def measure(bot: Bot, channel: str, patients_at_once: int, seconds: float) -> Cell:
    cell = Cell(bot.name, channel, patients_at_once)
    started = time.monotonic()
    deadline = started + seconds
    with crisis_probe(bot, channel, cell):
        await asyncio.gather(
            *(patient(bot, channel, n, deadline, cell) for n in range(patients_at_once))
        )
    cell.elapsed = time.monotonic() - started
    return cell


def cell_result(cell: Cell) -> dict[str, Any]:
    answered = len(cell.latencies) + len(cell.crisis)
    return {
        "bot": cell.bot,
        "channel": cell.channel,
        "patients": cell.patients,
        "seconds": round(cell.elapsed, 1),
        "messages": answered,
        "throughput_msg_s": round(answered / cell.elapsed, 2) if cell.elapsed else 0,
        "errors": len(cell.errors),
        "error_examples": sorted(set(cell.errors))[:5],
        "late_replies": cell.extra_replies,
        "latency": summarise(cell.latencies),
        "crisis": summarise(cell.crisis),
        "crisis_probe": summarise(cell.probe),
        "crisis_probe_errors": len(cell.probe_errors),
        "crisis_probe_error_examples": sorted(set(cell.probe_errors))[:5],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# -- memory ----------------------------------------------------------------------------------


class MemorySampler:
    """RSS of each server's process tree (Sanic and TensorFlow start children), sampled."""

    def __init__(self, roots: dict[str, int], interval: float = 0.5) -> None:
        self.roots, self.interval = roots, interval
        self.peak: dict[str, int] = {}
        self.samples: dict[str, list[int]] = {}
        self.task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for role, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                # This process's children are the servers, counted under their own names.
                tree = [root] if pid == os.getpid() else [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in tree:
                try:
                    rss = process.memory_info().rss
                    # Paths relative to the checkout: the results are committed.
                    command = " ".join(process.cmdline()[:3]).replace(
                        f"{settings.PROJECT_ROOT}/", ""
                    )
                    name = f"{role}: {command[-80:]} (pid {process.pid})"
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak.get(name, 0), rss)
                self.samples.setdefault(name, []).append(rss)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def result(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "peak_mib": round(self.peak[name] / 2**20, 1),
                "mean_mib": round(statistics.fmean(self.samples[name]) / 2**20, 1),
            }
            for name in sorted(self.peak)
        }


# -- the run ---------------------------------------------------------------------------------


def ratio(ours: float, stock: float) -> float | None:
    return round(ours / stock, 2) if stock else None


def ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for channel in CHANNELS:
        for level in LEVELS:
            pair = {
                c["bot"]: c for c in cells if c["channel"] == channel and c["patients"] == level
            }
            if set(pair) != {"ours", "stock"}:
                continue
            ours, stock = pair["ours"], pair["stock"]
            found.append(
                {
                    "channel": channel,
                    "patients": level,
                    **{
                        f"{q}_ratio": ratio(ours["latency"][f"{q}_ms"], stock["latency"][f"{q}_ms"])
                        for q in ("p50", "p95", "p99")
                    },
                    "throughput_ratio": ratio(ours["throughput_msg_s"], stock["throughput_msg_s"]),
                }
            )
    return found


def prepare_our_side(workdir: Path) -> str:
    """Our database, token key and data key, shared by this process and the servers."""
    database_url = f"sqlite:///{workdir / 'companion.db'}"
    os.environ.pop(encryption.ENV_KEYS, None)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            encryption.ENV_KEYS_FILE: str(workdir / "secrets" / "data.keys"),
            "COMPANION_TOKEN_SECRET": "bench-token-key-" + uuid.uuid4().hex,
            "COMPANION_DEMO_MODE": "0",
            "COMPANION_RATE_LIMIT": "off",
        }
    )
    encryption.reset()
    encryption.ensure_keys_file()
    db.upgrade(database_url)
    registry.create(CLINIC, "Bench clinic", origins=[ORIGIN])
    return database_url


@contextlib.contextmanager
def servers(workdir: Path, stock: stock_bot.StockBot) -> Iterator[dict[str, runner.Service]]:
    rasa_port, action_port, stock_port = (runner.free_port() for _ in range(3))
    stock_service = stock_bot.service(stock, stock_port)
    with runner.started(
        rasa_port=rasa_port,
        action_port=action_port,
        model=settings.PROJECT_ROOT / "models" / "current.tar.gz",
        endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
        env={},
    ) as ours:
        try:
            stock_service.start()
            runner.wait_until_ready(stock_service)
            yield {**ours, "stock": stock_service}
        finally:
            runner.stop_all([stock_service])


async def run_all(
    bots: dict[str, Bot], roots: dict[str, int], seconds: float, levels: tuple[int, ...]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sampler = MemorySampler(roots)
    sampler.start()
    for bot in bots.values():
        await calibrate(bot)
    cells = []
    for level in levels:
        for channel in CHANNELS:
            for name in ("stock", "ours"):
                cell = cell_result(await measure(bots[name], channel, level, seconds))
                print(json.dumps(cell), flush=True)
                cells.append(cell)
    await sampler.stop()
    return cells, {
        "processes": sampler.result(),
        "reply_counts": {name: bot.reply_counts for name, bot in bots.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="load time per measurement")
    parser.add_argument("--levels", default="1,10,50", help="concurrent patients, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    parser.add_argument(
        "--stock-project", type=Path, help="a starter bot trained earlier (skips `rasa init`)"
    )
    args = parser.parse_args()
    levels = tuple(int(n) for n in args.levels.split(","))
    load_before = [round(x, 2) for x in os.getloadavg()]

    with tempfile.TemporaryDirectory(prefix="companion-bench-") as tmp:
        workdir = Path(tmp)
        prepare_our_side(workdir)
        stock = stock_bot.existing(args.stock_project) if args.stock_project else None
        stock = stock or stock_bot.create(workdir)
        with servers(workdir, stock) as running:
            ours_url = running["rasa"].ready_url.rstrip("/")
            stock_url = running["stock"].ready_url.rstrip("/")
            bots = {
                "stock": Bot("stock", stock_url, stock_bot.CONVERSATIONS, tokens=False),
                "ours": Bot("ours", ours_url, OUR_CONVERSATIONS, tokens=True),
            }
            roots = {
                "ours, Rasa server": running["rasa"].process.pid,
                "ours, action server": running["actions"].process.pid,
                "stock Rasa server": running["stock"].process.pid,
                "load generator": os.getpid(),
            }
            cells, extra = asyncio.run(run_all(bots, roots, args.seconds, levels))

    memory = psutil.virtual_memory().total
    result = {
        "what": (
            "closed-loop load, no think time, per-message latency until the whole answer; "
            "ours: demo mode off, token per conversation, SQLite, action server; "
            "stock: `rasa init` starter bot, in-memory tracker store"
        ),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(memory / 2**30, 1),
            "platform": platform.platform(),
            "rasa": subprocess.run(
                [str(stock_bot.RASA), "--version"], capture_output=True, text=True, check=False
            ).stdout.splitlines()[0:1],
        },
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds_per_measurement": args.seconds,
        "stock_training": {
            "seconds": stock.init_seconds and round(stock.init_seconds, 1),
            "command": "rasa init --no-prompt (scaffold and train the starter bot)",
        },
        "cells": cells,
        "ratios_ours_to_stock": ratios(cells),
        "rss": extra["processes"],
        "socketio_replies_per_turn": extra["reply_counts"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ratios_ours_to_stock"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
