"""Where our Rasa server's time goes, from a py-spy profile taken under load.

The Rasa server answers every message on one asyncio event loop, so what limits it is the
CPU time of that loop's thread. This reads py-spy's raw (collapsed-stack) output, leaves out
idle thread-pool workers, and gives the share of the event loop's samples spent in each part
of the work (a sample can count in several parts: the validation of an action server's reply
is inside the form's run, for instance).

Taken with (py-spy installed in .venv-rasa; root, or ptrace allowed):

    .venv/bin/python bench/load.py --levels 10 --seconds 40 --out /tmp/load.json &
    .venv-rasa/bin/py-spy record --pid <our rasa run's pid> --duration 40 --rate 50 \
        --format raw --nonblocking --output /tmp/ours.txt      # once ours is under load
    .venv/bin/python bench/profile_summary.py /tmp/ours.txt --out bench/results/profile.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# What a frame's text contains -> the part of the work it belongs to.
PARTS = {
    "validating action server replies (jsonschema)": "_validate_action_result",
    "TensorFlow inference, all": "run_inference",
    "TED policy": "ted_policy.py",
    "DIET classifier": "diet_classifier.py",
    "featurizers": "featuriz",
    "SQL (tracker store)": "sqlalchemy/",
    "tracker store save": "save (bot/chat/tracker_store",
    "tracker store retrieve": "retrieve",
    "sealing/opening events (Fernet)": "encryption.py",
    "rule and memoization policies": "rule_policy",
    "spaCy tokenizer": "spacy/",
    "crisis detector": "bot/safety",
    "Rasa's graph runner (dask)": "dask/",
    "calling the action server (aiohttp)": "aiohttp",
}
IDLE = "_worker (concurrent/futures/thread.py:81)"


def summarise(raw: Path) -> dict[str, object]:
    loop = other = 0
    shares = dict.fromkeys(PARTS, 0)
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if frames[-1].startswith(IDLE):
            continue
        if not frames[0].startswith("<module> (rasa"):
            other += int(count)
            continue
        loop += int(count)
        for part, marker in PARTS.items():
            if marker in stack:
                shares[part] += int(count)
    return {
        "event_loop_samples": loop,
        "other_thread_samples": other,
        "share_of_event_loop": {
            part: round(count / loop, 3)
            for part, count in sorted(shares.items(), key=lambda kv: -kv[1])
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=Path("bench/results/profile.json"))
    args = parser.parse_args()
    result = {"what": "py-spy samples of our Rasa server under load", "note": args.note}
    result |= summarise(args.raw)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
