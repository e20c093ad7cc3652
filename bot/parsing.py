"""Turning what people type into the journal's values: ratings, dates, skips and categories.

These functions sit between the chat and the journal, so they follow two rules:

- Free text is stored as the person wrote it. :func:`clean_answer` only removes control
  characters that no keyboard produces on purpose (they break logs, exports and terminals).
- When an answer is ambiguous, the parser says "not understood" and the bot asks again,
  rather than guessing a number or a date that then sits in a clinical record looking certain.

The word lists (skip phrases, number words, trigger and HALT synonyms) live in
``bot/content/answer_words.yml`` so they can be extended without touching code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from bot.content import load_mapping

SKIPPED = "__skipped__"
"""Slot value meaning "the person chose to skip this question"; never written to the journal."""

MAX_ANSWER_CHARS = 4000
"""Longest free-text answer kept in one journal field."""

MAX_SKIP_WORDS = 4
"""A skip reply is short: "skip", "next question", "I'd rather not". Longer text is an answer."""

WORDS_FILE = Path(__file__).resolve().parent / "content" / "answer_words.yml"

#: Longest answer handed to ``dateparser`` as a whole; longer text is searched for clear phrases.
_MAX_DATE_PHRASE_CHARS = 64

_WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class RatingOutOfRange(ValueError):
    """A number was given, but it is outside the 0 to 10 scale (for example "-3" or "12/10")."""


@cache
def _words() -> dict[str, Any]:
    return load_mapping(WORDS_FILE, text_lists=True)


def _normalise(text: str) -> str:
    """Lower-case, compatibility-folded text with typographic apostrophes made plain.

    NFKC turns full-width digits and letters into ASCII ones, so "７" reads as "7".
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.replace("\u2019", "'").replace("\u2018", "'")


