"""Properties of the journal's answer parsers (bot/journal/parsing.py), beyond test_parsing.py.

test_parsing.py already holds examples and the basic properties (every 0-10 number in every
form round-trips, out-of-range numbers raise, free text is cleaned idempotently, past-
preferring phrases never give a future date). These are the rules around them: what the
surrounding words, the writing system, the scale and repetition do to a rating; exact dates
for every phrase the date parsers promise to understand; and the invariants of the
category parsers.
"""

from __future__ import annotations

import itertools
import unicodedata
from datetime import date, timedelta
from functools import cache

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.journal.parsing import (
    MAX_SKIP_WORDS,
    WORDS_FILE,
    RatingOutOfRange,
    find_entry_number,
    find_session_date,
    is_skip,
    parse_halt,
    parse_rating,
    parse_session_date,
    parse_trigger_types,
    read_rating_words,
)


@cache
def words() -> dict:
    return yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8"))


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RATINGS = st.integers(min_value=0, max_value=10)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
#: Words that carry no number, no date and no category: safe filler around an answer.
FILLER = st.lists(
    st.sampled_from(["i", "would", "say", "about", "maybe", "honestly", "it's", "well,"]),
    max_size=4,
).map(" ".join)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def number_words_for(value: int) -> list[str]:
    return [word for word, number in words()["number_words"].items() if number == value]


# --------------------------------------------------------------------------- ratings


@given(value=RATINGS, before=FILLER, after=FILLER)
def test_a_rating_inside_a_sentence_is_found(value: int, before: str, after: str) -> None:
    assert parse_rating(f"{before} {value} {after}") == value


@given(value=RATINGS, data=st.data())
def test_every_number_word_reads_as_its_number_in_any_case(value: int, data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(number_words_for(value)))
    cased = data.draw(st.sampled_from([word, word.upper(), word.title()]))
    assert parse_rating(cased) == value


@given(value=RATINGS)
def test_full_width_digits_read_like_ascii_digits(value: int) -> None:
    assert parse_rating(str(value).translate(FULL_WIDTH)) == value
    assert parse_rating(f"{value}/10".translate(FULL_WIDTH)) == value


@given(value=RATINGS, times=st.integers(min_value=2, max_value=4))
def test_repeating_the_same_number_is_still_one_answer(value: int, times: int) -> None:
    assert parse_rating(", ".join([str(value)] * times)) == value
    assert parse_rating(f"{value}, I mean {number_words_for(value)[0]}") == value


@given(pair=st.tuples(RATINGS, RATINGS).filter(lambda p: p[0] != p[1]))
def test_two_different_numbers_are_not_understood(pair: tuple[int, int]) -> None:
    first, second = pair
    assert parse_rating(f"{first} or {second}") is None
    assert parse_rating(f"between {first} and {second}") is None


@given(value=RATINGS, scale=st.integers(min_value=1, max_value=1000).filter(lambda s: s != 10))
def test_another_scale_is_not_understood(value: int, scale: int) -> None:
    assert parse_rating(f"{value}/{scale}") is None
    assert parse_rating(f"{value} out of {scale}") is None


@given(value=RATINGS, zeros=st.integers(min_value=1, max_value=5))
def test_whole_numbers_written_with_decimals_count(value: int, zeros: int) -> None:
    assert parse_rating(f"{value}.{'0' * zeros}") == value
    assert parse_rating(f"{value}/10.{'0' * zeros}") == value


@given(value=st.integers(min_value=0, max_value=9), fraction=st.integers(min_value=1, max_value=99))
def test_fractions_are_never_rounded(value: int, fraction: int) -> None:
    assert parse_rating(f"{value}.{fraction}") is None


@given(value=st.integers(min_value=1, max_value=10), word=st.sampled_from(["minus", "negative"]))
def test_negative_ratings_are_out_of_range_however_written(value: int, word: str) -> None:
    for text in (f"-{value}", f"{word} {value}", f"{word} {number_words_for(value)[0]}"):
        with pytest.raises(RatingOutOfRange):
            parse_rating(text)


@given(value=RATINGS)
def test_a_dash_between_two_equal_numbers_is_not_a_minus(value: int) -> None:
    assert parse_rating(f"{value}-{value}") == value


@given(text=st.text())
def test_text_without_digits_or_number_words_is_never_a_rating(text: str) -> None:
    folded = unicodedata.normalize("NFKC", text).casefold()
    assume(not any(char in "0123456789" for char in folded))
    assume(not any(word in folded for word in words()["number_words"]))
    assert parse_rating(text) is None


@given(
    value=RATINGS,
    count=st.integers(min_value=0, max_value=99),
    unit=st.sampled_from(["hours", "hrs", "days", "drinks", "weeks", "pm"]),
)
def test_a_number_counting_something_else_is_not_the_rating(
    value: int, count: int, unit: str
) -> None:
    assert parse_rating(f"slept {count} {unit}, mood {value}") == value
    assert parse_rating(f"{min(count, 10)} {unit}") is None


