"""Validated measures (PHQ-9, GAD-7, AUDIT-C): their published wording, and exact scoring.

The care team schedules these for a patient and the chat asks them as a form with buttons. A
validated measure means something only when asked and scored exactly as published, so the
instruments are data (``bot/content/measures.yml``, where a clinician can check every word
against the published form) and this module is the one place that turns answers into a
score. It reads the file once and checks it then (:func:`load_measures`): a missing item, a
score out of place or a gap between severity bands would otherwise give patients and their
care team a wrong number without anyone noticing.

- :func:`score` adds up a full set of answers and reads the total's band. PHQ-9 item 9
  (thoughts of death or self-harm) is reported on its own (:attr:`Score.safety_item_positive`)
  whenever it is above 0, since a low total must never hide it. AUDIT-C is reported against
  both published cut-offs, as the chat does not ask a patient's sex.
- :func:`answer_score` reads one reply to one question: a button's title or payload, or a
  number typed instead, and gives ``None`` for anything else, so the form can ask again kindly
  rather than guess.

Pure functions: no database, no Rasa; the standard library and PyYAML only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.content import FOLDER, read_yaml

__all__ = [
    "ITEM_COUNTS",
    "MEASURES_FILE",
    "Band",
    "Difficulty",
    "Item",
    "Measure",
    "MeasureDataError",
    "Option",
    "Score",
    "answer_score",
    "load_measures",
    "measure",
    "measures",
    "score",
]

MEASURES_FILE = FOLDER / "measures.yml"

#: The measures this module knows, and how many items each has as published.
ITEM_COUNTS: Mapping[str, int] = MappingProxyType({"phq9": 9, "gad7": 7, "audit_c": 3})

#: How a number typed instead of tapping a button is read (see ``measures.yml``).
_TYPED_NUMBER_READINGS = ("score", "drinks", "none")
#: The two published AUDIT-C cut-offs, by the sex they apply to.
_CUTOFF_KEYS = ("women", "men")

_MEASURE_KEYS = frozenset(
    {"name", "short", "source", "terms", "stem", "options", "items", "bands"}
    | {"difficulty", "screen_cutoffs"}
)
_ITEM_KEYS = frozenset({"text", "options", "safety_item", "typed_number"})
_OPTION_KEYS = frozenset({"text", "score", "drinks"})
_BAND_KEYS = frozenset({"from", "to", "label"})

_DASH = re.compile(r"\s*[-\u2010-\u2015\u2212]\s*")
_WHOLE_NUMBER = re.compile(r"\d{1,6}")


class MeasureDataError(ValueError):
    """``measures.yml`` does not hold the instruments as published: it is refused whole."""


# --------------------------------------------------------------------------- the instruments


@dataclass(frozen=True)
class Option:
    """One answer to an item: its exact wording, its score, and its button's payload."""

    text: str
    score: int
    #: What its button sends: the measure, the item's number and the score
    #: (``"phq9.9.0"``), so that tapping a button left from an earlier question is not taken
    #: as an answer to the one being asked.
    payload: str
    #: The numbers of drinks it stands for (``(3, 4)``; ``(10, None)`` for "10 or more"),
    #: where a typed number is a count of drinks (AUDIT-C Q2).
    drinks: tuple[int, int | None] | None = None

    def holds(self, count: int) -> bool:
        """Whether ``count`` drinks is this answer."""
        if self.drinks is None:
            return False
        low, high = self.drinks
        return low <= count and (high is None or count <= high)


@dataclass(frozen=True)
class Item:
    """One question of a measure, in its published wording."""

    #: Its number on the published form, from 1.
    number: int
    text: str
    options: tuple[Option, ...]
    #: An answer above 0 must reach the care team whatever the total (PHQ-9 item 9).
    safety_item: bool = False
    #: How a typed number is read: ``score``, ``drinks`` or ``none`` (see ``measures.yml``).
    typed_number: str = "score"

    @property
    def scores(self) -> tuple[int, ...]:
        """The scores its answers give, lowest first."""
        return tuple(option.score for option in self.options)

    @property
    def max_score(self) -> int:
        return max(self.scores)


@dataclass(frozen=True)
class Band:
    """What a total from ``low`` to ``high`` (both included) means."""

    low: int
    high: int
    label: str

    def holds(self, total: int) -> bool:
        return self.low <= total <= self.high


