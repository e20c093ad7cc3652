"""The held-out crisis messages of holdout.yml, for tests that check every one of them still
gets through (over the rate limit, say). Plain YAML reading, so that the Rasa-side tests and
the application's tests share it (both pytest.ini files put this folder on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import yaml

HOLDOUT = Path(__file__).resolve().parent / "holdout.yml"


def held_out_crisis_examples() -> list[str]:
    """The held-out crisis messages (not the near misses), as written in holdout.yml."""
    data = yaml.safe_load(HOLDOUT.read_text(encoding="utf-8"))
    examples: list[str] = []
    for block in data["nlu"]:
        if block.get("intent") == "crisis" and not (block.get("metadata") or {}).get("near_miss"):
            examples += [
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
    return examples
