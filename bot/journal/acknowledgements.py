"""One short line that acknowledges an answer before the next question.

A reflection that goes straight from "my father died and I cried all night" to "What
intention would you like to carry?" reads as not listening. The line is chosen by the
answer's tone (heavy, warm) and length, never repeats the line said just before, and a heavy
answer also gets, once per reflection, an offer of coping ideas or the care team. The words
and lines are in ``bot/content/acknowledgements.yml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.content import FOLDER, load_mapping
from bot.journal.reply_reading import plain

LINES_FILE = FOLDER / "acknowledgements.yml"
#: How many words before a tone word may negate it ("not really scared").
_NEGATION_REACH = 2


@dataclass(frozen=True)
class Acknowledgement:
    """The line to say, its tone, and whether to add the support offer after it."""

    text: str
    tone: str
    offer_support: str | None


@cache
def _content() -> dict[str, Any]:
    return load_mapping(LINES_FILE, text_lists=True)


@cache
def _pattern(key: str) -> re.Pattern[str]:
    words = sorted({plain(w) for w in _content()[key]}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])")


def _mentions(text: str, key: str) -> bool:
    negators = {plain(n) for n in _content()["negators"]}
    for match in _pattern(key).finditer(text):
        before = text[: match.start()].split()[-_NEGATION_REACH:]
        if not negators.intersection(before):
            return True
    return False


def tone_of(answer: str) -> str:
    """``heavy``, ``warm``, ``long`` or ``short``: heavy words outweigh warm ones."""
    text = plain(answer)
    if _mentions(text, "heavy_words"):
        return "heavy"
    if _mentions(text, "warm_words"):
        return "warm"
    return "long" if len(text.split()) > int(_content()["long_words"]) else "short"


def acknowledge(answer: str, *, last_line: str | None, support_offered: bool) -> Acknowledgement:
    """The acknowledgement for an answer, different from ``last_line``.

    Which of a tone's lines is used depends on the answer's length, so the choice is stable
    for a given answer (and testable) yet varies from one answer to the next.
    """
    tone = tone_of(answer)
    lines = [line for line in _content()["lines"][tone] if line != last_line]
    text = lines[len(answer) % len(lines)]
    offer = _content()["support_offer"] if tone == "heavy" and not support_offered else None
    return Acknowledgement(text=text, tone=tone, offer_support=offer)


def lines_of(tone: str) -> tuple[str, ...]:
    """The acknowledgement lines of one tone."""
    return tuple(_content()["lines"][tone])


def all_lines() -> frozenset[str]:
    """Every acknowledgement line, of every tone."""
    return frozenset(line for lines in _content()["lines"].values() for line in lines)
