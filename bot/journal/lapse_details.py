"""What a slip was on and when it happened, read from how the person told the bot about it.

"had a couple drinks last night after work" becomes alcohol, yesterday's date and the words
"last night". The result is kept with the slip in the journal (:func:`lapse_fields`), so the
care team sees on the chart which days had slips and on what, without rereading every entry.

Two rules, the same as for every answer the bot parses (:mod:`bot.journal.parsing`):

- A word that could mean two things names nothing. "pills", "smoked" or "vaped" alone give no
  substance, and a vague "last week" gives no date (its words are still kept). A record with a
  gap is better than one with a confident mistake.
- The words live in ``bot/content/substances.yml``; clear date phrases are read by
  :func:`bot.journal.parsing.find_date_phrases`, the same code that reads session dates.

Pure functions: no database, no Rasa; the standard library and PyYAML only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from bot.content import FOLDER, load_mapping
from bot.journal.parsing import find_date_phrases, find_session_date

__all__ = [
    "LAPSE_DATE_FIELD",
    "LAPSE_WHEN_FIELD",
    "SUBSTANCES_FIELD",
    "SUBSTANCES_FILE",
    "LapseDetails",
    "known_substances",
    "lapse_date_of",
    "lapse_fields",
    "read_lapse",
    "substance_label",
]

SUBSTANCES_FILE = FOLDER / "substances.yml"

#: Journal field keys of a slip's details (trigger entries with ``trigger_kind == "lapse"``).
SUBSTANCES_FIELD = "substances"
LAPSE_DATE_FIELD = "lapse_date"
LAPSE_WHEN_FIELD = "lapse_when"

#: How far back a word may negate a substance: "didn't touch the xanax".
_NEGATION_REACH = 3
#: Punctuation that ends a part of a sentence (for negation and for a weekday at its end).
_CLAUSE_END = r"[,.;:!?()\n]"


@dataclass(frozen=True)
class LapseDetails:
    """A slip's substances (canonical names, in the order named) and when it happened.

    ``when`` is set only when the words name one clear day; ``when_text`` keeps the words
    as said ("last night", "on friday", "last week") even when they do not.
    """

    substances: tuple[str, ...] = ()
    when: date | None = None
    when_text: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.substances and self.when is None and self.when_text is None


# --------------------------------------------------------------------------- word lists


@cache
def _data() -> dict[str, Any]:
    return load_mapping(SUBSTANCES_FILE, text_lists=True)


def _fold(text: str) -> str:
    """Lower case, compatibility-folded, plain apostrophes (as :mod:`bot.journal.parsing` reads text)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.replace("\u2019", "'").replace("\u2018", "'")


def _normalise(text: str) -> str:
    """Folded text with hyphens read as spaces: "non-alcoholic" is "non alcoholic".

    Dates keep their hyphens (2026-03-07), so they are read from :func:`_fold`'s text; both
    have the same length, so positions agree.
    """
    return _fold(text).replace("-", " ")


def _alternatives(phrases: Iterable[str]) -> str:
    ordered = sorted({_normalise(p) for p in phrases}, key=len, reverse=True)
    return "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)