def _phrase(text: str) -> str:
    """A whole reply reduced to its words, for comparison with the phrase lists."""
    words = re.findall(r"[\w']+|/", _normalise(text))
    return " ".join(word.strip("'") for word in words if word.strip("'"))


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the phrases as whole words, longest first."""
    ordered = sorted({p.casefold() for p in phrases}, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])")


# --------------------------------------------------------------------------- free text


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_answer(text: str) -> str:
    """The answer as typed, minus control characters.

    Removes C0 and C1 control characters (NUL, escape sequences, DEL …) except newline
    and tab; carriage returns become newlines so Windows and old Mac line breaks survive
    as line breaks. Everything else — spacing, emoji, any script — is kept verbatim,
    because the journal is the person's own words. Idempotent.
    """
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_CHARS.sub("", unified)


def is_skip(text: str, intent: str | None) -> bool:
    """Whether a reply means "skip this question".

    Only short replies count (at most :data:`MAX_SKIP_WORDS` words): either one of the
    skip phrases, or anything the classifier labelled ``skip``. A longer reply is an
    answer even if it contains "pass" or "next", e.g. "next time I'll call my sponsor".
    """
    phrase = _phrase(text)
    if not phrase or len(phrase.split()) > MAX_SKIP_WORDS:
        return False
    if intent == "skip":
        return True
    return phrase in {_phrase(p) for p in _words()["skip_phrases"]}


def is_yes(text: str) -> bool:
    """Whether a short reply agrees: "yes", "yeah that's right", "yep" (see answer_words.yml)."""
    return _phrase(text) in {_phrase(p) for p in _words()["yes_replies"]}


# --------------------------------------------------------------------------- ratings


@cache
def _number_word_pattern() -> re.Pattern[str]:
    return _phrase_pattern(_words()["number_words"])


@cache
def _negative_word_pattern() -> re.Pattern[str]:
    return re.compile(rf"{_phrase_pattern(_words()['negative_words']).pattern}\s*(?=[0-9])")


# A number, optionally negative (a minus not glued to a preceding word or number, so "7-8"
# is two numbers), optionally with a decimal part and a "/10" or "out of 10" scale.
_NUMBER = re.compile(
    r"(?P<neg>(?<![\w.])-\s?)?"
    r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?"
    r"(?:\s*(?:/|out\s+of\b|of\b)\s*(?P<scale>[0-9]+(?:\.0+)?))?"
)

# Digit strings longer than this are out of range without converting them; Python refuses
# to convert very long digit strings at all.
_MAX_RATING_DIGITS = 6


def parse_rating(text: str) -> int | None:
    """A 0 to 10 rating from a reply such as "7", "7/10", "seven", "7 out of 10" or "about 6".

    Accepts whole numbers only: "6.5" returns ``None`` (the person is asked again for a
    whole number) because the journal and the therapist dashboard work with whole points,
    and silently rounding would record a number the person did not give. "7.0" counts as 7.

    Returns ``None`` when no single number can be read: no number at all ("banana", "",
    an emoji), several different numbers ("6 or 7", "between 5 and 7") or a scale other
    than 10 ("3/5"). Raises :class:`RatingOutOfRange` for a clear number outside 0..10
    ("-3", "11", "12/10", "minus two"), so the bot can explain the scale instead of
    saying it did not understand.
    """
    normalised = _normalise(text)
    numbers = _number_word_pattern().sub(
        lambda m: f" {_words()['number_words'][_phrase(m.group(0))]} ", normalised
    )
    numbers = _negative_word_pattern().sub(" -", numbers)

    values: set[int] = set()
    for match in _NUMBER.finditer(numbers):
        scale = match.group("scale")
        if scale is not None and float(scale) != 10:
            return None
        frac = match.group("frac")
        if frac is not None and frac.strip("0"):
            return None
        digits = match.group("int").lstrip("0") or "0"
        value = int(digits) if len(digits) <= _MAX_RATING_DIGITS else 10**_MAX_RATING_DIGITS
        values.add(-value if match.group("neg") and value else value)

    if len(values) != 1:
        return None
    (value,) = values
    if not 0 <= value <= 10:
        raise RatingOutOfRange(f"{value} is outside the 0 to 10 scale")
    return value


@dataclass(frozen=True)
class RatingRange:
    """Two numbers for one rating: "6-7", "5 or 6", "between 3 and 5"."""

    low: int
    high: int


@dataclass(frozen=True)
class RatingWord:
    """A rating given in words ("meh", "pretty bad"), with the number it most likely means."""

    value: int


_RANGE = re.compile(
    r"^(?:an?\s+)?(?:between\s+)?(?:an?\s+)?(?P<a>[0-9]{1,2})(?:\s*ish)?\s*(?:-|–|to|or|and|/)\s*"
    r"(?:an?\s+)?(?P<b>[0-9]{1,2})(?:\s*ish)?$"
)


@cache
def _rating_filler_pattern() -> re.Pattern[str]:
    return _phrase_pattern(_words()["rating_fillers"])


def _rating_core(text: str) -> str:
    """The reply without words that do not change a rating ("still like 6-7" → "6-7")."""
    normalised = _number_word_pattern().sub(
        lambda m: f" {_words()['number_words'][_phrase(m.group(0))]} ", _normalise(text)
    )
    without = _rating_filler_pattern().sub(" ", normalised)
    return " ".join(re.findall(r"[0-9]+|[^\W\d_]+(?:[-'][^\W\d_]+)*|[-–/]", without))


def read_rating_words(text: str, scale: str) -> RatingRange | RatingWord | None:
    """A rating :func:`parse_rating` cannot read as one number, read as people give them.

    "still like 6-7" and "between 5 and 7" are a :class:`RatingRange` (the bot asks which);
    "meh" or "pretty bad" a :class:`RatingWord` on the given scale ("mood" or "intensity":
    "low" is a 3 for a mood and a 2 for a craving), which the bot proposes for the person to
    confirm. Anything else is ``None``.
    """
    core = _rating_core(text)
    match = _RANGE.match(core)
    if match:
        low, high = sorted((int(match["a"]), int(match["b"])))
        if low != high and 0 <= low and high <= 10:
            return RatingRange(low, high)
        return None
    words = _words()["rating_words"][scale]
    value = {_phrase(k): v for k, v in words.items()}.get(_phrase(core))
    return RatingWord(int(value)) if value is not None else None


# --------------------------------------------------------------------------- dates


def _days_ago(today: date, days: int) -> date:
    return today - timedelta(days=days)


def _last_weekday(today: date, weekday: int) -> date:
    """The most recent given weekday strictly before today.

    "On Friday" said on a Friday means a week ago: someone whose session was today says
    "today". ``dateparser`` reads a bare weekday the same way, so both paths agree.
    """
    back = (today.weekday() - weekday) % 7 or 7
    return _days_ago(today, back)


_TODAY = re.compile(
    r"(?<![\w'])(?:today|tonight|this\s+(?:morning|afternoon|evening)|earlier\s+today)(?!\w)"
)
_DAY_BEFORE_YESTERDAY = re.compile(r"(?<![\w'])(?:the\s+)?day\s+before\s+yesterday(?!\w)")
_YESTERDAY = re.compile(r"(?<![\w'])(?:yesterday|last\s+night)(?!\w)")
_WEEKDAY = re.compile(
    r"(?<![\w'])(?:on\s+|last\s+|this\s+past\s+|past\s+)?(?P<day>" + "|".join(_WEEKDAYS) + r")"
    r"(?:\s+(?:morning|afternoon|evening|night))?(?!\w)"
)
_DAYS_AGO = re.compile(r"(?<![\w'])(?P<n>[0-9]{1,2}|[a-z]+)\s+days?\s+ago(?!\w)")
_ISO_DATE = re.compile(r"(?<![0-9])(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?![0-9])")


class DateMention(NamedTuple):
    """A clear date phrase inside a sentence and the day it names.

    ``start`` and ``end`` index the lower-cased, normalised text (NFKC, casefolded, plain
    apostrophes); ``text`` is that slice, e.g. "last night" or "on friday".
    """

    text: str
    day: date
    start: int
    end: int


def find_date_phrases(text: str, today: date) -> list[DateMention]:
    """Every clear date phrase in ``text``, in the order written, with the day it names.

    The phrases :func:`find_session_date` reads, for callers that also need the words
    (a slip's "last night" is kept as said next to the date). Unlike that function, it
    does not decide between two different dates: every mention is returned.
    """
    lowered = _normalise(text)
    found: list[DateMention] = []

    def add(match: re.Match[str], day: date) -> None:
        found.append(DateMention(match.group(0), day, match.start(), match.end()))

    without_dby = lowered
    for match in _DAY_BEFORE_YESTERDAY.finditer(lowered):
        add(match, _days_ago(today, 2))
        # Blanked to the same length, so that the positions of what follows stay true.
        blank = " " * (match.end() - match.start())
        without_dby = without_dby[: match.start()] + blank + without_dby[match.end() :]
    for match in _TODAY.finditer(without_dby):
        add(match, today)
    for match in _YESTERDAY.finditer(without_dby):
        add(match, _days_ago(today, 1))
    for match in _WEEKDAY.finditer(without_dby):
        add(match, _last_weekday(today, _WEEKDAYS.index(match.group("day"))))
    for match in _DAYS_AGO.finditer(without_dby):
        raw = match.group("n")
        days = int(raw) if raw.isdigit() else _words()["number_words"].get(raw)
        if days is not None and 0 <= days <= 14:
            add(match, _days_ago(today, days))
    for match in _ISO_DATE.finditer(without_dby):
        try:
            add(match, date(int(match["y"]), int(match["m"]), int(match["d"])))
        except ValueError:
            continue
    return sorted(found, key=lambda mention: mention.start)


def find_session_date(text: str, today: date) -> date | None:
    """A session date named clearly inside a sentence, e.g. "I had my session yesterday".

    Used to spare the person the date question when the message that started the
    reflection already said when the session was. Recognises only unmistakable phrases:
    today / tonight / this morning, yesterday / last night, the day before yesterday,
    a weekday ("on Monday", "last Tuesday" — the most recent one before today),
    "N days ago" (up to 14) and ISO dates (2026-11-20). If the sentence names two
    different dates, or none, returns ``None`` and the bot asks.
    """
    found = {mention.day for mention in find_date_phrases(text, today)}
    return found.pop() if len(found) == 1 else None


def _dateparser_date(text: str, today: date) -> date | None:
    import dateparser  # imported lazily: it loads locale data, which only date questions need

    settings = {
        "PREFER_DATES_FROM": "past",
        "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12, 0),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        parsed = dateparser.parse(text, languages=["en"], settings=settings)
    except Exception:  # noqa: BLE001 - a third-party parser failing on odd input means "no date"
        return None
    return parsed.date() if parsed is not None else None


def parse_session_date(text: str, today: date) -> date | None:
    """The date of a session from a reply to "When was your session?".

    Understands "today", "yesterday", "this morning", "last night", weekdays, "3 days
    ago", "20 November", "Nov 20", "11/20/2026" (month first, as in the US), ISO dates,
    and a sentence that names one of these clearly ("it was yesterday afternoon").
    Relative and year-less dates resolve to the past ("20 November" on 1 November is
    last year's); a date the person spells out in full is returned as given even when it
    is in the future, so the caller can say so instead of "not understood".

    Returns ``None`` for anything else, including bare numbers ("6" is not a date) and
    vague periods ("last week", "recently"), which stand for no single day.
    """
    phrase = _phrase(text)
    if not phrase or len(text) > MAX_ANSWER_CHARS:
        return None
    iso = _ISO_DATE.fullmatch(_normalise(text).strip())
    if iso:
        try:
            return date(int(iso["y"]), int(iso["m"]), int(iso["d"]))
        except ValueError:
            return None
    if re.fullmatch(r"[0-9\s]+", _normalise(text)):
        return None
    if phrase in {_phrase(p) for p in _words()["vague_dates"]}:
        return None

    if _TODAY.fullmatch(phrase) or phrase in {"just now", "now"}:
        return today
    if _YESTERDAY.fullmatch(phrase):
        return _days_ago(today, 1)

    if len(text) <= _MAX_DATE_PHRASE_CHARS:
        parsed = _dateparser_date(clean_answer(text).strip(), today)
        if parsed is not None:
            return parsed
    return find_session_date(text, today)


# --------------------------------------------------------------------------- categories


@cache
def _category_patterns(section: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (category, _phrase_pattern(synonyms)) for category, synonyms in _words()[section].items()
    )


@cache
def _negator_pattern() -> re.Pattern[str]:
    return _phrase_pattern(_words()["negators"])


def _negated(text: str, start: int) -> bool:
    """Whether the word at ``start`` is negated: "not tired", "not really tired".

    Only the same clause counts, so in "no, I'm tired" the "no" answers something else.
    """
    clause = re.split(r"[,.;:!?()\n]", text[:start])[-1]
    before = re.findall(r"[\w']+", clause)[-2:]
    if not before:
        return False
    if _negator_pattern().fullmatch(before[-1]):
        return True
    return (
        len(before) == 2
        and before[1] in _words()["intensifiers"]
        and bool(_negator_pattern().fullmatch(before[0]))
    )


def _categories(text: str, section: str) -> list[str]:
    """Categories named in ``text``, in the order the person named them, without repeats."""
    lowered = _normalise(text)
    first_seen: dict[str, int] = {}
    for category, pattern in _category_patterns(section):
        for match in pattern.finditer(lowered):
            if not _negated(lowered, match.start()):
                first_seen[category] = match.start()
                break
    return sorted(first_seen, key=first_seen.__getitem__)


def parse_trigger_types(text: str) -> list[str]:
    """Trigger categories named in an answer: any of "people", "places", "things", "feelings".

    Synonyms count ("my ex" → people, "the bar" → places). The order is the order in
    which the person mentioned them; an answer naming none gives ``[]`` and is still
    kept verbatim in the journal.
    """
    return _categories(text, "trigger_types")


def parse_halt(text: str) -> list[str]:
    """HALT states named in an answer: any of "hungry", "angry", "lonely", "tired".

    "none", "no", "nope" and similar whole replies give ``[]``; a negated word
    ("not hungry, just tired") is left out.
    """
    if _phrase(text) in {_phrase(p) for p in _words()["halt_none"]}:
        return []
    return _categories(text, "halt")


# --------------------------------------------------------------------------- entry numbers


_ENTRY_NUMBER = re.compile(r"(?<![0-9])[0-9]{1,9}(?![0-9])")


def find_entry_number(text: str) -> int | None:
    """The journal entry number in a request such as "show entry 4", "#4" or "entry four".

    Takes the first number written in digits, else the first number word; ``None`` if
    there is neither.
    """
    normalised = _normalise(text)
    match = _ENTRY_NUMBER.search(normalised)
    if match:
        return int(match.group(0))
    word = _number_word_pattern().search(normalised)
    if word:
        return int(_words()["number_words"][_phrase(word.group(0))])
    return None
