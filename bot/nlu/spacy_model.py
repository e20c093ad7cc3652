"""Build the spaCy pipeline that Rasa's ``SpacyNLP`` loads (``model: var/spacy/en_lookup``).

No pretrained English pipeline can be installed here, so the model is a blank English
tokenizer with a lookup lemmatizer from ``spacy-lookups-data``: the same pipeline the crisis
detector uses (``bot.safety.spacy_pipeline.build_pipeline``). Usage::

    python -m bot.nlu.spacy_model var/spacy/en_lookup

Running it again rebuilds the folder; the new model is written next to the target and moved
into place, so a crashed build never leaves a half-written model behind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bot.safety.spacy_pipeline import build_pipeline


def save_pipeline(path: Path) -> Path:
    """Write the pipeline to ``path`` (replacing what is there) and return the path."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as scratch:
        staged = Path(scratch) / path.name
        build_pipeline().to_disk(staged)
        retired = Path(scratch) / "previous"
        if path.exists():
            path.rename(retired)
        try:
            staged.rename(path)
        except OSError:
            if retired.exists():
                retired.rename(path)
            raise
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.nlu.spacy_model",
        description="Save the tokenizer + lookup lemmatizer pipeline for Rasa's SpacyNLP.",
    )
    parser.add_argument("path", type=Path, help="target folder, e.g. var/spacy/en_lookup")
    args = parser.parse_args(argv)
    if args.path.exists() and not args.path.is_dir():
        parser.error(f"{args.path} exists and is not a folder")
    saved = save_pipeline(args.path)
    print(f"spaCy pipeline saved to {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
