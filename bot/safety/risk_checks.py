"""What ratings, slips and answers to the safety checks say about risk (clinical review S5, S6).

Pure functions over text and numbers; the actions decide what to say and which flag to record.

- A mood of :data:`MOOD_SAFETY_MAX` or lower leads to the direct question about thoughts of
  ending one's life (asking does not raise risk: Dazzi et al., 2014, Psychol Med 44:3361).
- A craving of :data:`CRAVING_SUPPORT_MIN` or higher leads to an offer of coping help and an
  "info" flag for the care team.
- A slip on an opioid or a sedative (or alcohol with a benzodiazepine) leads to a safety check
  before the reflection: tolerance drops after a break, so a usual amount can kill.
- Ketamine used outside the clinic, or bladder symptoms, lead to an "elevated" flag.

The word lists live in ``bot/content/lapse_substances.yml`` and ``bot/content/check_answers.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.content import FOLDER as CONTENT

SUBSTANCES_FILE = CONTENT / "lapse_substances.yml"
ANSWERS_FILE = CONTENT / "check_answers.yml"
#: The safety answer's further word lists (bot/nlu/crisis_policy.py reads the rest).
SAFETY_WORDS_FILE = CONTENT / "safety_answer_words.yml"

#: A mood rating at or below this gets the direct safety question.
MOOD_SAFETY_MAX = 2
#: A mood rating at or below this (above the safety question's) gets an offer of coping ideas
#: or the care team after the entry is saved, instead of a bare thank-you.
MOOD_LOW_MAX = 4
#: A craving rating at or above this gets a coping offer and an "info" flag.
CRAVING_SUPPORT_MIN = 8

#: Values of the ``safety_answer`` slot.
SAFETY_YES = "yes"
SAFETY_NO = "no"
SAFETY_UNSURE = "unsure"
SAFETY_SKIPPED = "skipped"
SAFETY_ANSWERS = (SAFETY_YES, SAFETY_NO, SAFETY_UNSURE, SAFETY_SKIPPED)
#: Answers that lead to the crisis reply and an urgent flag.
SAFETY_NEEDS_HELP = frozenset({SAFETY_YES, SAFETY_UNSURE})

#: Values of the ``lapse_check_result`` slot, in the order they win when a reply says several.
LAPSE_EFFECTS = "effects"
LAPSE_ALONE = "alone"
LAPSE_OK = "ok"
LAPSE_CHECK_RESULTS = (LAPSE_EFFECTS, LAPSE_ALONE, LAPSE_OK)

#: A word this close before a substance negates it ("no benzos", "didn't touch the xanax").
_NEGATORS = frozenset(
    {"no", "not", "never", "without", "didn't", "didnt", "don't", "dont", "wasn't", "wasnt"}
)
_NEGATION_REACH = 3


# --------------------------------------------------------------------------- word lists


@cache
def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise TypeError(f"{path} must contain a mapping")
    _check_strings(data, path, "")
    return data


def _check_strings(node: Any, path: Path, where: str) -> None:
    """Fail loudly on an entry YAML read as something other than text (a bare ``no``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}{where}: key {key!r} must be quoted text")
            _check_strings(value, path, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            if not isinstance(item, str):
                raise TypeError(f"{path}{where}: {item!r} must be quoted text")


def normalise(text: str) -> str:
    """Lower case, compatibility-folded, typographic apostrophes made plain."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.replace("\u2019", "'").replace("\u2018", "'")


def _pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex for any of the phrases as whole words, longest first."""
    ordered = sorted({normalise(p) for p in phrases}, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    # A possessive or a contraction's "'s" still ends the word: "my bladder's sore".
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?:'s)?(?![\w'])")


@cache
def _substance_pattern(section: str) -> re.Pattern[str]:
    return _pattern(_load(SUBSTANCES_FILE)[section])


