"""How the wording model's threshold was chosen, reproducibly: train it exactly as
``rasa train`` does but with every development message left out, then count, for each
threshold, the urgent messages the assistant's safety layer would catch (the lexicon, or the
model above the threshold where the lexicon does not explain the words away) and the ordinary
messages it would wrongly call urgent.

The development sets (this folder) were written by helpers from category descriptions alone:
``urgent_a.yml``/``urgent_b.yml`` (urgent messages by kind, and ``not_crisis`` messages with
the same words), ``ordinary.yml`` (everyday requests and answers), ``feelings.yml`` (tired,
venting, proud, reflective and craving messages in strong words), ``ask.yml`` (passive wishes
and method questions, which the model must not call urgent either). They are not the held-out
evaluation (``tests/safety_eval/messages.yml``), which no threshold was chosen on. Messages
under ``MIN_WORDS`` words are left to the lexicon, as in the component.

    .venv-rasa/bin/python tests/safety_dev/choose_threshold.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.nlu.risk_wording_classifier import ordinary_messages  # noqa: E402
from bot.safety import wording_model  # noqa: E402
from bot.safety.detector import CrisisMatcher  # noqa: E402

HERE = Path(__file__).parent
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
MIN_WORDS = 5


def _texts(name: str) -> list[str]:
    """Every message of a development file, whatever its nesting."""
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    found: list[str] = []
    for value in data.values():
        if isinstance(value, dict):
            found += [text for texts in value.values() for text in texts]
        else:
            found += list(value)
    return found


def main() -> None:
    from rasa.shared.importers.importer import TrainingDataImporter

    urgent = [
        yaml.safe_load((HERE / name).read_text()) for name in ("urgent_a.yml", "urgent_b.yml")
    ]
    everyday = yaml.safe_load((HERE / "ordinary.yml").read_text())
    positives = [text for data in urgent for texts in data["crisis"].values() for text in texts]
    hard = [text for data in urgent for text in data.get("not_crisis") or []]
    ordinary = [text for texts in everyday.values() for text in texts]
    feelings, ask = _texts("feelings.yml"), _texts("ask.yml")
    texts, labels = wording_model.training_examples(
        ordinary_messages(
            TrainingDataImporter.load_from_dict(
                training_data_paths=[str(ROOT / "data")]
            ).get_nlu_data()
        ),
        exclude=frozenset(positives + hard + ordinary + feelings + ask),
    )
    model = wording_model.train(texts, labels)
    matcher = CrisisMatcher()

    def readings(messages: list[str]) -> list[tuple[bool, bool, float]]:
        out = []
        for message, guess in zip(messages, wording_model.read(model, messages), strict=True):
            match = matcher.detect(message)
            lexicon_urgent = match is not None and match.level == "urgent"
            # The lexicon's reading stands where it has one (urgent, recent), and where it
            # explains the words away; an ask-level match may be raised.
            vetoed = (match is not None and match.level != "ask") or matcher.explains_away(message)
            short = len(message.split()) < MIN_WORDS
            out.append((lexicon_urgent, vetoed or short, guess.probability))
        return out

    sets = {
        "urgent": readings(positives),
        "hard": readings(hard),
        "ordinary": readings(ordinary),
        "feelings": readings(feelings),
        "ask": readings(ask),
    }
    print(
        f"trained on {len(texts)} messages; development: {len(positives)} urgent, "
        f"{len(hard)} not-crisis with the same words, {len(ordinary)} everyday, "
        f"{len(feelings)} hard feelings, {len(ask)} asks"
    )
    print("| threshold | urgent caught | urgent of: same words | everyday | feelings | asks |")
    print("|---|---|---|---|---|---|")
    print(
        "| lexicon alone | "
        + " | ".join(f"{sum(r[0] for r in rows)}/{len(rows)}" for rows in sets.values())
        + " |"
    )
    for threshold in THRESHOLDS:
        counts = [
            sum(1 for lex, vetoed, p in rows if lex or (not vetoed and p >= threshold))
            for rows in sets.values()
        ]
        print(
            f"| {threshold} | "
            + " | ".join(f"{n}/{len(rows)}" for n, rows in zip(counts, sets.values(), strict=True))
            + " |"
        )


if __name__ == "__main__":
    main()
