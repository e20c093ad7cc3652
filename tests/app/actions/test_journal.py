"""Reading the journal back in the chat (actions/journal.py): the list of entries and one
entry in full, never another patient's - run the way the action server runs it against a real
journal, on SQLite and on PostgreSQL.

Trackers are built the way Rasa sends them (tests/support/action_support.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from action_support import PATIENT, run, texts, turn
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.journal import ActionShowEntry, ActionShowJournal
from bot.journal import entries as journal
from bot.journal import replies

pytestmark = pytest.mark.databases("sqlite", "postgresql")

OTHER_PATIENT = "patient-b"


def test_an_empty_journal(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "my journal", intent="show_journal"),
        domain,
    )
    assert texts(dispatcher) == replies.journal_list([])
    assert "empty" in texts(dispatcher)


def test_the_journal_lists_the_ten_newest_first(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    for n in range(12):
        journal.save_entry(PATIENT, "checkin", fields={"note": f"note {n}"}, mood=n % 11)
    journal.save_entry(OTHER_PATIENT, "checkin", fields={"note": "someone else's note"})

    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "my journal", intent="show_journal"),
        domain,
    )
    lines = texts(dispatcher).splitlines()
    entry_lines = [line for line in lines if line.startswith("#")]
    assert [line.split(" · ")[0] for line in entry_lines] == [f"#{n}" for n in range(12, 2, -1)]
    assert entry_lines[0].endswith("— “note 11”")
    assert "someone else" not in texts(dispatcher)
    assert 'say "show entry 12"' in lines[-1]


def test_a_journal_line(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    entry = journal.save_entry(
        PATIENT,
        "integration",
        fields={"stood_out": "The light through the window, and how quiet my head was"},
        mood=6,
        craving=2,
    )
    run(
        ActionShowJournal(),
        dispatcher,
        turn(domain, "journal", intent="show_journal"),
        domain,
    )
    day = f"{entry.created_at.day} {entry.created_at:%b %Y}"
    expected = (
        f"#1 · {day} · Session reflection · mood 6 · craving 2 — "
        "“The light through the window, and how…”"
    )
    assert expected in texts(dispatcher).splitlines()


def test_show_entry_by_entity(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    journal.save_entry(PATIENT, "checkin", fields={"note": "first"}, mood=5)
    journal.save_entry(
        PATIENT,
        "integration",
        fields={"intention": "Slow down 🐢\nand breathe"},
        mood=7,
    )
    entities = [{"entity": "entry_number", "value": "2", "start": 11, "end": 12}]
    tracker = turn(domain, "show entry 2", intent="show_entry", entities=entities)
    run(ActionShowEntry(), dispatcher, tracker, domain)
    shown = texts(dispatcher)
    assert shown.startswith("Entry #2 · Session reflection")
    assert "Intention: Slow down 🐢\nand breathe" in shown
    assert "Mood: 7/10" in shown


def test_show_entry_by_the_number_in_the_text(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    journal.save_entry(PATIENT, "checkin", fields={"note": "first one"})
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "open #1 please", intent="show_entry"),
        domain,
    )
    assert "Note: first one" in texts(dispatcher)


def test_show_entry_that_does_not_exist(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "show entry 9", intent="show_entry"),
        domain,
    )
    assert texts(dispatcher) == replies.entry_not_found(9)


def test_show_entry_without_a_number(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionShowEntry(),
        dispatcher,
        turn(domain, "show an entry", intent="show_entry"),
        domain,
    )
    assert texts(dispatcher) == replies.WHICH_ENTRY


def test_another_patients_entry_is_never_shown(domain: dict[str, Any], journal_db: str) -> None:
    for n in range(3):
        journal.save_entry(PATIENT, "checkin", fields={"note": f"A's secret {n}"})
    journal.save_entry(OTHER_PATIENT, "checkin", fields={"note": "B's own note"})

    missing = CollectingDispatcher()
    tracker = turn(domain, "show entry 3", intent="show_entry", sender=OTHER_PATIENT)
    run(ActionShowEntry(), missing, tracker, domain)
    assert texts(missing) == replies.entry_not_found(3)

    own = CollectingDispatcher()
    tracker = turn(domain, "show entry 1", intent="show_entry", sender=OTHER_PATIENT)
    run(ActionShowEntry(), own, tracker, domain)
    assert "B's own note" in texts(own)
    assert "A's secret" not in texts(own)


@pytest.mark.parametrize(
    ("action", "text"),
    [(ActionShowJournal(), "my journal"), (ActionShowEntry(), "show entry 1")],
)
def test_reading_a_journal_that_is_down(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    broken_journal: None,
    action: Action,
    text: str,
) -> None:
    assert run(action, dispatcher, turn(domain, text), domain) == []
    assert texts(dispatcher) == replies.JOURNAL_READ_FAILED
