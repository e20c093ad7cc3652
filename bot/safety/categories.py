"""The crisis lexicon's categories as people read about them: name, level, reply and description.

Why not :class:`bot.safety.detector.CrisisMatcher`: the detector compiles spaCy patterns, and
what is said *about* the categories (the public safety page, reports) is needed where spaCy is
not installed (the web app) and without the cost of building a matcher. This module reads the
same files (``lexicon/base.yml`` for the order, ``lexicon/<category>.yml`` for the rest) with
PyYAML alone, so the two never disagree about which categories exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.content import read_yaml

LEXICON_PATH = Path(__file__).with_name("lexicon")
#: A sentence ends at ``.``, ``!`` or ``?`` (after a closing quote or bracket, if any)
#: followed by a space and a capital letter.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z])")


@dataclass(frozen=True)
class CategoryInfo:
    """One category of the lexicon, most acute first in :func:`lexicon_categories`."""

    name: str
    #: ``urgent``, ``ask`` or ``recent`` (see :data:`bot.safety.detector.LEVELS`).
    level: str
    #: The crisis reply's kind: domain.yml's ``utter_crisis_<reply>``.
    reply: str
    #: The lexicon's ``description:``, whole: written for the people who maintain the rules.
    description: str

    @property
    def summary(self) -> str:
        """The description's first sentence: what the category covers, without the notes
        for the lexicon's maintainers that some descriptions go on with."""
        return _SENTENCE_END.split(self.description.strip(), maxsplit=1)[0].strip()


@cache
def lexicon_categories(path: Path = LEXICON_PATH) -> tuple[CategoryInfo, ...]:
    """Every category in the lexicon's order (most acute first)."""
    order = read_yaml(path / "base.yml")["categories"]
    found: list[CategoryInfo] = []
    for name in order:
        spec = read_yaml(path / f"{name}.yml")
        found.append(
            CategoryInfo(
                name=str(name),
                level=str(spec["level"]),
                reply=str(spec["reply"]),
                description=" ".join(str(spec.get("description") or "").split()),
            )
        )
    return tuple(found)
