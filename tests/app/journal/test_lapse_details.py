"""Reading a slip's substances and day from how a person tells the bot about it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from bot.journal import lapse_details
from bot.journal.lapse_details import LapseDetails, lapse_date_of, lapse_fields, read_lapse

#: A Wednesday.
TODAY = date(2026, 3, 11)
YESTERDAY = TODAY - timedelta(days=1)
LAST_FRIDAY = date(2026, 3, 6)
LAST_SATURDAY = date(2026, 3, 7)


def substances(text: str) -> tuple[str, ...]:
    return read_lapse(text, TODAY).substances


# --------------------------------------------------------------------------- whole messages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "had a couple drinks last night after work",
            LapseDetails(("alcohol",), YESTERDAY, "last night"),
        ),
        ("i drank", LapseDetails(("alcohol",))),
        ("used on friday", LapseDetails((), LAST_FRIDAY, "on friday")),
        ("picked up again", LapseDetails()),
        (
            "relapsed on oxy 2 days ago",
            LapseDetails(("opioids",), TODAY - timedelta(days=2), "2 days ago"),
        ),
        (
            "smoked a bit of weed this morning",
            LapseDetails(("cannabis",), TODAY, "this morning"),
        ),
        ("did a line at the party sat", LapseDetails(("cocaine",), LAST_SATURDAY, "sat")),
        ("got drunk earlier", LapseDetails(("alcohol",), None, "earlier")),
        (
            "i slipped up. had 3 beers and a couple of xanax bars on fri nite",
            LapseDetails(("alcohol", "benzodiazepines"), LAST_FRIDAY, "on fri nite"),
        ),
        (
            "used h yday, feel awful",
            LapseDetails(("opioids",), YESTERDAY, "yday"),
        ),
        (
            "ive been doing fent again since like two days ago",
            LapseDetails(("opioids",), TODAY - timedelta(days=2), "two days ago"),
        ),
        (
            "took some painkillers earlier today",
            LapseDetails(("opioids",), TODAY, "earlier today"),
        ),
        (
            "rum and coke lastnite smh",
            LapseDetails(("alcohol",), YESTERDAY, "lastnite"),
        ),
    ],
)
def test_realistic_messages(text: str, expected: LapseDetails) -> None:
    assert read_lapse(text, TODAY) == expected


def test_the_words_for_when_are_kept_as_typed() -> None:
    details = read_lapse("I Had A Beer On Friday Night", TODAY)
    assert details.when_text == "On Friday Night"
    assert details.when == LAST_FRIDAY


def test_empty_or_blank_text_has_no_details() -> None:
    assert read_lapse("", TODAY).is_empty
    assert read_lapse("   \n", TODAY) == LapseDetails()
    assert not read_lapse("i drank", TODAY).is_empty


# --------------------------------------------------------------------------- substances


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("had a couple drinks", "alcohol"),
        ("a few beers w my brother", "alcohol"),
        ("half a bottle of wine", "alcohol"),
        ("got drunk at the wedding", "alcohol"),
        ("i drank", "alcohol"),
        ("few pints down the pub", "alcohol"),
        ("vodak shots", "alcohol"),
        ("Drank WHISKEY", "alcohol"),
        ("used h", "opioids"),
        ("copped some dope", "opioids"),
        ("did fent", "opioids"),
        ("took an oxy", "opioids"),
        ("popped a couple percs", "opioids"),
        ("took a xanax", "benzodiazepines"),
        ("some zanax i had left", "benzodiazepines"),
        ("klonipin", "benzodiazepines"),
        ("did some coke", "cocaine"),
        ("did a line", "cocaine"),
        ("smoked crack again", "cocaine"),
        ("smoked weed", "cannabis"),
        ("ate an edible", "cannabis"),
        ("hit a bong", "cannabis"),
        ("had a cig", "nicotine"),
        ("bought a pack of cigarettes", "nicotine"),
        ("did meth", "methamphetamine"),
        ("took an adderall to get through the shift", "amphetamines"),
        ("dropped acid", "hallucinogens"),
        ("bought ket off a mate", "ketamine"),
        ("took mdma at a festival", "mdma"),
    ],
)
def test_everyday_words_name_one_substance(text: str, expected: str) -> None:
    assert substances(text) == (expected,)


@pytest.mark.parametrize(
    "text",
    [
        "took some pills",  # opioid, benzodiazepine, stimulant …: no guess
        "smoked",  # tobacco, cannabis, crack, heroin
        "vaped a lot",  # nicotine or THC
        "did a bump",  # ketamine or cocaine
        "snorted something",
        "got high",
        "got wasted",
        "used",
        "relapsed",
        "smoked dope",  # cannabis in the UK, heroin in the US
        "had a diet coke",
        "had a coke at lunch",
        "drank water all day",
        "had a non-alcoholic beer",  # not alcohol, though it may still matter to them
        "an alcohol free lager",
        "i crossed a line with my sister",
        "after my ketamine session yesterday i felt off",  # treatment, not a slip
        "couldnt bear it anymore",
        "my spirits were low",
    ],
)
def test_ambiguous_or_harmless_words_name_nothing(text: str) -> None:
    assert substances(text) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drinks and a few lines at the party", ("alcohol", "cocaine")),
        ("wine then 2 xanax", ("alcohol", "benzodiazepines")),
        ("smoked weed and had a few beers, then a cig", ("cannabis", "alcohol", "nicotine")),
        ("beer, more beer, then more beers", ("alcohol",)),
    ],
)
def test_several_substances_are_all_kept_in_the_order_named(
    text: str, expected: tuple[str, ...]
) -> None:
    assert substances(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no alcohol, just weed", ("cannabis",)),
        ("didnt drink but smoked weed", ("cannabis",)),
        ("i didn't touch the xanax, only drank", ("alcohol",)),
        ("been off the booze for months then had 3 pints", ("alcohol",)),
        ("almost had a drink but had a cig instead", ("nicotine",)),
        ("never did coke and never will", ()),
    ],
)
def test_negated_substances_are_left_out(text: str, expected: tuple[str, ...]) -> None:
    assert substances(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("did a line of ket", ("ketamine",)),
        ("a line of meth", ("methamphetamine",)),
        ("a line of coke", ("cocaine",)),
        ("did a few lines of ket", ("ketamine",)),
        ("drank lean", ("opioids",)),
        ("rum and coke", ("alcohol",)),
    ],
)
def test_the_longer_phrase_decides(text: str, expected: tuple[str, ...]) -> None:
    assert substances(text) == expected


def test_typographic_apostrophes_and_full_width_letters() -> None:
    assert substances("didn\u2019t drink, did ｃｏｋｅ") == ("cocaine",)


# --------------------------------------------------------------------------- when


@pytest.mark.parametrize(
    ("text", "day", "words"),
    [
        ("last night", YESTERDAY, "last night"),
        ("yesterday", YESTERDAY, "yesterday"),
        ("yesterdy arvo", YESTERDAY, "yesterdy"),
        ("tonite", TODAY, "tonite"),
        ("this am", TODAY, "this am"),
        ("just now", TODAY, "just now"),
        ("an hour ago", TODAY, "an hour ago"),
        ("the day before yesterday", TODAY - timedelta(days=2), "the day before yesterday"),
        ("on friday", LAST_FRIDAY, "on friday"),
        ("friday night", LAST_FRIDAY, "friday night"),
        ("last tues", date(2026, 3, 10), "last tues"),
        ("on weds", date(2026, 3, 4), "on weds"),  # a bare weekday today means a week ago
        ("thurs", date(2026, 3, 5), "thurs"),
        ("sat night", LAST_SATURDAY, "sat night"),
        ("on sun", date(2026, 3, 8), "on sun"),
        ("3 days ago", TODAY - timedelta(days=3), "3 days ago"),
        ("on 2026-03-02", date(2026, 3, 2), "2026-03-02"),
    ],
)
def test_clear_days(text: str, day: date, words: str) -> None:
    details = read_lapse(f"i drank {text}", TODAY)
    assert (details.when, details.when_text) == (day, words)


@pytest.mark.parametrize(
    "phrase",
    [
        "last week",
        "recently",
        "earlier",
        "the other night",
        "a couple days ago",
        "over the weekend",
        "a few weeks ago",
    ],
)
def test_vague_periods_keep_the_words_but_no_day(phrase: str) -> None:
    details = read_lapse(f"used {phrase}", TODAY)
    assert details.when is None
    assert details.when_text == phrase


@pytest.mark.parametrize(
    "text",
    [
        "we sat outside and drank",  # the verb
        "i just sat there and drank",
        "drank in the sun",
        "had a drink, wed been arguing",
        "drank a lot",
    ],
)
def test_everyday_words_are_not_weekdays(text: str) -> None:
    details = read_lapse(text, TODAY)
    assert (details.when, details.when_text) == (None, None)


def test_two_different_days_give_no_day_but_keep_both_phrases() -> None:
    details = read_lapse("had a drink yesterday and again this morning", TODAY)
    assert details.when is None
    assert details.when_text == "yesterday, this morning"


def test_two_phrases_for_the_same_day_give_that_day() -> None:
    details = read_lapse("yesterday, last night really, i had wine", TODAY)
    assert details.when == YESTERDAY
    assert details.when_text == "yesterday, last night"


def test_a_clear_day_next_to_a_vague_period_gives_no_day() -> None:
    details = read_lapse("last week, on friday i think", TODAY)
    assert details.when is None
    assert details.when_text == "last week, on friday"


def test_a_future_day_is_not_taken_as_the_day_of_a_slip() -> None:
    details = read_lapse("used fent 2026-03-20", TODAY)
    assert details.when is None
    assert details.when_text == "2026-03-20"


def test_earlier_today_is_one_phrase_not_a_vague_earlier() -> None:
    details = read_lapse("drank earlier today", TODAY)
    assert (details.when, details.when_text) == (TODAY, "earlier today")


# --------------------------------------------------------------------------- journal fields


def test_lapse_fields_hold_only_what_was_found() -> None:
    full = lapse_fields(read_lapse("relapsed on oxy and xanax last night", TODAY))
    assert full == {
        "substances": ["opioids", "benzodiazepines"],
        "lapse_date": "2026-03-10",
        "lapse_when": "last night",
    }
    assert lapse_fields(read_lapse("used last week", TODAY)) == {"lapse_when": "last week"}
    assert lapse_fields(read_lapse("picked up again", TODAY)) == {}


def test_lapse_date_of_reads_the_stored_day_and_ignores_anything_else() -> None:
    assert lapse_date_of({"lapse_date": "2026-03-10"}) == YESTERDAY
    assert lapse_date_of({"lapse_date": "last night"}) is None
    assert lapse_date_of({"lapse_date": 20260310}) is None
    assert lapse_date_of({}) is None


def test_labels() -> None:
    assert lapse_details.substance_label("mdma") == "MDMA"
    assert lapse_details.substance_label("alcohol") == "alcohol"
    assert lapse_details.substance_label("something new") == "something new"
    assert "alcohol" in lapse_details.known_substances()


# --------------------------------------------------------------------------- the data file


def test_every_word_is_quoted_text_and_names_one_substance() -> None:
    with lapse_details.SUBSTANCES_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    owner: dict[str, str] = {}
    for name, spec in data["substances"].items():
        assert isinstance(spec["label"], str) and spec["label"], name
        for word in spec["words"]:
            assert isinstance(word, str), (name, word)
            assert word == word.lower().strip(), (name, word)
            assert owner.setdefault(word, name) == name, f"{word!r} is in {owner[word]} and {name}"
    assert not set(owner) & set(data["not_substances"])
    for word in data["when"]["also_words"]:
        assert word in data["when"]["weekdays"]


def test_a_bare_yes_or_no_in_the_data_file_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "substances.yml"
    broken.write_text("substances:\n  alcohol:\n    label: alcohol\n    words: [no]\n")
    monkeypatch.setattr(lapse_details, "SUBSTANCES_FILE", broken)
    lapse_details._data.cache_clear()
    try:
        with pytest.raises(TypeError, match="quoted text"):
            lapse_details._data()
    finally:
        lapse_details._data.cache_clear()
