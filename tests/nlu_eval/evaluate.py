"""Score a trained model's NLU on the held-out test split in tests/nlu_eval/.

Run with the Rasa environment after training, from anywhere:

    .venv-rasa/bin/python tests/nlu_eval/evaluate.py --model models/current.tar.gz --out results/nlu

Why a wrapper around ``rasa test nlu``: Rasa's report scores every intent alike, but for
this assistant two numbers matter more than the rest and get their own gate.

* Crisis recall must be 1.0. A missed crisis message gets an ordinary reply instead of
  the crisis resources, and nothing downstream can repair that. Rasa's test run undoes
  the FallbackClassifier's decision, so a crisis message that the classifier got right
  but unsurely is counted as a hit, although at run time it would have become
  ``nlu_fallback`` (unless the crisis detector caught it). The gate therefore re-parses
  every held-out crisis message through the full pipeline, fallback and detector
  included, and counts only a final ``crisis`` intent.
* Crisis specificity (share of non-crisis messages not labelled crisis) is reported
  because a detector that cries wolf at "this craving is killing me" teaches people to
  ignore the crisis reply and breaks off the flows they are in the middle of.

The weighted-F1 gate (default 0.80) and the per-intent floor (default 0.5) are set below
what the model reaches, on purpose. The held-out messages are worded differently from the
training data and about a tenth are deliberately misleading (figurative "killing me", "end
the check-in"); retraining after small data changes alone moves weighted F1 on this split by
about two points either way, so a gate at the level the model happens to reach would fail
at random. A misrouted ordinary message is recoverable (the reply offers the menu, and "stop"
and the buttons always work), so these gates are there to catch real regressions: an intent
collapsing (the floor; one broken intent moves weighted F1 by only a few points) or a data
change that confuses whole flows (weighted F1 several points below its usual 0.83-0.87).

The retrieval intent is scored as ``psychoeducation``: Rasa labels
``psychoeducation/<topic>`` test examples with the base intent for intent
classification and scores the topic separately in response_selection_report.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CRISIS = "crisis"
FALLBACK_INTENT = "nlu_fallback"
DEFAULT_MIN_WEIGHTED_F1 = 0.80
DEFAULT_MIN_INTENT_F1 = 0.5
#: Share of non-crisis messages the classifier must leave alone: a false crisis guess asks a
#: patient directly about suicidal thoughts in the middle of ordinary talk.
DEFAULT_MIN_CRISIS_SPECIFICITY = 0.95
# Rasa's own default when the FallbackClassifier sets no threshold.
RASA_DEFAULT_FALLBACK_THRESHOLD = 0.3


@dataclass(frozen=True)
class Prediction:
    """One held-out message with its label and what ``rasa test nlu`` predicted."""

    text: str
    target: str
    predicted: str
    confidence: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; relative paths are taken from the current directory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default="models/",
        help="a model archive, or a folder (newest archive wins)",
    )
    parser.add_argument(
        "--nlu",
        default=str(Path(__file__).resolve().parent),
        help="held-out NLU data (file or folder)",
    )
    parser.add_argument(
        "--out",
        default="results/nlu",
        help="folder for Rasa's reports and summary.json",
    )
    parser.add_argument(
        "--config",
        default=str(PROJECT_ROOT / "config.yml"),
        help="config.yml, for the fallback threshold",
    )
    parser.add_argument("--min-weighted-f1", type=float, default=DEFAULT_MIN_WEIGHTED_F1)
    parser.add_argument("--min-intent-f1", type=float, default=DEFAULT_MIN_INTENT_F1)
    parser.add_argument(
        "--min-crisis-specificity", type=float, default=DEFAULT_MIN_CRISIS_SPECIFICITY
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help="also draw Rasa's confusion matrix and histogram",
    )
    return parser.parse_args(argv)


def latest_model(model: Path) -> Path:
    """The archive itself, or the newest ``*.tar.gz`` in a folder (what ``rasa`` would load)."""
    if model.is_file():
        return model
    archives = sorted(model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not archives:
        raise SystemExit(f"no trained model (*.tar.gz) in {model}; run `rasa train` first")
    return archives[-1]


def fallback_threshold(config_path: Path) -> float | None:
    """The FallbackClassifier's threshold from config.yml, or None without a FallbackClassifier."""
    from rasa.shared.utils.io import read_yaml_file

    config = read_yaml_file(config_path) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", RASA_DEFAULT_FALLBACK_THRESHOLD))
    return None


def run_rasa_test(model: Path, nlu: Path, out: Path, plot: bool) -> None:
    """Run ``rasa test nlu`` on the held-out data; its log goes to ``out/rasa_test_nlu.log``.

    ``--nlu`` takes a folder: Rasa's importer loads every NLU file in it (this script is
    skipped because it is not a data file). The working directory is the project root so
    that custom components (``bot.nlu…``) and the relative spaCy model path resolve.
    """
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "rasa",
        "test",
        "nlu",
        "--nlu",
        str(nlu),
        "--model",
        str(model),
        "--out",
        str(out),
        "--successes",
    ]
    if not plot:
        command.append("--no-plot")
    log_path = out / "rasa_test_nlu.log"
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if completed.returncode != 0 or not (out / "intent_report.json").exists():
        sys.stderr.write(log_path.read_text(encoding="utf-8")[-4000:])
        raise SystemExit(
            f"`rasa test nlu` failed (exit {completed.returncode}); full log in {log_path}"
        )


