"""The bot's plain-text replies about journal entries."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from bot.journal import replies
from bot.journal.entries import EntryView

CREATED = datetime(2026, 11, 26, 20, 5, tzinfo=timezone.utc)


def entry(
    kind: str = "integration",
    *,
    number: int = 4,
    status: str = "complete",
    mood: int | None = None,
    craving: int | None = None,
    session_date: date | None = None,
    **fields: Any,
) -> EntryView:
    return EntryView(number, kind, status, CREATED, session_date, mood, craving, fields)


def test_journal_line_has_number_date_kind_ratings_and_first_words() -> None:
    line = replies.journal_line(
        entry(
            mood=6,
            craving=2,
            stood_out="The light through the window, and how quiet it was",
        )
    )
    assert line == (
        "#4 · 26 Nov 2026 · Session reflection · mood 6 · craving 2 — "
        "“The light through the window, and how…”"
    )


def test_journal_line_without_words_or_ratings() -> None:
    assert replies.journal_line(entry("checkin", number=2)) == "#2 · 26 Nov 2026 · Check-in"


@pytest.mark.parametrize(
    ("status", "note"), [("partial", "unfinished"), ("interrupted", "interrupted")]
)
def test_unfinished_entries_say_so(status: str, note: str) -> None:
    line = replies.journal_line(entry("checkin", status=status, note="half"))
    assert f"· {note} ·" in line or f"· {note} —" in line


def test_the_preview_is_one_line_and_cut_at_a_word() -> None:
    text = "first line\nsecond line with many more words than fit in a preview"
    assert replies.preview(text) == "first line second line with many more…"
    assert replies.preview("short") == "short"


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("craving", "Craving reflection"),
        ("lapse", "Slip reflection"),
        ("trigger", "Trigger reflection"),
    ],
)
def test_trigger_entries_are_titled_by_what_happened(kind: str, title: str) -> None:
    assert replies.entry_title(entry("trigger", trigger_kind=kind)) == title


def test_markup_in_patient_text_is_echoed_as_typed() -> None:
    typed = "<b>bold?</b> **stars** [link](http://example.com)"
    shown = replies.full_entry(entry("checkin", note=typed))
    assert f"Note: {typed}" in shown


def test_full_trigger_entry_with_urge_surfing() -> None:
    shown = replies.full_entry(
        entry(
            "trigger",
            status="partial",
            craving=4,
            trigger_kind="lapse",
            trigger_types_text="my ex",
            coping="left early",
            urge_surfing={"before": 8, "location": "chest", "after": 5},
        )
    )
    assert shown.splitlines() == [
        "Entry #4 · Slip reflection + urge surfing · 26 Nov 2026 (unfinished)",
        "Craving: 4/10",
        "What set it off: my ex",
        "What you did or could do: left early",
        "Urge surfing:",
        "Urge before: 8/10",
        "Where you felt it: chest",
        "Urge after: 5/10",
    ]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (8, 5, "from 8 to 5"),
        (6, 6, "stayed at 6"),
        (4, 7, "from 4 to 7"),
        (None, 3, "stayed with"),
    ],
)
def test_urge_movement(before: int | None, after: int | None, expected: str) -> None:
    said = replies.urge_movement(before, after)
    assert expected in said
    assert "fail" not in said.lower()


def test_unsaved_answers_give_every_answer_back() -> None:
    text = replies.unsaved_answers({"stood_out": "the music 🎶", "mood": "5"})
    assert text.splitlines()[1:] == ["What stood out: the music 🎶", "Mood: 5/10"]
    assert replies.unsaved_answers({}) == ""


def test_empty_journal_is_friendly() -> None:
    assert "empty so far" in replies.journal_list([])


# --------------------------------------------------------------------------- a slip's details

SLIP = {
    "trigger_kind": "lapse",
    "substances": ["alcohol", "mdma"],
    "lapse_date": "2026-11-25",
    "lapse_when": "last night",
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (SLIP, "Slip: alcohol and MDMA, last night"),
        ({"substances": ["opioids"], "lapse_when": "on friday"}, "Slip: opioids, on friday"),
        (
            {"substances": ["alcohol", "cocaine", "cannabis"]},
            "Slip: alcohol, cocaine and cannabis",
        ),
        ({"lapse_date": "2026-11-25"}, "Slip: on 25 Nov 2026"),
        ({"lapse_when": "last\nweek"}, "Slip: last week"),
        ({"substances": "alcohol", "lapse_date": "someday"}, None),
        ({}, None),
    ],
)
def test_lapse_summary(fields: dict[str, Any], expected: str | None) -> None:
    assert replies.lapse_summary(fields) == expected


def test_saved_slip_says_what_and_when() -> None:
    said = replies.trigger_summary(entry("trigger", number=5, **SLIP))
    assert "Slip: alcohol and MDMA, last night." in said.splitlines()
    craving = replies.trigger_summary(entry("trigger", **{**SLIP, "trigger_kind": "craving"}))
    assert "Slip:" not in craving


def test_journal_line_names_the_substances_of_a_slip() -> None:
    line = replies.journal_line(entry("trigger", context="after work", **SLIP))
    assert line == "#4 · 26 Nov 2026 · Slip reflection · alcohol, MDMA — “after work”"


def test_full_slip_entry_shows_what_and_the_day() -> None:
    shown = replies.full_entry(entry("trigger", context="<i>party</i>", **SLIP))
    assert shown.splitlines() == [
        "Entry #4 · Slip reflection · 26 Nov 2026",
        "Slip: alcohol and MDMA, last night",
        "Day of the slip: Wednesday 25 November 2026",
        "What was happening: <i>party</i>",
    ]
