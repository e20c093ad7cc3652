"""Per-message latency of the assistant over REST, one patient at a time.

Starts the real Rasa server and action server (the trained model in models/, a fresh
SQLite file), plays realistic multi-turn conversations — a check-in, a post-session
reflection with journal writes, psychoeducation questions, a craving reflection — and
reports p50/p95/p99 per message, plus the latency of crisis messages. Results go to a
JSON file and a Markdown table so they can be committed and compared.

    .venv/bin/python bench/latency.py --rounds 5 --out bench/results/latency.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import requests
import results_file

from bot import runner, settings
from bot.storage import db

CONVERSATIONS: list[list[str]] = [
    ["hi", "quick check-in", "6", "3", "slept badly but ok"],
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
    ["how does ketamine work?", "is it safe to drive after a session?", "what is urge surfing?"],
    [
        "I'm craving a drink",
        "7",
        "places",
        "tired",
        "walked past my old bar",
        "went home and made tea",
        "no thanks",
    ],
    ["show my journal", "show entry 1"],
]
CRISIS_MESSAGES = ["I want to kill myself", "my friend took too many pills and won't wake up"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


#: Conversations that agreed to the consent text (before their first, timed, message).
AGREED: set[str] = set()


def agree(url: str, sender: str) -> None:
    """Agree to the demo clinic's consent text for ``sender``, as a patient does first."""
    consent = url.rsplit("/", 1)[0] + "/consent"
    version = requests.get(consent, params={"sender": sender}, timeout=60).json()["consent"]
    answer = requests.post(
        consent, json={"sender": sender, "version": version["version"]}, timeout=60
    )
    answer.raise_for_status()
    AGREED.add(sender)


def timed_send(url: str, sender: str, text: str) -> float:
    if sender not in AGREED:
        agree(url, sender)
    start = time.perf_counter()
    response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    if not response.json():
        raise RuntimeError(f"no reply to {text!r}")
    return elapsed


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each conversation is played")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latency.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        database_url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        db.upgrade(database_url)
        rasa_port, action_port = runner.free_port(), runner.free_port()
        endpoints = runner.write_endpoints(Path(workdir) / "endpoints.yml", action_port)
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        with runner.started(
            rasa_port=rasa_port,
            action_port=action_port,
            model=settings.PROJECT_ROOT / "models" / "current.tar.gz",
            endpoints=endpoints,
            env={"DATABASE_URL": database_url},
        ):
            timed_send(url, "warm-up", "hello")  # first message loads lazy parts of the pipeline
            messages: list[float] = []
            crisis: list[float] = []
            for round_number in range(args.rounds):
                for index, conversation in enumerate(CONVERSATIONS):
                    sender = f"bench-{round_number}-{index}"
                    messages += [timed_send(url, sender, text) for text in conversation]
                crisis += [
                    timed_send(url, f"bench-crisis-{round_number}", text)
                    for text in CRISIS_MESSAGES
                ]

    result = {
        "what": "REST round trip per message, one patient at a time, real Rasa + action server, SQLite",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "all_messages": summarise(messages),
        "crisis_messages": summarise(crisis),
    }
    results_file.write(args.out, result)


if __name__ == "__main__":
    main()