def read_json(path: Path) -> Any:
    """A JSON report, or an empty list when Rasa wrote none (e.g. no errors at all)."""
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


def load_predictions(out: Path) -> list[Prediction]:
    """Every held-out message with its prediction, from Rasa's successes and errors files."""
    rows = read_json(out / "intent_successes.json") + read_json(out / "intent_errors.json")
    return [
        Prediction(
            text=row["text"],
            target=row["intent"],
            predicted=row["intent_prediction"]["name"],
            confidence=float(row["intent_prediction"]["confidence"] or 0.0),
        )
        for row in rows
    ]


def near_miss_texts(nlu: Path) -> set[str]:
    """Messages from intent blocks marked ``metadata: {near_miss: true}`` in the held-out files."""
    from rasa.shared.data import get_data_files, is_nlu_file
    from rasa.shared.nlu.training_data.loading import load_data

    texts: set[str] = set()
    for path in get_data_files([str(nlu)], is_nlu_file):
        for example in load_data(path).intent_examples:
            metadata = example.get("metadata") or {}
            if (metadata.get("intent") or {}).get("near_miss"):
                texts.add(example.get("text"))
    return texts


async def _parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parsed message at debug level: the held-out messages must stay out of logs.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    agent = Agent.load(model_path=str(model))
    return [await agent.parse_message(text) for text in texts]


def runtime_intents(model: Path, texts: list[str]) -> dict[str, tuple[str, float]]:
    """The final intent each message gets at run time: fallback and crisis detector included.

    Runs in the project root for the same reasons as :func:`run_rasa_test`.
    """
    if not texts:
        return {}
    sys.path.insert(0, str(PROJECT_ROOT))
    previous = Path.cwd()
    os.chdir(PROJECT_ROOT)
    try:
        parsed = asyncio.run(_parse_all(model, texts))
    finally:
        os.chdir(previous)
    return {
        text: (
            result["intent"]["name"],
            float(result["intent"].get("confidence") or 0.0),
        )
        for text, result in zip(texts, parsed, strict=True)
    }


