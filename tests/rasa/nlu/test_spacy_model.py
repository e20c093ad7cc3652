"""The spaCy model Rasa's SpacyNLP loads (bot/nlu/spacy_model.py), built by its command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rasa.nlu.utils.spacy_utils import SpacyNLP

pytestmark = pytest.mark.slow


def test_cli_builds_a_model_rasa_can_load(tmp_path: Path, project_root: Path) -> None:
    target = tmp_path / "var" / "spacy" / "en_lookup"
    for _ in range(2):  # idempotent: the second run replaces the first
        result = subprocess.run(
            [sys.executable, "-m", "bot.nlu.spacy_model", str(target)],
            cwd=project_root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in target.parent.iterdir()) == ["en_lookup"]

    loaded = SpacyNLP.load_model(str(target))
    SpacyNLP.ensure_proper_language_model(loaded.model)
    doc = loaded.model("she was killing time and took the pills")
    assert [token.lemma_ for token in doc] == [
        "she",
        "be",
        "kill",
        "time",
        "and",
        "take",
        "the",
        "pill",
    ]
    assert loaded.model.meta["name"] == "en_lookup"
