"""Psychoeducation content kept as data, so clinicians can review every fact and its source.

The answers themselves live in data/psychoeducation.yml (Rasa's ResponseSelector serves them);
sources.yml beside this file lists each study those answers cite, with the full reference and
the only figures an answer may quote from it. Keeping both as plain YAML lets the content tests
check every citation and every number without importing Rasa.

The word lists the assistant reads replies with (answer_words.yml, reply_words.yml,
substances.yml, acknowledgements.yml …) live here too, loaded by :func:`load_mapping`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parent


def read_yaml(path: Path) -> Any:
    """A YAML file's content, parsed safely by libyaml where PyYAML was built with it.

    The crisis lexicon alone is a few thousand lines, read by every Rasa server, action server
    and test that builds a detector; PyYAML's pure-Python parser takes ten times as long.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader


def load_mapping(path: Path, *, text_lists: bool = False) -> dict[str, Any]:
    """A YAML file of word lists or content that must hold a mapping.

    With ``text_lists``, every list item must be text: YAML 1.1 reads a bare ``no`` or
    ``yes`` as a boolean, which would otherwise silently never match anything.
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise TypeError(f"{path} must contain a mapping")
    if text_lists:
        _check_text(data, path, "")
    return data


def _check_text(node: Any, path: Path, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _check_text(value, path, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            if not isinstance(item, str):
                raise TypeError(f"{path}{where}: {item!r} must be quoted text")