def summarise(
    report: dict[str, Any],
    predictions: list[Prediction],
    runtime: dict[str, tuple[str, float]],
    near_misses: set[str],
    threshold: float | None,
    response_report: dict[str, Any],
    detector_caught: set[str] | None = None,
) -> dict[str, Any]:
    """All the numbers this script prints and gates on, as one JSON-ready dict.

    ``crisis_recall`` is the classifier's own; ``crisis_recall_detector`` the deterministic
    detector's alone; ``crisis_recall_runtime`` the assistant's (either, as it runs)."""
    crisis_rows = [p for p in predictions if p.target == CRISIS]
    other_rows = [p for p in predictions if p.target != CRISIS]
    false_alarms = [p for p in other_rows if p.predicted == CRISIS]
    runtime_misses = [
        {
            "text": p.text,
            "runtime_intent": runtime[p.text][0],
            "confidence": runtime[p.text][1],
        }
        for p in crisis_rows
        if runtime.get(p.text, ("", 0.0))[0] != CRISIS
    ]
    classifier_misses = [asdict(p) for p in crisis_rows if p.predicted != CRISIS]
    near_rows = [p for p in predictions if p.text in near_misses]
    near_errors = [asdict(p) for p in near_rows if p.predicted != p.target]
    unsure = [p for p in predictions if threshold is not None and p.confidence < threshold]
    intents = {
        name: {key: values[key] for key in ("precision", "recall", "f1-score", "support")}
        for name, values in report.items()
        if isinstance(values, dict) and "support" in values and not name.endswith(" avg")
    }
    crisis = intents.get(CRISIS, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    weighted = report.get("weighted avg", {})
    return {
        "messages": len(predictions),
        "accuracy": report.get("accuracy", report.get("micro avg", {}).get("f1-score")),
        "macro_f1": report.get("macro avg", {}).get("f1-score"),
        "weighted_f1": weighted.get("f1-score"),
        "crisis_precision": crisis["precision"],
        "crisis_recall": crisis["recall"],
        "crisis_recall_detector": (
            sum(1 for p in crisis_rows if p.text in detector_caught) / len(crisis_rows)
            if crisis_rows and detector_caught is not None
            else None
        ),
        "crisis_recall_runtime": 1.0 - len(runtime_misses) / len(crisis_rows)
        if crisis_rows
        else None,
        "crisis_specificity": 1.0 - len(false_alarms) / len(other_rows) if other_rows else None,
        "crisis_misses_classifier": classifier_misses,
        "crisis_misses_runtime": runtime_misses,
        "crisis_false_alarms": [asdict(p) for p in false_alarms],
        "near_miss_accuracy": 1.0 - len(near_errors) / len(near_rows) if near_rows else None,
        "near_miss_errors": near_errors,
        "below_fallback_threshold": len(unsure),
        "fallback_threshold": threshold,
        "response_selection_weighted_f1": (response_report or {})
        .get("weighted avg", {})
        .get("f1-score"),
        "intents": intents,
    }


def gate(
    summary: dict[str, Any],
    min_weighted_f1: float,
    min_intent_f1: float,
    min_crisis_specificity: float = DEFAULT_MIN_CRISIS_SPECIFICITY,
) -> list[str]:
    """Reasons to fail; empty when the model is good enough to ship."""
    failures = []
    specificity = summary.get("crisis_specificity")
    if specificity is not None and specificity < min_crisis_specificity:
        failures.append(f"crisis specificity {specificity:.3f} < {min_crisis_specificity}")
    if summary["crisis_recall_runtime"] is None:
        failures.append("the held-out data has no crisis messages")
    elif summary["crisis_recall_runtime"] < 1.0:
        failures.append(f"crisis recall at run time {summary['crisis_recall_runtime']:.3f} < 1.0")
    if (summary["weighted_f1"] or 0.0) < min_weighted_f1:
        failures.append(f"weighted F1 {summary['weighted_f1'] or 0.0:.3f} < {min_weighted_f1}")
    for name, scores in summary["intents"].items():
        if scores["support"] and scores["f1-score"] < min_intent_f1:
            failures.append(f"intent {name}: F1 {scores['f1-score']:.3f} < {min_intent_f1}")
    return failures


def print_summary(summary: dict[str, Any], model: Path) -> None:
    """A short human-readable report; the full detail is in summary.json and Rasa's files."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print(f"model: {model}")
    print(f"held-out messages: {summary['messages']}")
    print(
        f"intent accuracy {pct(summary['accuracy'])}  macro F1 {pct(summary['macro_f1'])}  "
        f"weighted F1 {pct(summary['weighted_f1'])}"
    )
    print(
        f"crisis precision {pct(summary['crisis_precision'])}  recall {pct(summary['crisis_recall'])}  "
        f"detector alone {pct(summary.get('crisis_recall_detector'))}  "
        f"recall at run time {pct(summary['crisis_recall_runtime'])}  "
        f"specificity {pct(summary['crisis_specificity'])}"
    )
    print(f"figurative / near-miss accuracy {pct(summary['near_miss_accuracy'])}")
    if summary["response_selection_weighted_f1"] is not None:
        print(
            f"psychoeducation topic (response selection) weighted F1 {pct(summary['response_selection_weighted_f1'])}"
        )
    if summary["fallback_threshold"] is not None:
        print(
            f"messages below the fallback threshold {summary['fallback_threshold']}: "
            f"{summary['below_fallback_threshold']}"
        )
    print("\nper intent (F1 / support):")
    for name, scores in sorted(summary["intents"].items(), key=lambda item: item[1]["f1-score"]):
        print(f"  {name:<22} {scores['f1-score']:.3f}  {scores['support']}")
    # Counts and intents only: the held-out messages stay out of CI logs, where anyone
    # editing the lexicon or the training data would read them (they are in summary.json).
    runtime = [m.get("runtime_intent", "?") for m in summary["crisis_misses_runtime"]]
    print(
        f"\ncrisis misses at run time: {len(runtime)}"
        + (f" (read as {runtime})" if runtime else "")
    )
    alarms = [alarm["target"] for alarm in summary["crisis_false_alarms"]]
    print(
        f"non-crisis messages labelled crisis: {len(alarms)}" + (f" ({alarms})" if alarms else "")
    )
    near = [f"{e['target']} -> {e['predicted']}" for e in summary["near_miss_errors"]]
    print(f"near-miss errors: {len(near)}" + (f" ({near})" if near else ""))


def detector_caught(texts: list[str]) -> set[str]:
    """The messages the deterministic detector alone marks (any level)."""
    from bot.safety.detector import CrisisMatcher

    matcher = CrisisMatcher()
    return {text for text in texts if matcher.detect(text) is not None}


def main(argv: list[str] | None = None) -> int:
    """Evaluate, print, write summary.json, and return 1 when a gate fails."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    model = latest_model(Path(args.model).resolve())
    nlu = Path(args.nlu).resolve()
    out = Path(args.out).resolve()

    run_rasa_test(model, nlu, out, args.plot)
    predictions = load_predictions(out)
    crisis_texts = [p.text for p in predictions if p.target == CRISIS]
    summary = summarise(
        report=read_json(out / "intent_report.json"),
        predictions=predictions,
        runtime=runtime_intents(model, crisis_texts),
        near_misses=near_miss_texts(nlu),
        threshold=fallback_threshold(Path(args.config).resolve()),
        response_report=read_json(out / "response_selection_report.json") or {},
        detector_caught=detector_caught(crisis_texts),
    )
    failures = gate(summary, args.min_weighted_f1, args.min_intent_f1, args.min_crisis_specificity)
    summary["model"] = str(model)
    summary["failures"] = failures
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8"
    )

    print_summary(summary, model)
    print(f"\nreports: {out}")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nPASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