@pytest.mark.parametrize("scale", ["mood", "intensity"])
def test_an_amplified_rating_word_is_further_from_the_middle(scale: str) -> None:
    own = {" ".join(k.split()) for k in words()["rating_words"][scale]}
    for word, value in words()["rating_words"][scale].items():
        for amplified in (f"really {word}", f"{word} af"):
            if amplified in own or value == 5:
                continue
            reading = read_rating_words(amplified, scale)
            assert reading is not None, amplified
            assert abs(reading.value - 5) >= abs(value - 5), amplified


@pytest.mark.parametrize("scale", ["mood", "intensity"])
def test_every_rating_word_reads_as_its_value_with_ish_and_fillers(scale: str) -> None:
    for word, value in words()["rating_words"][scale].items():
        for text in (word, f"like {word} tbh", f"{word.upper()}!"):
            reading = read_rating_words(text, scale)
            assert reading is not None and reading.value == value, text


# --------------------------------------------------------------------------- entry numbers


@given(number=st.integers(min_value=0, max_value=999_999_999), before=FILLER)
def test_entry_numbers_round_trip(number: int, before: str) -> None:
    for text in (f"{before} show entry {number}", f"#{number}", f"entry {number}, please"):
        assert find_entry_number(text) == number


@given(first=st.integers(0, 10**6), second=st.integers(0, 10**6))
def test_the_first_entry_number_wins(first: int, second: int) -> None:
    assert find_entry_number(f"entry {first} not {second}") == first


@given(text=st.text())
def test_entry_numbers_are_never_negative_or_longer_than_nine_digits(text: str) -> None:
    number = find_entry_number(text)
    assert number is None or 0 <= number <= 999_999_999


# --------------------------------------------------------------------------- dates


@settings(deadline=None)
@given(day=DAYS, today=DAYS)
def test_iso_dates_round_trip_whatever_today_is(day: date, today: date) -> None:
    assert parse_session_date(day.isoformat(), today) == day
    assert parse_session_date(f"  {day.isoformat()} ", today) == day
    assert find_session_date(f"I had my session on {day.isoformat()}.", today) == day


@settings(deadline=None)
@given(today=DAYS, days=st.integers(min_value=0, max_value=14), before=FILLER)
def test_n_days_ago_in_a_sentence_is_exact(today: date, days: int, before: str) -> None:
    expected = today - timedelta(days=days)
    assert find_session_date(f"{before} {days} days ago", today) == expected
    assert parse_session_date(f"{days} days ago", today) == expected


#: What people put around a date answer: greetings, hedges, "it was".
DATE_AROUND = st.tuples(
    st.sampled_from(["", "hey", "hi!", "um", "ok so", "it was", "hey it was", "i think"]),
    st.sampled_from(["", "i think", "lol", "i guess", "?", "tbh", "after work"]),
)


@settings(deadline=None)
@given(today=DAYS, data=st.data(), lead=st.sampled_from(["on", "last", ""]), around=DATE_AROUND)
def test_a_weekday_however_spelled_and_whatever_is_around_it_is_that_weekday(
    today: date, data: st.DataObject, lead: str, around: tuple[str, str]
) -> None:
    weekday = data.draw(st.sampled_from(WEEKDAYS))
    spelling = data.draw(st.sampled_from([weekday, *words()["date_spellings"][weekday]]))
    before, after = around
    text = " ".join(part for part in (before, lead, spelling, after) if part)
    assert parse_session_date(text, today) == parse_session_date(weekday, today), text


@settings(deadline=None)
@given(today=DAYS, day=st.integers(min_value=1, max_value=31))
def test_an_ordinal_day_is_that_day_of_the_month_and_never_to_come(today: date, day: int) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day, "th")
    for text in (f"the {day}{suffix}", f"on the {day}{suffix}", f"{day}{suffix}"):
        found = parse_session_date(text, today)
        assert found is not None and found.day == day and found <= today, text
        assert (today - found).days < 93


@settings(deadline=None)
@given(today=DAYS, phrase=st.sampled_from(["yesterday", "today", "3 days ago", "last night"]))
def test_fillers_around_a_date_change_nothing(today: date, phrase: str) -> None:
    expected = parse_session_date(phrase, today)
    for text in (f"hey it was {phrase} lol", f"um {phrase} i think", f"{phrase} i guess tbh"):
        assert parse_session_date(text, today) == expected, text