@dataclass(frozen=True)
class Difficulty:
    """PHQ-9's closing question on how much the problems get in the way: asked, not scored."""

    text: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Measure:
    """A validated measure: its citation, terms of use, items and severity bands."""

    id: str
    name: str
    #: How the chat and the dashboard name it ("PHQ-9").
    short: str
    source: str
    terms: str
    #: The question each item completes; ``None`` where the items are whole questions.
    stem: str | None
    items: tuple[Item, ...]
    #: From 0 to :attr:`max_total`, in order, with no gap or overlap.
    bands: tuple[Band, ...]
    difficulty: Difficulty | None = None
    #: AUDIT-C's published cut-offs for a positive screen (3 for women, 4 for men).
    cutoff_women: int | None = None
    cutoff_men: int | None = None

    @property
    def max_total(self) -> int:
        return sum(item.max_score for item in self.items)

    def band_of(self, total: int) -> Band:
        """The band a total falls in; ``ValueError`` for a total the measure cannot give."""
        for band in self.bands:
            if band.holds(total):
                return band
        raise ValueError(f"{self.short}: {total} is not a total from 0 to {self.max_total}")


@dataclass(frozen=True)
class Score:
    """A full set of answers to a measure, added up and read."""

    measure_id: str
    answers: tuple[int, ...]
    total: int
    max_total: int
    #: The label of the total's band ("moderate", "positive (≥3)").
    band: str
    #: A safety item (PHQ-9 item 9) was answered above 0, whatever the total.
    safety_item_positive: bool
    #: AUDIT-C only (``None`` otherwise): the total reaches the cut-off for women (≥3) and
    #: for men (≥4). Both are reported because the chat does not know the patient's sex.
    screen_positive_women: bool | None = None
    screen_positive_men: bool | None = None


# --------------------------------------------------------------------------- scoring


def score(measure_id: str, answers: Sequence[int]) -> Score:
    """The score of one answer per item, in the items' order.

    Refuses (``ValueError``) a wrong number of answers or a score no answer to that item
    gives: a partial or mistyped set must not be stored as if it were a result.
    """
    instrument = measure(measure_id)
    if isinstance(answers, (str, bytes)) or len(answers) != len(instrument.items):
        count = "text" if isinstance(answers, (str, bytes)) else len(answers)
        raise ValueError(
            f"{instrument.short} takes {len(instrument.items)} answers, one per item; got {count}"
        )
    for item, answer in zip(instrument.items, answers, strict=True):
        if isinstance(answer, bool) or not isinstance(answer, int) or answer not in item.scores:
            raise ValueError(
                f"{instrument.short} item {item.number}: {answer!r} is not a score of its "
                f"answers ({_score_range(item)})"
            )
    total = sum(answers)
    return Score(
        measure_id=instrument.id,
        answers=tuple(answers),
        total=total,
        max_total=instrument.max_total,
        band=instrument.band_of(total).label,
        safety_item_positive=any(
            item.safety_item and answer > 0
            for item, answer in zip(instrument.items, answers, strict=True)
        ),
        screen_positive_women=None
        if instrument.cutoff_women is None
        else total >= instrument.cutoff_women,
        screen_positive_men=None
        if instrument.cutoff_men is None
        else total >= instrument.cutoff_men,
    )


def answer_score(measure_id: str, item_index: int, text: str | None) -> int | None:
    """The score of a reply to item ``item_index`` (from 0), or ``None`` if it is no answer.

    A reply is an answer when it is one of the item's answers as its button reads or sends it
    (case, spacing and the kind of dash aside: "more than half  the days", "2–4 times a
    month"), or a typed number where the item reads one (``typed_number`` in
    ``measures.yml``): a score on the PHQ-9 and GAD-7, a number of drinks for AUDIT-C Q2.
    Anything else, including a button of another question, gives ``None`` so that the form
    asks again instead of storing a guess.
    """
    instrument = measure(measure_id)
    if not 0 <= item_index < len(instrument.items):
        raise IndexError(f"{instrument.short} has items 0 to {len(instrument.items) - 1}")
    if not isinstance(text, str):
        return None
    item = instrument.items[item_index]
    reply = _normal(text)
    for option in item.options:
        if reply in (_normal(option.text), option.payload):
            return option.score
    if not _WHOLE_NUMBER.fullmatch(reply):
        return None
    number = int(reply)
    if item.typed_number == "score":
        return number if number in item.scores else None
    if item.typed_number == "drinks":
        return next((option.score for option in item.options if option.holds(number)), None)
    return None