@cache
def _answer_patterns(question: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """A pattern for every phrase of one question, and which answer each phrase means."""
    answers: Mapping[str, list[str]] = _load(ANSWERS_FILE)[question]
    meaning = {normalise(p): answer for answer, phrases in answers.items() for p in phrases}
    return _pattern(meaning), meaning


def _negated(text: str, start: int) -> bool:
    """Whether a negating word comes shortly before ``start`` in the same clause."""
    clause = re.split(r"[,.;:!?()\n]", text[:start])[-1]
    before = re.findall(r"[\w']+", clause)[-_NEGATION_REACH:]
    return any(word in _NEGATORS for word in before)


def _mentions(text: str, section: str) -> list[str]:
    """The words of a section named (and not negated) in ``text``, in order."""
    return [
        match.group(0)
        for match in _substance_pattern(section).finditer(text)
        if not _negated(text, match.start())
    ]


# --------------------------------------------------------------------------- ratings


def _rating(value: Any) -> int | None:
    """A validated rating slot ("7") as an int; ``None`` for anything else (skipped, empty)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def mood_needs_safety_question(value: Any) -> bool:
    """A mood rating low enough to ask directly about thoughts of ending one's life."""
    rating = _rating(value)
    return rating is not None and rating <= MOOD_SAFETY_MAX


def mood_is_low(value: Any) -> bool:
    """A mood rating low enough for an offer of coping ideas or the care team."""
    rating = _rating(value)
    return rating is not None and rating <= MOOD_LOW_MAX


def craving_needs_support(value: Any) -> bool:
    """A craving rating high enough for a coping offer and an "info" flag."""
    rating = _rating(value)
    return rating is not None and rating >= CRAVING_SUPPORT_MIN


# --------------------------------------------------------------------------- answers


def _answers_in(text: str, question: str, *, negatable: frozenset[str] = frozenset()) -> set[str]:
    """The answers phrases in ``text`` mean; a phrase of a ``negatable`` answer does not count
    when negated ("not high anymore")."""
    pattern, meaning = _answer_patterns(question)
    lowered = normalise(text)
    found = set()
    for match in pattern.finditer(lowered):
        phrase = " ".join(match.group(0).split())
        phrase = phrase.removesuffix("'s") if phrase not in meaning else phrase
        answer = meaning[phrase]
        if answer in negatable and _negated(lowered, match.start()):
            continue
        found.add(answer)
    return found


def parse_safety_answer(text: str) -> str | None:
    """ "yes", "no" or "unsure" for a typed answer to the safety question; ``None`` if unclear."""
    found = _answers_in(text, "safety_answer")
    for answer in (SAFETY_YES, SAFETY_UNSURE, SAFETY_NO):
        if answer in found:
            return answer
    return None


def parse_lapse_check(text: str) -> str | None:
    """ "effects", "alone" or "ok" for an answer to the check after a slip; ``None`` if unclear."""
    found = _answers_in(text, "lapse_check", negatable=frozenset({LAPSE_EFFECTS, LAPSE_ALONE}))
    for answer in LAPSE_CHECK_RESULTS:
        if answer in found:
            return answer
    return None


# --------------------------------------------------------------------------- slips and symptoms


@dataclass(frozen=True)
class LapseFindings:
    """What a message about a slip (or a journal answer) says about risk."""

    opioids: tuple[str, ...] = ()
    sedatives: tuple[str, ...] = ()
    alcohol: tuple[str, ...] = ()
    ketamine_misuse: bool = False
    bladder: bool = False

    @property
    def needs_safety_check(self) -> bool:
        """An opioid or a sedative, alone or with alcohol: check on safety first."""
        return bool(self.opioids or self.sedatives)

    @property
    def alcohol_with_sedatives(self) -> bool:
        return bool(self.alcohol and self.sedatives)


def ketamine_outside_clinic(text: str, *, in_a_slip: bool) -> bool:
    """Ketamine used outside treatment: named in a slip, or named with a street or home word."""
    lowered = normalise(text)
    if not _mentions(lowered, "ketamine"):
        return bool(_mentions(lowered, "ketamine_outside_clinic_phrases"))
    if in_a_slip:
        return True
    return bool(
        _mentions(lowered, "ketamine_outside_clinic")
        or _mentions(lowered, "ketamine_outside_clinic_phrases")
    )


def bladder_symptoms(text: str) -> bool:
    """Bladder pain, urgency or blood in urine: the bladder or peeing named with a symptom."""
    lowered = normalise(text)
    if _mentions(lowered, "bladder_phrases"):
        return True
    return bool(_mentions(lowered, "bladder_words") and _mentions(lowered, "bladder_symptoms"))


def read_slip(text: str) -> LapseFindings:
    """What a message reporting a slip says: substances, ketamine misuse, bladder symptoms."""
    lowered = normalise(text)
    return LapseFindings(
        opioids=tuple(_mentions(lowered, "opioids")),
        sedatives=tuple(_mentions(lowered, "sedatives")),
        alcohol=tuple(_mentions(lowered, "alcohol")),
        ketamine_misuse=ketamine_outside_clinic(lowered, in_a_slip=True),
        bladder=bladder_symptoms(lowered),
    )


@cache
def _not_an_answer() -> frozenset[str]:
    words = yaml.safe_load(SAFETY_WORDS_FILE.read_text(encoding="utf-8"))["not_an_answer"]
    return frozenset(str(word) for word in words)


def says_nothing(text: str) -> bool:
    """Whether a reply to the safety question is only an "ok", a "thanks" or a "hmm"
    (``not_an_answer`` in safety_answer_words.yml), whatever intent the classifier gives it
    ("ok thanks" is often read as affirm): such a reply is asked again, never taken as a yes."""
    folded = re.sub(r"['\u2019\u2018`]", "", unicodedata.normalize("NFKC", text).casefold())
    words = re.findall(r"[\w-]+", folded)
    return bool(words) and all(word in _not_an_answer() for word in words)
