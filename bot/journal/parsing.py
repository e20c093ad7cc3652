"""Turning what people type into the journal's values: ratings, dates, skips and categories.

These functions sit between the chat and the journal, so they follow two rules:

- Free text is stored as the person wrote it. :func:`clean_answer` only removes control
  characters that no keyboard produces on purpose (they break logs, exports and terminals).
- When an answer is ambiguous, the parser says "not understood" and the bot asks again,
  rather than guessing a number or a date that then sits in a clinical record looking certain.

The word lists (skip phrases, number words, rating words and what stands around a rating,
date fillers and spellings, trigger and HALT synonyms) live in ``bot/content/answer_words.yml``
so they can be extended without touching code.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from bot.content import FOLDER, load_mapping

SKIPPED = "__skipped__"
"""Slot value meaning "the person chose to skip this question"; never written to the journal."""

MAX_ANSWER_CHARS = 4000
"""Longest free-text answer kept in one journal field."""

MAX_SKIP_WORDS = 4
"""A skip reply is short: "skip", "next question", "I'd rather not". Longer text is an answer."""

WORDS_FILE = FOLDER / "answer_words.yml"

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
    r"(?:\s*(?:/|out\s+of\b|outta\b|outa\b|of\b|on\b)\s*(?P<scale>[0-9]+(?:\.0+)?))?"
)

# Digit strings longer than this are out of range without converting them; Python refuses
# to convert very long digit strings at all.
_MAX_RATING_DIGITS = 6


_ISH = re.compile(r"(?<=[a-z0-9])-?ish(?![\w'])")


def _with_digits(text: str) -> str:
    """The reply with number words as digits and "-ish" apart: "sixish" → " 6  ish"."""
    normalised = _ISH.sub(" ish", _normalise(text))
    return _number_word_pattern().sub(
        lambda m: f" {_words()['number_words'][_phrase(m.group(0))]} ", normalised
    )


@cache
def _unit_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    units = sorted({u.casefold() for u in _words()["not_rating_units"]}, key=len, reverse=True)
    after = "|".join(r"\s+".join(map(re.escape, u.split())) for u in units)
    before = _phrase_pattern(_words()["not_rating_before"]).pattern
    return (
        # Glued or not: "5pm", "4 hours", "3rd".
        re.compile(rf"(?:st|nd|rd|th|\s*(?:{after}))(?![\w'])"),
        re.compile(rf"(?:{before})\s*$"),
    )


def _not_a_rating(text: str, match: re.Match[str]) -> bool:
    """Whether a number in a reply counts something else: "slept 4 hours", "day 30", "the 3rd".

    A number with a scale ("6/10") is always a rating.
    """
    if match.group("scale") is not None:
        return False
    after, before = _unit_patterns()
    return bool(after.match(text, match.end()) or before.search(text[: match.start()]))


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
    numbers = _with_digits(text)
    numbers = _negative_word_pattern().sub(" -", numbers)

    values: set[int] = set()
    for match in _NUMBER.finditer(numbers):
        if _not_a_rating(numbers, match):
            continue
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


# Two numbers for one rating: "6-7", "6 or 7", "between 5 and 7", "a 6 maybe 7" (the "maybe"
# is a filler, so it reads "6 7"), "6, 7".
_RANGE = re.compile(
    r"^(?:an?\s+)?(?:between\s+)?(?:an?\s+)?(?P<a>[0-9]{1,2})(?:\s*ish)?"
    r"(?:\s*(?:-|–|to|or|and|/|,)\s*|\s+)"
    r"(?:an?\s+)?(?P<b>[0-9]{1,2})(?:\s*ish)?$"
)


@cache
def _rating_filler_pattern() -> re.Pattern[str]:
    return _phrase_pattern(_words()["rating_fillers"])


def _rating_core(text: str) -> str:
    """The reply without words that do not change a rating ("still like 6-7" → "6-7")."""
    without = _rating_filler_pattern().sub(" ", _with_digits(text))
    # A decimal stays one token, so "6.5" is never read as the range "6 5".
    return " ".join(
        re.findall(r"[0-9]+(?:[.,][0-9]+)?|[^\W\d_]+(?:[-'][^\W\d_]+)*|[-–/,]", without)
    )


#: Fillers taken off each end of a rating reply at most ("um like honestly low tbh lol").
_MAX_EDGE_FILLERS = 4


def _rating_edges(text: str) -> list[str]:
    """The reply with fillers taken off its ends one by one, every step kept: "like no craving
    tbh" gives "no craving tbh", "like no craving", "no craving", "no" … Inside a phrase (and
    at its end: "no craving") a filler word is part of it, so each step is a candidate."""
    one = _rating_filler_pattern().pattern
    lead, trail = re.compile(rf"^\W*(?:{one})\W*"), re.compile(rf"\W*(?:{one})\W*$")
    found: list[str] = []
    start = _normalise(text).strip()
    for _ in range(_MAX_EDGE_FILLERS):
        end = start
        for _ in range(_MAX_EDGE_FILLERS):
            found.append(end)
            stripped = trail.sub("", end)
            if stripped == end:
                break
            end = stripped
        stripped = lead.sub("", start)
        if stripped == start:
            break
        start = stripped
    return found


@cache
def _rating_modifiers() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    amplifiers = _phrase_pattern(_words()["rating_amplifiers"]).pattern
    after = _phrase_pattern(_words()["rating_amplifiers_after"]).pattern
    negations = _phrase_pattern(_words()["rating_negations"]).pattern
    return (
        re.compile(rf"^(?:{amplifiers})\s+(?P<rest>.+)$"),
        re.compile(rf"^(?P<rest>.+?)\s+(?:{after})$"),
        re.compile(rf"^(?:{negations})\s+(?P<rest>.+)$"),
    )


def _word_value(phrase: str, scale: str, depth: int = 0) -> int | None:
    """The number a rating phrase stands for on a scale, or ``None``.

    A phrase of the list has its own value; otherwise it is read as the list's word with "-ish"
    (the word), stretched letters ("sooo baaad"), an amplifier ("really high", "bad af": a
    point further from the middle) or a negation ("not too bad": the other side of the middle).
    """
    words = {_phrase(k): int(v) for k, v in _words()["rating_words"][scale].items()}
    if phrase in words:
        return words[phrase]
    if depth > 3 or not phrase:
        return None
    candidates = [re.sub(r"(?<=[a-z])[ -]?ish$", "", phrase)]
    candidates += [re.sub(r"(.)\1{2,}", r"\1\1", phrase), re.sub(r"(.)\1{2,}", r"\1", phrase)]
    for candidate in candidates:
        if candidate != phrase and (value := _word_value(candidate, scale, depth + 1)) is not None:
            return value
    amplified, amplified_after, negated = _rating_modifiers()
    for pattern in (amplified, amplified_after):
        match = pattern.match(phrase)
        if match and (value := _word_value(match["rest"], scale, depth + 1)) is not None:
            return value if value == 5 else min(10, value + 1) if value > 5 else max(0, value - 1)
    match = negated.match(phrase)
    if match and (value := _word_value(match["rest"], scale, depth + 1)) is not None:
        if value == 5:
            return None
        if scale == "mood":
            return 4 if value > 5 else 6
        return 3 if value > 5 else 5
    return None


def read_rating_words(text: str, scale: str) -> RatingRange | RatingWord | None:
    """A rating :func:`parse_rating` cannot read as one number, read as people give them.

    "still like 6-7", "between 5 and 7" and "like a 6 maybe 7" are a :class:`RatingRange` (the
    bot asks which); "meh", "pretty bad", "through the roof", "low-ish", "not too bad" a
    :class:`RatingWord` on the given scale ("mood" or "intensity": "low" is a 3 for a mood and
    a 2 for a craving), which the bot proposes for the person to confirm. Anything else is
    ``None``.
    """
    core = _rating_core(text)
    match = _RANGE.match(core)
    if match:
        low, high = sorted((int(match["a"]), int(match["b"])))
        if low != high and 0 <= low and high <= 10:
            return RatingRange(low, high)
    for phrase in [*(_phrase(edged) for edged in _rating_edges(text)), _phrase(core)]:
        value = _word_value(phrase, scale)
        if value is not None:
            return RatingWord(value)
    return None


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
_YESTERDAY = re.compile(r"(?<![\w'])(?:yesterday|last\s+night|last\s+evening)(?!\w)")
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
        # A month alone ("may") or a misread ordinal ("3rd" as March) is no day: without a day,
        # dateparser would fill in today's, a date the person never gave.
        "REQUIRE_PARTS": ["day"],
    }
    try:
        parsed = dateparser.parse(text, languages=["en"], settings=settings)
    except Exception:  # noqa: BLE001 - a third-party parser failing on odd input means "no date"
        return None
    return parsed.date() if parsed is not None else None


#: Shortest typo of a weekday or "yesterday" read by similarity ("wensday", "yesturday").
_MIN_FUZZY_CHARS = 5
#: How close such a typo must be (difflib's ratio) to the word it stands for.
_FUZZY_CUTOFF = 0.8

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CLOCK_TIME = re.compile(
    r"(?<![\w'])(?:at|around|about|by|@)?\s*[0-9]{1,2}(?:[:.][0-9]{2})?\s*(?:am|pm|a\.m\.?|p\.m\.?)"
    r"(?![\w'])|(?<![\w'])(?:at|around|@)\s+[0-9]{1,2}(?:[:.][0-9]{2})?(?![\w'/.:-])"
)
_HOURS_AGO = re.compile(
    r"(?P<n>an?|one|[0-9]{1,3}|few|a\s+few|couple(?:\s+of)?|a\s+couple(?:\s+of)?|some)\s+"
    r"(?P<unit>hours?|hrs?|mins?|minutes?)\s+ago"
)
_ORDINAL_DAY = re.compile(
    r"(?:on\s+)?(?:(?P<weekday>" + "|".join(_WEEKDAYS) + r")\s+)?(?:the\s+)?"
    r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)"
)


@cache
def _date_spellings() -> dict[str, str]:
    return {
        _phrase(spelling): word
        for word, spellings in _words()["date_spellings"].items()
        for spelling in spellings
    }


def _date_word(token: str) -> str:
    """A word of a date answer spelled as meant: "thurs" → "thursday", "wensday" → "wednesday".

    Typos are read by similarity to the weekdays and "yesterday" only, starting with the same
    letter, never for plurals ("mondays are hard" names no day).
    """
    known = _date_spellings().get(token)
    if known is not None:
        return known
    targets = [*_WEEKDAYS, "yesterday"]
    if len(token) < _MIN_FUZZY_CHARS or token in targets or token.rstrip("s") in targets:
        return token
    same_letter = [word for word in targets if word[0] == token[0]]
    close = difflib.get_close_matches(token, same_letter, n=1, cutoff=_FUZZY_CUTOFF)
    return close[0] if close else token


@cache
def _date_filler_pattern() -> re.Pattern[str]:
    fillers = sorted({_normalise(f) for f in _words()["date_fillers"]}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, f.split())) for f in fillers)
    edge = r"[\s,.!;:~()\-]*"
    return re.compile(
        rf"^{edge}(?:(?:{body})(?![\w']){edge})+|{edge}(?:(?<![\w'])(?:{body}){edge})+$"
    )


def _date_core(text: str) -> str:
    """A date answer reduced to its date: words spelled out, clock times and fillers taken off.

    "hey it was tues afternoon i think" → "tuesday afternoon"; "like 3 days ago lol" →
    "3 days ago"; "last thurs at 3pm" → "last thursday".
    """
    spelled = _TOKEN.sub(lambda m: _date_word(m.group(0)), _normalise(clean_answer(text)))
    without_times = _CLOCK_TIME.sub(" ", spelled)
    core = " ".join(without_times.split())
    previous = None
    while core != previous:
        previous, core = core, _date_filler_pattern().sub("", core).strip()
    return core


def _ordinal_day(match: re.Match[str], today: date) -> date | None:
    """The day of "the 3rd" / "on the 21st": this month's, or last month's if still to come.

    With a weekday ("monday the 3rd") the two must agree, else the answer is not understood.
    """
    day = int(match["day"])
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate <= today:
            weekday = match["weekday"]
            if weekday is not None and _WEEKDAYS.index(weekday) != candidate.weekday():
                return None
            return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def parse_session_date(text: str, today: date) -> date | None:
    """The date of a session from a reply to "When was your session?".

    Understands "today", "yesterday", "this morning", "last night", weekdays ("last thurs",
    "on sunday", "monday afternoon", typos such as "wensday"), "3 days ago", "a week ago
    today", "an hour ago", "the 3rd", "20 November", "Nov 20", "dec 2", "11/20/2026" (month
    first, as in the US), ISO dates, with greetings, hedges and times around them ("hey it
    was tuesday", "sunday i think", "it was yesterday lol", "tues at 3pm"), and a sentence
    that names one of these clearly ("it was yesterday afternoon"). Relative and year-less
    dates resolve to the past ("20 November" on 1 November is last year's); a date the person
    spells out in full is returned as given even when it is in the future, so the caller can
    say so instead of "not understood".

    Returns ``None`` for anything else, including bare numbers ("6" is not a date), a month
    alone, two different days ("monday or tuesday") and vague periods ("last week",
    "recently", "the other day"), which stand for no single day.
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
    core = _date_core(text)
    core_phrase = _phrase(core)
    if not core_phrase or re.fullmatch(r"[0-9\s]+", core):
        return None
    if core_phrase in {_phrase(p) for p in _words()["vague_dates"]}:
        return None

    if _TODAY.fullmatch(core_phrase) or core_phrase in {"just now", "now"}:
        return today
    if _YESTERDAY.fullmatch(core_phrase):
        return _days_ago(today, 1)
    hours = _HOURS_AGO.fullmatch(core_phrase)
    if hours:
        # "an hour ago", "20 mins ago" are today; "48 hours ago" is two days back.
        count = int(hours["n"]) if hours["n"].isdigit() else 0
        return _days_ago(today, count // 24 if hours["unit"].startswith(("h", "H")) else 0)
    ordinal = _ORDINAL_DAY.fullmatch(core_phrase)
    if ordinal:
        return _ordinal_day(ordinal, today)

    if len(core) <= _MAX_DATE_PHRASE_CHARS:
        parsed = _dateparser_date(core, today)
        if parsed is not None:
            return parsed
    return find_session_date(core, today) or find_session_date(text, today)


def approximate_session_date(text: str, today: date) -> date | None:
    """A rough day for a vague answer that still has one clear middle: "a few days ago" (three
    days back), "a couple of days ago" and "the other day" (two), "over the weekend" (the last
    Saturday before today). The numbers of days are in answer_words.yml
    (``approximate_dates``). None for the rest, "last month" or "recently" above all, which
    stand for no day at all.

    The caller says the day is approximate ("around Thursday, 3 December"): a person who
    remembers only roughly still gets their reflection tied to its session, instead of being
    asked the same question until they give up.
    """
    core = _phrase(_date_core(text))
    if not core or len(text) > MAX_ANSWER_CHARS:
        return None
    days = {_phrase(p): int(n) for p, n in _words()["approximate_dates"].items()}
    if core in days:
        return _days_ago(today, days[core])
    if core in {_phrase(p) for p in _words()["weekend_dates"]}:
        return _last_weekday(today, 5)
    return None


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
