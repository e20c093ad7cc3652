"""Reading ratings, dates, skips and categories out of what people type."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.journal.parsing import (
    MAX_ANSWER_CHARS,
    RatingOutOfRange,
    RatingRange,
    RatingWord,
    clean_answer,
    find_entry_number,
    find_session_date,
    is_skip,
    parse_halt,
    parse_rating,
    parse_session_date,
    parse_trigger_types,
    read_rating_words,
)
from bot.journal.reply_reading import is_unsure

NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
]
WEEKDAYS = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# A Friday, so weekday arithmetic in the examples below is easy to check by hand.
FRIDAY = date(2026, 11, 27)

# --------------------------------------------------------------------------- ratings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7),
        (" 7 ", 7),
        ("7/10", 7),
        ("7 / 10", 7),
        ("7 out of 10", 7),
        ("7 of 10", 7),
        ("seven", 7),
        ("Seven out of ten", 7),
        ("about 6", 6),
        ("maybe a 6 today", 6),
        ("It's a 7.", 7),
        ("0", 0),
        ("zero", 0),
        ("10", 10),
        ("10/10", 10),
        ("7.0", 7),
        ("７", 7),  # full-width digit from an East Asian keyboard
        ("6, definitely 6", 6),
    ],
)
def test_parse_rating_reads_whole_numbers(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "banana",
        "",
        "   ",
        "🙂",
        "🔥🔥🔥",
        "6.5",  # whole numbers only: the person is asked again rather than rounded
        "6 or 7",
        "between 5 and 7",
        "7-8",
        "3/5",  # another scale
        "pretty low",
        "très bien",
    ],
)
def test_parse_rating_returns_none_when_no_single_number(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    "text", ["-3", "11", "12/10", "eleven", "minus two", "100", "a hundred", "9" * 5000]
)
def test_parse_rating_reports_numbers_outside_the_scale(text: str) -> None:
    with pytest.raises(RatingOutOfRange):
        parse_rating(text)


def test_rating_out_of_range_is_a_value_error() -> None:
    assert issubclass(RatingOutOfRange, ValueError)


@given(st.integers(min_value=0, max_value=10))
def test_parse_rating_round_trips_every_form_of_a_valid_number(number: int) -> None:
    for text in (
        str(number),
        f"{number}/10",
        f"{number} out of 10",
        NUMBER_WORDS[number],
        f"about {number}",
        f"  {number}  ",
    ):
        assert parse_rating(text) == number, text


@given(st.integers(min_value=11, max_value=10**40) | st.integers(max_value=-1))
def test_parse_rating_rejects_any_number_outside_the_scale(number: int) -> None:
    with pytest.raises(RatingOutOfRange):
        parse_rating(str(number))


@settings(max_examples=500)
@given(st.text())
def test_parse_rating_never_raises_anything_else_and_stays_in_range(text: str) -> None:
    try:
        result = parse_rating(text)
    except RatingOutOfRange:
        return
    assert result is None or 0 <= result <= 10


# Ratings as people type them at "how strong is any craving, 0 to 10?" and "how is your mood?":
# numbers in words and sentences, ranges, and words.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("six", 6),
        ("seven-ish", 7),
        ("sixish", 6),
        ("8/10", 8),
        ("6 out of 10", 6),
        ("7 outta 10", 7),
        ("honestly like 9", 9),
        ("prob a 4", 4),
        ("a solid 8", 8),
        ("def a 9 rn", 9),
        ("slept like 4 hours so mood is prob a 5", 5),
        ("day 30 sober and feeling like an 8", 8),
        ("had 2 drinks earlier, craving is 6 now", 6),
        ("mood 6/10 after 3 hrs sleep", 6),
        ("at 5pm it was 7", 7),
        ("3 days clean, feeling a 7", 7),
    ],
)
def test_a_rating_said_in_a_sentence_is_taken(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("like a 6 maybe 7", 6, 7),
        ("a 6. maybe 7", 6, 7),
        ("maybe 3 or 4", 3, 4),
        ("6-7ish", 6, 7),
        ("six or seven", 6, 7),
        ("prob 7 or 8", 7, 8),
        ("5 or so, maybe 6", 5, 6),
    ],
)
def test_a_rating_between_two_numbers_is_a_range(text: str, low: int, high: int) -> None:
    assert parse_rating(text) is None
    assert read_rating_words(text, "mood") == RatingRange(low, high)


@pytest.mark.parametrize(
    ("text", "scale", "value"),
    [
        ("pretty strong", "intensity", 7),
        ("really bad", "intensity", 8),
        ("really bad", "mood", 2),
        ("not great", "mood", 4),
        ("so-so", "mood", 5),
        ("meh", "mood", 5),
        ("through the roof", "intensity", 10),
        ("barely there", "intensity", 1),
        ("about half", "intensity", 5),
        ("medium", "intensity", 5),
        ("kinda high", "intensity", 7),
        ("low-ish", "mood", 3),
        ("lowish", "intensity", 2),
        ("okayish", "mood", 5),
        ("super high", "intensity", 8),
        ("strong af", "intensity", 8),
        ("sooo bad", "mood", 2),
        ("not too bad", "mood", 6),
        ("not too bad", "intensity", 3),
        ("decent", "mood", 6),
        ("shitty", "mood", 2),
        ("no cravings", "intensity", 0),
        ("none at all", "intensity", 0),
        ("off the charts", "intensity", 10),
        ("medium-high", "intensity", 6),
        ("50/50", "mood", 5),
        ("pretty high tbh", "intensity", 8),
    ],
)
def test_a_rating_in_words_is_proposed(text: str, scale: str, value: int) -> None:
    assert parse_rating(text) is None
    assert read_rating_words(text, scale) == RatingWord(value)


@pytest.mark.parametrize("text", ["6.5", "banana", "very", "the 3rd", "slept 4 hours"])
def test_no_rating_is_read_where_there_is_none(text: str) -> None:
    assert parse_rating(text) is None
    assert read_rating_words(text, "mood") is None


# --------------------------------------------------------------------------- free text


def test_clean_answer_removes_control_characters_only() -> None:
    raw = "a\x00b\x1b[31mc\x7f\x85d\te\nf 🙂 ü 你好"
    assert clean_answer(raw) == "ab[31mcd\te\nf 🙂 ü 你好"


def test_clean_answer_keeps_line_breaks_from_any_platform() -> None:
    assert clean_answer("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"


def test_clean_answer_does_not_trim() -> None:
    assert clean_answer("  as typed  \n") == "  as typed  \n"


@given(st.text())
def test_clean_answer_is_idempotent(text: str) -> None:
    once = clean_answer(text)
    assert clean_answer(once) == once


@given(st.text())
def test_clean_answer_never_removes_letters_digits_symbols_or_emoji(text: str) -> None:
    def visible(s: str) -> list[str]:
        return [c for c in s if unicodedata.category(c)[0] in "LNPSZ"]

    assert visible(clean_answer(text)) == visible(text)


@given(st.text())
def test_clean_answer_leaves_no_control_characters_but_newline_and_tab(
    text: str,
) -> None:
    for char in clean_answer(text):
        if unicodedata.category(char) == "Cc":
            assert char in "\n\t"


@pytest.mark.parametrize(
    "text",
    [
        "skip",
        "Skip!",
        "SKIP",
        "pass",
        "next",
        "next question",
        "I'd rather not",
        "skip it",
    ],
)
def test_is_skip_accepts_short_skip_replies(text: str) -> None:
    assert is_skip(text, None)


@pytest.mark.parametrize(
    "text",
    [
        "next time I'll call my sponsor first",
        "I want to pass my exams this year",
        "skip breakfast was a mistake and I was hungry",
        "",
        "   ",
        "nothing",
    ],
)
def test_is_skip_treats_real_answers_as_answers(text: str) -> None:
    assert not is_skip(text, None)


def test_is_skip_trusts_the_skip_intent_only_for_short_replies() -> None:
    assert is_skip("not this one", "skip")
    assert not is_skip("not this one", "inform")
    assert not is_skip("I don't really want to talk about that part", "skip")


@pytest.mark.parametrize(
    "text",
    [
        "idk",
        "dunno",
        "pass",
        "nah",
        "nothing really",
        "not sure yet",
        "no intention rn",
        "i don't have one",
        "can't remember",
        "not sure when",
        "idk tbh",
    ],
)
def test_non_answers_are_skipped(text: str) -> None:
    assert is_skip(text, None) or is_unsure(text)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", FRIDAY),
        ("Today!", FRIDAY),
        ("tonight", FRIDAY),
        ("this morning", FRIDAY),
        ("yesterday", date(2026, 11, 26)),
        ("last night", date(2026, 11, 26)),
        ("the day before yesterday", date(2026, 11, 25)),
        ("last tuesday", date(2026, 11, 24)),
        ("Tuesday", date(2026, 11, 24)),
        ("friday", date(2026, 11, 20)),  # on a Friday, "Friday" is last week's
        ("3 days ago", date(2026, 11, 24)),
        ("20 November", date(2026, 11, 20)),
        ("Nov 20", date(2026, 11, 20)),
        ("30 November", date(2025, 11, 30)),  # year-less dates resolve to the past
        ("2026-11-20", date(2026, 11, 20)),
        ("11/20/2026", date(2026, 11, 20)),
        ("it was yesterday afternoon", date(2026, 11, 26)),
        (
            "tomorrow",
            date(2026, 11, 28),
        ),  # returned, so the bot can say it is in the future
        ("2027-01-05", date(2027, 1, 5)),
    ],
)
def test_parse_session_date(text: str, expected: date) -> None:
    assert parse_session_date(text, FRIDAY) == expected


@pytest.mark.parametrize(
    "text",
    ["banana", "", "skip", "6", "2026", "last week", "recently", "2026-02-30", "🙂"],
)
def test_parse_session_date_returns_none_for_no_single_day(text: str) -> None:
    assert parse_session_date(text, FRIDAY) is None


# Answers to "When was your session?" as they are typed: greetings and hedges around the date,
# short and misspelt weekdays, ordinals, relative days. FRIDAY is 27 November 2026.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hey it was tuesday", date(2026, 11, 24)),
        ("sunday i think", date(2026, 11, 22)),
        ("like 3 days ago", date(2026, 11, 24)),
        ("last thurs", date(2026, 11, 26)),
        ("last sat", date(2026, 11, 21)),
        ("weds", date(2026, 11, 25)),
        ("wensday", date(2026, 11, 25)),
        ("tuseday i guess", date(2026, 11, 24)),
        ("monday afternoon", date(2026, 11, 23)),
        ("mon morning", date(2026, 11, 23)),
        ("on the 3rd", date(2026, 11, 3)),
        ("the 30th", date(2026, 10, 30)),  # this month's 30th is still to come
        ("dec 2", date(2025, 12, 2)),
        ("december 2nd", date(2025, 12, 2)),
        ("a week ago today", date(2026, 11, 20)),
        ("it was yesterday lol", date(2026, 11, 26)),
        ("yday", date(2026, 11, 26)),
        ("yesturday", date(2026, 11, 26)),
        ("last nite", date(2026, 11, 26)),
        ("hi! yesterday", date(2026, 11, 26)),
        ("like an hour ago", FRIDAY),
        ("48 hours ago", date(2026, 11, 25)),
        ("about 30 hrs ago", date(2026, 11, 26)),
        ("last evening", date(2026, 11, 26)),
        ("this aft", FRIDAY),
        ("tues at 3pm", date(2026, 11, 24)),
        ("tuesday at 3", date(2026, 11, 24)),
        ("this sunday", date(2026, 11, 22)),
        ("not sure, maybe monday", date(2026, 11, 23)),
        ("good morning! it was monday", date(2026, 11, 23)),
        ("monday the 23rd", date(2026, 11, 23)),
    ],
)
def test_parse_session_date_as_typed_in_a_chat(text: str, expected: date) -> None:
    assert parse_session_date(text, FRIDAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "may",  # a month alone is no day
        "march",
        "monday or tuesday",
        "monday the 3rd",  # the 3rd was a Tuesday
        "the other day",
        "last weekend",
        "a couple days ago",
        "mondays are hard",
        "hey",
    ],
)
def test_parse_session_date_does_not_guess(text: str) -> None:
    assert parse_session_date(text, FRIDAY) is None


def test_parse_session_date_gives_up_on_huge_input() -> None:
    assert parse_session_date("yesterday " * 2000, FRIDAY) is None
    assert len("yesterday " * 2000) > MAX_ANSWER_CHARS


PAST_PREFERRING = (
    st.sampled_from(
        ["today", "yesterday", "this morning", "last night", "the day before yesterday"]
    )
    | st.sampled_from(WEEKDAYS).map(lambda d: f"last {d}")
    | st.sampled_from(WEEKDAYS)
    | st.integers(min_value=1, max_value=30).map(lambda n: f"{n} days ago")
    | st.tuples(st.integers(min_value=1, max_value=28), st.sampled_from(MONTHS)).map(
        lambda dm: f"{dm[0]} {dm[1]}"
    )
)


@settings(deadline=None, max_examples=200)
@given(
    text=PAST_PREFERRING,
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
)
def test_parse_session_date_never_returns_a_future_date_for_past_preferring_input(
    text: str, today: date
) -> None:
    result = parse_session_date(text, today)
    assert result is not None, text
    assert result <= today
    assert today - result <= timedelta(days=366)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I had my session yesterday", date(2026, 11, 26)),
        ("My session was this morning and I want to reflect", FRIDAY),
        ("session on Monday, can we go through it", date(2026, 11, 23)),
        ("Tuesday's session was intense", date(2026, 11, 24)),
        ("two days ago I had my infusion", date(2026, 11, 25)),
        ("I had it on 2026-11-19", date(2026, 11, 19)),
    ],
)
def test_find_session_date_picks_clear_mentions_out_of_a_sentence(
    text: str, expected: date
) -> None:
    assert find_session_date(text, FRIDAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to reflect on my session",
        "Let's do the integration thing",
        "session on Monday, but yesterday I felt it most",  # two dates: ask instead
        "mondays are hard",
        "I had a few sessions in November",
        "",
    ],
)
def test_find_session_date_stays_conservative(text: str) -> None:
    assert find_session_date(text, FRIDAY) is None


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people", ["people"]),
        ("Places and people", ["places", "people"]),
        ("my ex turned up at the bar", ["people", "places"]),
        ("feelings, people, feelings again", ["feelings", "people"]),
        ("stress about money", ["feelings", "things"]),
        ("my boss called", []),
        ("", []),
    ],
)
def test_parse_trigger_types(text: str, expected: list[str]) -> None:
    assert parse_trigger_types(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hungry", ["hungry"]),
        ("Tired and lonely", ["tired", "lonely"]),
        ("exhausted, a bit mad", ["tired", "angry"]),
        ("not hungry, just tired", ["tired"]),
        ("not really lonely but angry", ["angry"]),
        ("neither hungry nor angry", []),
        ("no, I'm tired", ["tired"]),
        ("none", []),
        ("No", []),
        ("nope", []),
        ("", []),
    ],
)
def test_parse_halt(text: str, expected: list[str]) -> None:
    assert parse_halt(text) == expected


@given(st.text())
def test_categories_are_known_and_never_repeated(text: str) -> None:
    types = parse_trigger_types(text)
    assert set(types) <= {"people", "places", "things", "feelings"}
    assert len(types) == len(set(types))
    halt = parse_halt(text)
    assert set(halt) <= {"hungry", "angry", "lonely", "tired"}
    assert len(halt) == len(set(halt))


# --------------------------------------------------------------------------- entry numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("show entry 4", 4),
        ("#12", 12),
        ("open number 3 please", 3),
        ("show entry four", 4),
        ("show my entry", None),
        ("", None),
    ],
)
def test_find_entry_number(text: str, expected: int | None) -> None:
    assert find_entry_number(text) == expected