@settings(deadline=None)
@given(today=DAYS, weekday=st.sampled_from(WEEKDAYS), lead=st.sampled_from(["on", "last", ""]))
def test_a_weekday_is_the_last_one_strictly_before_today(
    today: date, weekday: str, lead: str
) -> None:
    found = find_session_date(f"my session was {lead} {weekday}", today)
    parsed = parse_session_date(f"{lead} {weekday}".strip(), today)
    assert found == parsed
    assert found is not None
    assert 1 <= (today - found).days <= 7
    assert WEEKDAYS[found.weekday()] == weekday


@settings(deadline=None)
@given(today=DAYS, number=st.integers(min_value=0, max_value=10**9))
def test_a_bare_number_is_never_a_date(today: date, number: int) -> None:
    assert parse_session_date(str(number), today) is None


@settings(deadline=None)
@given(today=DAYS, phrase=st.sampled_from(["last week", "recently", "a while ago", "this month"]))
def test_vague_periods_are_never_a_date(today: date, phrase: str) -> None:
    assert parse_session_date(phrase, today) is None
    assert parse_session_date(phrase.upper(), today) is None


@settings(deadline=None)
@given(
    today=DAYS,
    first=st.sampled_from(["today", "yesterday", "3 days ago"]),
    second=st.sampled_from(["the day before yesterday", "10 days ago"]),
)
def test_two_different_dates_in_a_sentence_are_not_guessed(
    today: date, first: str, second: str
) -> None:
    assert find_session_date(f"{first}, or maybe {second}", today) is None


@settings(deadline=None, max_examples=200)
@given(text=st.text(max_size=80), today=DAYS)
def test_date_parsers_never_raise_and_return_a_date_or_none(text: str, today: date) -> None:
    for parser in (parse_session_date, find_session_date):
        result = parser(text, today)
        assert result is None or isinstance(result, date)


@settings(deadline=None)
@given(month=st.integers(min_value=13, max_value=99), today=DAYS)
def test_impossible_iso_dates_are_none(month: int, today: date) -> None:
    assert parse_session_date(f"2026-{month}-01", today) is None
    assert parse_session_date("2026-02-30", today) is None


# --------------------------------------------------------------------------- skips


@given(
    words_=st.lists(st.sampled_from(["skip", "next", "pass", "call", "sponsor"]), min_size=1),
    intent=st.sampled_from([None, "skip", "inform"]),
)
def test_only_short_replies_can_be_skips(words_: list[str], intent: str | None) -> None:
    text = " ".join(words_)
    if len(words_) > MAX_SKIP_WORDS:
        assert not is_skip(text, intent)
    if intent == "skip":
        assert is_skip(text, intent) == (len(words_) <= MAX_SKIP_WORDS)


@given(phrase=st.sampled_from(["skip", "next question", "i'd rather not", "pass"]))
def test_skip_phrases_survive_case_and_punctuation(phrase: str) -> None:
    for text in (phrase.upper(), f"{phrase}!", f"  {phrase.title()}.  "):
        assert is_skip(text, None)


# --------------------------------------------------------------------------- categories


@given(order=st.permutations(["people", "places", "things", "feelings"]), size=st.integers(1, 4))
def test_trigger_types_keep_the_order_they_were_named_in(order: list[str], size: int) -> None:
    named = order[:size]
    assert parse_trigger_types(", ".join(named)) == named


@given(data=st.data())
def test_every_synonym_names_its_category_and_negation_removes_it(data: st.DataObject) -> None:
    section = data.draw(st.sampled_from(["trigger_types", "halt"]))
    parser = parse_trigger_types if section == "trigger_types" else parse_halt
    category = data.draw(st.sampled_from(sorted(words()[section])))
    synonym = data.draw(st.sampled_from(words()[section][category]))
    assert parser(f"it was {synonym}") == [category]
    assert parser(f"it was not {synonym}") == []
    assert parser(f"it was not really {synonym}") == []


@given(order=st.permutations(["hungry", "angry", "lonely", "tired"]), size=st.integers(1, 4))
def test_halt_states_keep_their_order_and_a_negated_one_is_left_out(
    order: list[str], size: int
) -> None:
    named = order[:size]
    assert parse_halt(" and ".join(named)) == named
    negated, *rest = named
    assert parse_halt(", ".join([f"not {negated}", *rest])) == rest


@given(text=st.text())
def test_every_category_returned_was_named(text: str) -> None:
    lowered = unicodedata.normalize("NFKC", text).casefold()
    for section, parser in (("trigger_types", parse_trigger_types), ("halt", parse_halt)):
        for category in parser(text):
            synonyms = words()[section][category]
            assert any(part in lowered for synonym in synonyms for part in synonym.split()), (
                category,
                text,
            )


def test_the_word_lists_have_no_synonym_in_two_categories() -> None:
    for section in ("trigger_types", "halt"):
        lists = words()[section].values()
        for first, second in itertools.combinations(lists, 2):
            assert not set(first) & set(second)
