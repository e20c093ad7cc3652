"""``python -m bot clinic create|update --flag-action``: the actions staff record when they
acknowledge a risk flag, as real subprocesses on real SQLite files and PostgreSQL databases."""

from __future__ import annotations

import json

import pytest
from conftest import CliRun, one_line_error
from sqlalchemy import select

from bot import records
from bot.clinics import registry
from bot.storage import db
from bot.storage.models import DEFAULT_FLAG_ACTIONS, Clinic

pytestmark = [pytest.mark.databases("sqlite", "postgresql"), pytest.mark.slow]

#: An origin, and no notification channel (these tests are about the actions list).
CLINIC_OPTIONS = ("--origin", "https://north.example", "--no-notify")


def test_the_list_is_the_default_until_the_clinic_sets_its_own(
    clinic_db: str, run_cli: CliRun
) -> None:
    created = run_cli("clinic", "create", "--slug", "north", "--name", "North", *CLINIC_OPTIONS)
    assert created.returncode == 0, created.stderr
    assert "flag_actions" not in json.loads(created.stdout)  # the default is not repeated
    assert registry.get_clinic("north").flag_actions == list(DEFAULT_FLAG_ACTIONS)

    updated = run_cli(
        "clinic",
        "update",
        "--slug",
        "north",
        "--flag-action",
        "Rang the patient",
        "--flag-action",
        "  Home   visit ",
        "--flag-action",
        "Discussed in team meeting",
    )

    assert updated.returncode == 0, updated.stderr
    actions = ["Rang the patient", "Home visit", "Discussed in team meeting"]
    assert json.loads(updated.stdout)["flag_actions"] == actions
    assert registry.get_clinic("north").flag_actions == actions
    with db.session_scope(write=False) as session:
        clinic_id = session.scalars(select(Clinic.id).where(Clinic.slug == "north")).one()
    assert records.clinic_actions(clinic_id) == tuple(actions)
    # Other settings stay as they were; the list is replaced, not added to.
    again = run_cli("clinic", "update", "--slug", "north", "--flag-action", "Seen in session")
    assert json.loads(again.stdout)["flag_actions"] == ["Seen in session"]
    assert registry.get_clinic("north").origins == ["https://north.example"]


def test_a_clinic_created_with_its_own_actions(clinic_db: str, run_cli: CliRun) -> None:
    created = run_cli(
        "clinic", "create", "--slug", "south", "--name", "South", *CLINIC_OPTIONS,
        "--flag-action", "Called", "--flag-action", "Texted",
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    assert registry.get_clinic("south").flag_actions == ["Called", "Texted"]


@pytest.mark.parametrize(
    ("actions", "words"),
    [
        (["Called", "called"], "given twice"),
        (["   "], "is not a flag action"),
        (["x" * 81], "1-80 characters"),
    ],
)
def test_an_unusable_list_is_refused_in_one_line(
    clinic_db: str, run_cli: CliRun, actions: list[str], words: str
) -> None:
    registry.create("north", "North", origins=["https://north.example"])
    arguments = [part for action in actions for part in ("--flag-action", action)]

    result = run_cli("clinic", "update", "--slug", "north", *arguments)

    assert words in one_line_error(result)
    assert registry.get_clinic("north").flag_actions == list(DEFAULT_FLAG_ACTIONS)
