"""A patient in crisis arriving while the load runs: one crisis message at a time, timed.

bench/load.py starts this as a process of its own beside every measurement of our bot, so
that what it times is the server, not the load generator: that process drives fifty
simulated patients on one event loop, and its own queue adds to every latency it measures.
A patient's browser shares nothing with the other patients. Each probe is a new patient (a
signed token; over socket.io a new websocket connection, neither timed), sends "I want to
kill myself", and is timed until the crisis line numbers (988) have arrived; then it waits
``--interval`` seconds and sends the next one. One JSON line per probe goes to ``--out``.

    .venv/bin/python bench/crisis_probe.py --url http://127.0.0.1:5005 --channel rest \\
        --clinic bench --origin https://bench.example --out /tmp/probe.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bot.clinics import patients

CRISIS = "I want to kill myself"
MARK = "988"  # the crisis line, in utter_crisis
TIMEOUT = 60.0


async def over_rest(url: str, token: str, ca_file: Path | None = None) -> float:
    tls = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=TIMEOUT), connector=aiohttp.TCPConnector(ssl=tls)
    ) as http:
        async with http.post(  # the patient agreed before (the probe's clinic's text)
            f"{url}/webhooks/rest/consent",
            json={"version": 1},
            headers={"Authorization": f"Bearer {token}"},
        ) as agreed:
            agreed.raise_for_status()
        started = time.perf_counter()
        async with http.post(
            f"{url}/webhooks/rest/webhook",
            json={"message": CRISIS},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            replies = await response.json(content_type=None)
        elapsed = time.perf_counter() - started
    if not any(MARK in (reply.get("text") or "") for reply in replies or []):
        raise RuntimeError(f"REST {response.status}: no crisis reply")
    return elapsed


async def over_socketio(url: str, token: str, origin: str) -> float:
    sio = socketio.AsyncClient(reconnection=False)
    arrived = asyncio.Event()

    async def bot_uttered(data: Any = None) -> None:
        if isinstance(data, dict) and MARK in (data.get("text") or ""):
            arrived.set()

    sio.on("bot_uttered", bot_uttered)
    await sio.connect(
        url, headers={"Origin": origin}, auth={"token": token}, transports=["websocket"]
    )
    recorded = asyncio.Event()

    async def consent_status(data: Any = None) -> None:
        if isinstance(data, dict) and data.get("current"):
            recorded.set()

    sio.on("consent_status", consent_status)
    await sio.emit(
        "consent", {"version": 1}
    )  # the patient agreed before (the probe's clinic's text)
    await asyncio.wait_for(recorded.wait(), TIMEOUT)
    try:
        started = time.perf_counter()
        await sio.emit("user_uttered", {"message": CRISIS})
        await asyncio.wait_for(arrived.wait(), TIMEOUT)
        return time.perf_counter() - started
    finally:
        await sio.disconnect()


async def probe(args: argparse.Namespace) -> None:
    with args.out.open("a", encoding="utf-8") as out:
        while True:
            token = patients.invite(args.clinic, timedelta(days=1)).token
            record: dict[str, Any] = {"at": round(time.time(), 2)}
            try:
                if args.channel == "rest":
                    seconds = await over_rest(args.url, token, args.ca_file)
                else:
                    seconds = await over_socketio(args.url, token, args.origin)
                record["ms"] = round(seconds * 1000, 1)
            except Exception as error:  # recorded, and counted as an error by load.py
                record["error"] = f"{type(error).__name__}: {error}"[:200]
            out.write(json.dumps(record) + "\n")
            out.flush()
            await asyncio.sleep(args.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="our Rasa server")
    parser.add_argument("--channel", choices=("rest", "socketio"), required=True)
    parser.add_argument("--clinic", required=True)
    parser.add_argument("--origin", required=True, help="an origin the clinic allows")
    parser.add_argument(
        "--ca-file", type=Path, help="the certificate authority of a server behind TLS (REST)"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between probes")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    asyncio.run(probe(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