def _whole_words(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex for any of the phrases as whole words, the longest first."""
    return re.compile(rf"(?<![\w'])(?:{_alternatives(phrases)})(?![\w'])")


@cache
def _substance_words() -> tuple[re.Pattern[str], dict[str, str | None]]:
    """A pattern for every substance word and phrase, and what each means (``None``: nothing)."""
    meaning: dict[str, str | None] = {}
    for name, spec in _data()["substances"].items():
        for word in spec["words"]:
            meaning[_phrase(word)] = name
    for phrase in _data()["not_substances"]:
        meaning[_phrase(phrase)] = None
    return _whole_words(meaning), meaning


def _phrase(text: str) -> str:
    return " ".join(_normalise(text).split())


def known_substances() -> tuple[str, ...]:
    """Every canonical substance name, in the data file's order."""
    return tuple(_data()["substances"])


def substance_label(name: str) -> str:
    """How a canonical name is shown ("mdma" → "MDMA"); anything else is returned unchanged."""
    spec = _data()["substances"].get(name)
    return str(spec["label"]) if isinstance(spec, Mapping) else name


# --------------------------------------------------------------------------- substances


@cache
def _negators() -> tuple[str, ...]:
    return tuple(_phrase(n) for n in _data()["negators"])


@cache
def _clause_break() -> re.Pattern[str]:
    joiners = _alternatives(_data()["clause_joiners"])
    return re.compile(rf"{_CLAUSE_END}|(?<![\w'])(?:{joiners})(?![\w'])")


def _clause_before(text: str, start: int) -> list[str]:
    """The words of the part of the sentence that ends at ``start``."""
    clause = _clause_break().split(text[:start])[-1]
    return re.findall(r"[\w']+", clause)


def _negated(text: str, start: int) -> bool:
    """Whether a negating word comes shortly before ``start`` in the same part of a sentence."""
    before = " ".join(_clause_before(text, start)[-_NEGATION_REACH:])
    padded = f" {before} "
    return any(f" {negator} " in padded for negator in _negators())


def _substances(text: str) -> tuple[str, ...]:
    """Canonical names of the substances named and not negated, in order of first mention."""
    pattern, meaning = _substance_words()
    matches = list(pattern.finditer(text))
    found: list[str] = []
    for index, match in enumerate(matches):
        name = meaning.get(_phrase(match.group(0)))
        if name is None or name in found or _negated(text, match.start()):
            continue
        following = matches[index + 1] if index + 1 < len(matches) else None
        if following is not None and re.fullmatch(
            r"\s+of\s+", text[match.end() : following.start()]
        ):
            continue  # "a line of ket": the line is whatever follows "of"
        found.append(name)
    return tuple(found)


# --------------------------------------------------------------------------- when


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    day: date | None  # None: a vague period


@cache
def _when_patterns() -> dict[str, re.Pattern[str]]:
    when = _data()["when"]
    weekday = (
        rf"(?:(?P<lead>{_alternatives(when['weekday_leads'])})\s+)?"
        rf"(?P<day>{_alternatives(when['weekdays'])})"
        rf"(?:\s+(?P<part>{_alternatives(when['parts_of_day'])}))?"
    )
    return {
        "spellings": _whole_words(when["spellings"]),
        "weekdays": re.compile(rf"(?<![\w']){weekday}(?![\w'])"),
        "same_day": _whole_words(when["same_day"]),
        "vague": _whole_words(when["vague"]),
    }


def _spelled_day(match: re.Match[str], text: str, today: date) -> date | None:
    """The day a shortened weekday ("fri", "sat night") names, if it is one here."""
    when = _data()["when"]
    word = match.group("day")
    if word in when["also_words"] and not (match.group("lead") or match.group("part")):
        after = text[match.end() :]
        at_clause_end = not after.strip() or re.match(rf"\s*{_CLAUSE_END}", after) is not None
        before = _clause_before(text, match.start())
        if not (
            word in when["alone_at_clause_end"]
            and at_clause_end
            and before
            and before[-1] not in when["verb_before"]
        ):
            return None
    return find_session_date(f"on {when['weekdays'][word]}", today)


def _mentions(text: str, today: date) -> list[_Mention]:
    """Every phrase saying when, clear or vague, without overlaps, in the order written."""
    mentions = [_Mention(m.start, m.end, m.day) for m in find_date_phrases(text, today)]

    def free(start: int, end: int) -> bool:
        return all(end <= m.start or start >= m.end for m in mentions)

    patterns = _when_patterns()
    spellings = {_phrase(k): v for k, v in _data()["when"]["spellings"].items()}
    for match in patterns["spellings"].finditer(text):
        day = find_session_date(spellings[_phrase(match.group(0))], today)
        if day is not None and free(match.start(), match.end()):
            mentions.append(_Mention(match.start(), match.end(), day))
    for match in patterns["weekdays"].finditer(text):
        day = _spelled_day(match, text, today)
        if day is not None and free(match.start(), match.end()):
            mentions.append(_Mention(match.start(), match.end(), day))
    for match in patterns["same_day"].finditer(text):
        if free(match.start(), match.end()):
            mentions.append(_Mention(match.start(), match.end(), today))
    for match in patterns["vague"].finditer(text):
        if free(match.start(), match.end()):
            mentions.append(_Mention(match.start(), match.end(), None))
    return sorted(mentions, key=lambda m: m.start)


def _when(original: str, text: str, today: date) -> tuple[date | None, str | None]:
    mentions = _mentions(text, today)
    if not mentions:
        return None, None
    # The words as typed where normalising kept every position; else the normalised words.
    source = original if len(original) == len(text) else text
    said: list[str] = []
    for mention in mentions:
        words = " ".join(source[mention.start : mention.end].split())
        if words.casefold() not in (w.casefold() for w in said):
            said.append(words)
    days = {m.day for m in mentions}
    day = days.pop() if len(days) == 1 else None
    if day is not None and day > today:
        day = None  # a slip being told about has happened; a future day is a misreading
    return day, ", ".join(said)


# --------------------------------------------------------------------------- public


def read_lapse(text: str, today: date) -> LapseDetails:
    """The substances and the day of a slip, from the person's own words.

    ``today`` is the day the message was written (the person's day where known), against
    which "last night" and "on friday" are read. Several substances are all kept, in the
    order named; a vague or contradictory "when" keeps the words and leaves the date empty.
    """
    if not isinstance(text, str) or not text.strip():
        return LapseDetails()
    when, when_text = _when(text, _fold(text), today)
    return LapseDetails(substances=_substances(_normalise(text)), when=when, when_text=when_text)


def lapse_fields(details: LapseDetails) -> dict[str, Any]:
    """The journal fields for a slip's details, to merge into its trigger entry's fields.

    Only what was found: a slip with no substance named has no ``substances`` key, as a
    skipped question leaves no key. The date is ISO 8601, like every date in the exports.
    """
    fields: dict[str, Any] = {}
    if details.substances:
        fields[SUBSTANCES_FIELD] = list(details.substances)
    if details.when is not None:
        fields[LAPSE_DATE_FIELD] = details.when.isoformat()
    if details.when_text:
        fields[LAPSE_WHEN_FIELD] = details.when_text
    return fields


def lapse_date_of(fields: Mapping[str, Any]) -> date | None:
    """The slip's day stored in an entry's fields; ``None`` if absent or not an ISO date."""
    value = fields.get(LAPSE_DATE_FIELD)
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