def _normal(text: str) -> str:
    """A reply or an answer's wording with case, spacing, dashes and a closing stop ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _DASH.sub("-", folded)
    return " ".join(folded.split()).rstrip(".!").rstrip()


def _score_range(item: Item) -> str:
    return f"{min(item.scores)} to {item.max_score}"


# --------------------------------------------------------------------------- loading


def measures() -> Mapping[str, Measure]:
    """Every measure, by id, as read (once) from ``measures.yml``."""
    return _loaded()


def measure(measure_id: str) -> Measure:
    """The measure ``measure_id``; ``KeyError`` naming the known ones for any other."""
    try:
        return _loaded()[measure_id]
    except KeyError:
        raise KeyError(
            f"no measure {measure_id!r}; the measures are {', '.join(_loaded())}"
        ) from None


@cache
def _loaded() -> Mapping[str, Measure]:
    return load_measures(MEASURES_FILE)


def load_measures(path: Path) -> Mapping[str, Measure]:
    """The measures in a YAML file, checked against what each instrument must be.

    Raises :class:`MeasureDataError` naming the file, the measure and what is wrong: a
    measure this module does not know or one missing, an unknown key (a misspelt
    ``safety_item`` would otherwise be dropped in silence), an item count other than the
    published one, answers not scored 0, 1, 2 … in order, or bands that do not cover every
    total from 0 to the highest exactly once.
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise MeasureDataError(f"{path}: must hold a mapping of measures")
    unknown = sorted(set(data) - set(ITEM_COUNTS), key=str)
    missing = sorted(set(ITEM_COUNTS) - set(data))
    if unknown or missing:
        raise MeasureDataError(
            f"{path}: must hold exactly the measures {', '.join(ITEM_COUNTS)}"
            + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    return MappingProxyType(
        {measure_id: _measure(measure_id, data[measure_id], path) for measure_id in ITEM_COUNTS}
    )


def _measure(measure_id: str, raw: Any, path: Path) -> Measure:
    where = f"{path}: {measure_id}"
    _check_keys(raw, _MEASURE_KEYS, where)
    shared = raw.get("options")
    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or len(raw_items) != ITEM_COUNTS[measure_id]:
        count = len(raw_items) if isinstance(raw_items, list) else "no list of"
        raise MeasureDataError(f"{where}: must have {ITEM_COUNTS[measure_id]} items, has {count}")
    items = tuple(
        _item(measure_id, number, raw_item, shared, f"{where} item {number}")
        for number, raw_item in enumerate(raw_items, start=1)
    )
    stem = raw.get("stem")
    max_total = sum(item.max_score for item in items)
    return Measure(
        id=measure_id,
        name=_text(raw.get("name"), f"{where} name"),
        short=_text(raw.get("short"), f"{where} short"),
        source=_text(raw.get("source"), f"{where} source"),
        terms=_text(raw.get("terms"), f"{where} terms"),
        stem=None if stem is None else _text(stem, f"{where} stem"),
        items=items,
        bands=_bands(raw.get("bands"), max_total, where),
        difficulty=_difficulty(raw.get("difficulty"), where),
        **_cutoffs(raw.get("screen_cutoffs"), max_total, where),
    )


def _item(measure_id: str, number: int, raw: Any, shared: Any, where: str) -> Item:
    _check_keys(raw, _ITEM_KEYS, where)
    typed_number = raw.get("typed_number", "score")
    if typed_number not in _TYPED_NUMBER_READINGS:
        raise MeasureDataError(
            f"{where}: typed_number must be one of {', '.join(_TYPED_NUMBER_READINGS)}"
        )
    safety_item = raw.get("safety_item", False)
    if not isinstance(safety_item, bool):
        raise MeasureDataError(f"{where}: safety_item must be true or false")
    raw_options = raw.get("options", shared)
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        raise MeasureDataError(f"{where}: needs a list of answers, its own or the measure's")
    options = tuple(
        _option(raw_option, f"{measure_id}.{number}", f"{where} answer {index}")
        for index, raw_option in enumerate(raw_options, start=1)
    )
    scores = [option.score for option in options]
    if scores != list(range(len(options))):
        raise MeasureDataError(f"{where}: answers must score 0, 1, 2 … in order; got {scores}")
    wordings = [_normal(option.text) for option in options]
    if len(set(wordings)) != len(wordings):
        raise MeasureDataError(f"{where}: two answers read the same")
    if typed_number == "drinks":
        _check_drinks(options, where)
    elif any(option.drinks is not None for option in options):
        raise MeasureDataError(f"{where}: drinks are read only with typed_number: drinks")
    return Item(
        number=number,
        text=_text(raw.get("text"), f"{where} text"),
        options=options,
        safety_item=safety_item,
        typed_number=typed_number,
    )


def _option(raw: Any, payload_prefix: str, where: str) -> Option:
    _check_keys(raw, _OPTION_KEYS, where)
    value = raw.get("score")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MeasureDataError(f"{where}: score must be a whole number, not {value!r}")
    drinks = raw.get("drinks")
    if drinks is not None:
        if (
            not isinstance(drinks, list)
            or len(drinks) != 2
            or not _is_count(drinks[0])
            or not (drinks[1] is None or _is_count(drinks[1]))
            or (drinks[1] is not None and drinks[1] < drinks[0])
        ):
            raise MeasureDataError(f"{where}: drinks must be [lowest, highest or null]")
        drinks = (drinks[0], drinks[1])
    return Option(
        text=_text(raw.get("text"), f"{where} text"),
        score=value,
        payload=f"{payload_prefix}.{value}",
        drinks=drinks,
    )


def _check_drinks(options: tuple[Option, ...], where: str) -> None:
    """Each answer's drinks follow on from the last's, from 1 to an open-ended last answer."""
    expected = 1
    for index, option in enumerate(options):
        if option.drinks is None or option.drinks[0] != expected:
            raise MeasureDataError(
                f"{where}: with typed_number: drinks, answer {index + 1} must give drinks "
                f"from {expected}"
            )
        high = option.drinks[1]
        last = index == len(options) - 1
        if (high is None) != last:
            raise MeasureDataError(f"{where}: only the last answer's drinks are open-ended")
        if high is not None:
            expected = high + 1


def _bands(raw: Any, max_total: int, where: str) -> tuple[Band, ...]:
    """Bands in order that give every total from 0 to ``max_total`` exactly one label."""
    if not isinstance(raw, list) or not raw:
        raise MeasureDataError(f"{where}: needs a list of bands")
    bands = []
    expected = 0
    for index, raw_band in enumerate(raw, start=1):
        at = f"{where} band {index}"
        _check_keys(raw_band, _BAND_KEYS, at)
        low, high = raw_band.get("from"), raw_band.get("to")
        if not _is_count(low) or not _is_count(high) or high < low:
            raise MeasureDataError(f"{at}: from and to must be whole numbers, from ≤ to")
        if low > expected:
            raise MeasureDataError(f"{at}: a gap, no band for totals {expected} to {low - 1}")
        if low < expected:
            raise MeasureDataError(
                f"{at}: overlaps the band before it at totals {low} to {expected - 1}"
            )
        bands.append(Band(low, high, _text(raw_band.get("label"), f"{at} label")))
        expected = high + 1
    if expected - 1 != max_total:
        raise MeasureDataError(
            f"{where}: bands must end at the highest total, {max_total}; they end at {expected - 1}"
        )
    return tuple(bands)


def _difficulty(raw: Any, where: str) -> Difficulty | None:
    if raw is None:
        return None
    _check_keys(raw, frozenset({"text", "options"}), f"{where} difficulty")
    options = raw.get("options")
    if not isinstance(options, list) or not options:
        raise MeasureDataError(f"{where} difficulty: needs a list of answers")
    return Difficulty(
        text=_text(raw.get("text"), f"{where} difficulty text"),
        options=tuple(_text(option, f"{where} difficulty answer") for option in options),
    )


def _cutoffs(raw: Any, max_total: int, where: str) -> dict[str, int | None]:
    if raw is None:
        return {"cutoff_women": None, "cutoff_men": None}
    if not isinstance(raw, dict) or set(raw) != set(_CUTOFF_KEYS):
        raise MeasureDataError(f"{where}: screen_cutoffs must give women and men")
    for key in _CUTOFF_KEYS:
        if not _is_count(raw[key]) or not 1 <= raw[key] <= max_total:
            raise MeasureDataError(f"{where}: screen_cutoffs {key} must be from 1 to {max_total}")
    return {"cutoff_women": raw["women"], "cutoff_men": raw["men"]}


def _check_keys(raw: Any, allowed: frozenset[str], where: str) -> None:
    if not isinstance(raw, dict):
        raise MeasureDataError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - allowed, key=str)
    if unknown:
        raise MeasureDataError(f"{where}: unknown key {', '.join(map(str, unknown))}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MeasureDataError(f"{where}: must be quoted text, not {value!r}")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
