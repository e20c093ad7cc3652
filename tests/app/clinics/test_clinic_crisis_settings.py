"""A clinic's crisis settings: its lines and the replies that name them, the emergency number,
the response time, the notified flag levels and the peer-support line - in the pure module
both environments share (bot.safety.clinic_lines), in bot.clinics.registry and its command line, and as
the Rasa server reads them (bot.patient_tokens, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import update

from bot import patient_tokens
from bot.cli.clinics import register_clinic
from bot.cli.main import build_parser
from bot.clinics import registry
from bot.clinics.registry import ClinicError
from bot.safety import clinic_lines
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import Clinic

UK_LINES: list[dict[str, Any]] = [
    {"name": "Emergency services", "number": "999"},
    {
        "name": "Samaritans",
        "number": "116 123",
        "detail": "free, day or night",
        "kinds": ["suicide", "self_harm", "ask"],
    },
    {"name": "National Domestic Abuse Helpline", "number": "0808 2000 247", "kinds": ["violence"]},
]
UK = {
    "emergency_number": "999",
    "response_time": "by the next working day",
    "crisis_lines": UK_LINES,
    "peer_support_line": False,
}


def numbers(lines: list[dict[str, str]]) -> list[str]:
    return [line["number"] for line in lines]


# ----------------------------------------------------------------------------- clinic_lines


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("suicide", ["988"]),
        ("self_harm", ["988"]),
        ("harm_others", ["988"]),
        ("ask", ["988"]),
        ("recent", ["988"]),
        ("overdose", ["1-800-222-1222"]),
        ("violence", ["1-800-799-7233", "1-800-656-4673"]),
        ("child", ["1-800-422-4453"]),
        ("lapse", ["1-800-484-3731"]),
        ("medical", []),
        ("withdrawal", []),
    ],
)
def test_each_reply_kind_gets_the_default_lines_of_its_kind(kind: str, expected: list[str]) -> None:
    lines = clinic_lines.lines_for(kind, clinic_lines.default_settings())

    assert numbers(lines) == expected
    # 911 is the emergency number: replies say it on their own, never as a listed line.
    assert "911" not in numbers(clinic_lines.lines_for(kind, None))


def test_lines_carry_their_detail_and_nothing_about_kinds() -> None:
    [hotline, rainn] = clinic_lines.lines_for("violence", None)

    assert hotline == {
        "name": "National Domestic Violence Hotline",
        "number": "1-800-799-7233",
        "detail": "or text START to 88788",
    }
    assert set(rainn) == {"name", "number"}
    assert clinic_lines.line_text(hotline) == (
        "National Domestic Violence Hotline: 1-800-799-7233 (or text START to 88788)"
    )
    assert clinic_lines.line_text(rainn) == "RAINN National Sexual Assault Hotline: 1-800-656-4673"


def test_a_clinic_outside_the_us_gets_its_own_lines() -> None:
    assert clinic_lines.lines_for("suicide", UK) == [
        {"name": "Samaritans", "number": "116 123", "detail": "free, day or night"}
    ]
    assert numbers(clinic_lines.lines_for("violence", UK)) == ["0808 2000 247"]
    # No line of this clinic is for overdoses: nothing US-only creeps in.
    assert clinic_lines.lines_for("overdose", UK) == []
    assert clinic_lines.care_team_note(UK) == (
        "Your care team will see a note about this, usually by the next working day."
    )


def test_lines_without_any_kinds_are_named_in_every_reply_but_the_emergency_number() -> None:
    settings = {
        "emergency_number": "112",
        "crisis_lines": [
            {"name": "Notruf", "number": "112"},
            {"name": "Telefonseelsorge", "number": "0800 111 0 111"},
        ],
    }

    for kind in clinic_lines.LINE_KINDS:
        assert numbers(clinic_lines.lines_for(kind, settings)) == ["0800 111 0 111"], kind


def test_missing_or_broken_settings_fall_back_to_the_defaults() -> None:
    broken = {
        "emergency_number": "call us",
        "response_time": "\n",
        "crisis_lines": [
            {"name": "No number"},
            "988",
            {"name": "X", "number": "1", "kinds": ["?"]},
        ],
        "peer_support_line": "yes",
    }

    assert clinic_lines.complete_settings(broken) == clinic_lines.default_settings()
    assert clinic_lines.complete_settings(None) == clinic_lines.default_settings()
    assert clinic_lines.care_team_note({}) == (
        "Your care team will see a note about this, usually within one working day."
    )
    mixed = clinic_lines.complete_settings(
        {"crisis_lines": [{"name": "Broken"}, {"name": "Line", "number": "0800 1"}]}
    )
    assert mixed["crisis_lines"] == [{"name": "Line", "number": "0800 1"}]


def test_an_unknown_reply_kind_is_a_mistake_in_the_caller() -> None:
    with pytest.raises(ValueError, match="unknown crisis reply kind"):
        clinic_lines.lines_for("sad", None)


def test_the_defaults_are_a_copy_the_caller_may_change() -> None:
    first = clinic_lines.load_defaults()
    first["crisis_lines"].clear()
    first["emergency_number"] = "000"

    assert clinic_lines.load_defaults()["crisis_lines"]
    assert clinic_lines.default_settings()["emergency_number"] == "911"
    assert numbers(clinic_lines.lines_for("suicide", None)) == ["988"]


@pytest.mark.parametrize("python", [sys.executable, str(PROJECT_ROOT / ".venv-rasa/bin/python")])
def test_the_module_imports_without_sqlalchemy_in_both_environments(python: str) -> None:
    """The Rasa server (Python 3.10, SQLAlchemy 1.4) builds its replies with it too."""
    if not (PROJECT_ROOT / python).exists():
        pytest.fail(f"{python} is missing: `make install` creates it")
    code = (
        "import sys; sys.modules['sqlalchemy'] = None; sys.modules['spacy'] = None\n"
        "from bot.safety import clinic_lines as c\n"
        "print(c.line_text(c.lines_for('overdose', c.default_settings())[0]))"
    )
    result = subprocess.run(
        [python, "-c", code],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Poison Help: 1-800-222-1222"


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (
            "Poison Help=1-800-222-1222;kinds=overdose",
            {"name": "Poison Help", "number": "1-800-222-1222", "kinds": ["overdose"]},
        ),
        (
            "Hotline = 1-800-799-7233 ; detail = or text START to 88788; kinds=violence, child",
            {
                "name": "Hotline",
                "number": "1-800-799-7233",
                "detail": "or text START to 88788",
                "kinds": ["violence", "child"],
            },
        ),
        (
            "Samaritans=116 123;KINDS=suicide,suicide,ask;detail=free; day, or night",
            {
                "name": "Samaritans",
                "number": "116 123",
                "kinds": ["suicide", "ask"],
                "detail": "free; day, or night",
            },
        ),
    ],
)
def test_a_crisis_line_with_kinds_and_detail(typed: str, expected: dict[str, Any]) -> None:
    assert registry.parse_crisis_line(typed) == expected


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("Line=988;kinds=sadness", "not a kind of crisis reply"),
        ("Line=988;kinds=", "not a kind of crisis reply"),
        ("Line=988;detail=", "1-200 characters"),
        ("Line=988;detail=" + "x" * 201, "1-200 characters"),
        ("Line=988;detail=call\nnow", "control characters"),
        ("Line=988;kinds=ask;kinds=suicide", "twice"),
        ("Line=988;colour=red", "NAME=NUMBER"),
    ],
)
def test_a_crisis_line_with_unusable_kinds_or_detail_is_refused(typed: str, complaint: str) -> None:
    with pytest.raises(ClinicError, match=complaint):
        registry.parse_crisis_line(typed)


# ----------------------------------------------------------------------------- clinics


def test_a_new_clinic_gets_the_default_crisis_settings(clinic_db: str) -> None:
    view = registry.create("north", "North", origins=["https://north.example"])

    assert view.crisis_settings() == clinic_lines.default_settings()
    assert view.notify_levels == ["urgent", "elevated", "request"]
    assert view.as_dict()["emergency_number"] == "911"


def test_a_clinic_sets_and_changes_its_crisis_settings(clinic_db: str) -> None:
    registry.create(
        "thameside",
        "Thameside",
        origins=["https://thameside.example"],
        crisis_lines=UK_LINES,
        emergency_number=" 999 ",
        response_time=" by the next working day ",
        notify_levels=["info", "urgent"],
        peer_support_line=True,
    )

    view = registry.get_clinic("thameside")
    assert view.crisis_settings() == {**UK, "peer_support_line": True}
    assert view.notify_levels == ["urgent", "info"]

    changed = registry.update("thameside", emergency_number="112", peer_support_line=False)
    assert changed.emergency_number == "112"
    assert changed.peer_support_line is False
    assert changed.response_time == "by the next working day"  # untouched
    assert changed.notify_levels == ["urgent", "info"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"emergency_number": "nine one one"}, "emergency number"),
        ({"emergency_number": ""}, "emergency number"),
        ({"response_time": " "}, "response time"),
        ({"response_time": "soon\nor later"}, "control characters"),
        ({"notify_levels": ["elevated"]}, "Urgent flags are always announced"),
        ({"notify_levels": []}, "Urgent flags are always announced"),
        ({"notify_levels": ["urgent", "severe"]}, "not a risk level"),
        ({"crisis_lines": [{"name": "Line", "number": "988", "kinds": ["crisis"]}]}, "kind"),
        ({"crisis_lines": [{"name": "Line", "number": "988", "colour": "red"}]}, "not"),
        ({"crisis_lines": [{"name": "", "number": "988"}]}, "name"),
    ],
)
def test_unusable_crisis_settings_are_refused_and_change_nothing(
    clinic_db: str, change: dict[str, Any], complaint: str
) -> None:
    before = registry.create("north", "North", origins=["https://north.example"])

    with pytest.raises(ClinicError, match=complaint):
        registry.update("north", **change)
    with pytest.raises(ClinicError, match=complaint):
        registry.create("south", "South", origins=["https://south.example"], **change)

    assert registry.get_clinic("north") == before
    assert registry.get_clinic("south") is None


def test_the_widget_gets_every_line_with_its_detail_but_not_the_kinds(clinic_db: str) -> None:
    registry.create("thameside", "Thameside", origins=["https://t.example"], crisis_lines=UK_LINES)

    config = registry.widget_config("thameside")

    assert config is not None
    assert config["crisis_lines"] == [
        {"name": "Emergency services", "number": "999"},
        {"name": "Samaritans", "number": "116 123", "detail": "free, day or night"},
        {"name": "National Domestic Abuse Helpline", "number": "0808 2000 247"},
    ]


# ----------------------------------------------------------------------------- command line


def run_clinic(*args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``clinic …`` through the real parser and handler, in this process."""
    parsed = build_parser([register_clinic]).parse_args(["clinic", *args])
    assert parsed.handler(parsed) == 0
    return json.loads(capsys.readouterr().out)


def test_the_command_line_sets_every_crisis_setting(
    clinic_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    created = run_clinic(
        "create",
        "--slug",
        "thameside",
        "--name",
        "Thameside",
        "--origin",
        "https://thameside.example",
        "--emergency-number",
        "999",
        "--crisis-line",
        "Emergency services=999",
        "--crisis-line",
        "Samaritans=116 123;kinds=suicide,self_harm,ask;detail=free, day or night",
        "--crisis-line",
        "National Domestic Abuse Helpline=0808 2000 247;kinds=violence",
        "--response-time",
        "by the next working day",
        "--notify-level",
        "urgent",
        "--peer-support-line",
        "--no-notify",
        capsys=capsys,
    )

    assert created["crisis_lines"] == UK_LINES
    assert {key: created[key] for key in UK if key != "crisis_lines"} == {
        "emergency_number": "999",
        "response_time": "by the next working day",
        "peer_support_line": True,
    }
    assert created["notify_levels"] == ["urgent"]

    updated = run_clinic(
        "update",
        "--slug",
        "thameside",
        "--notify-level",
        "urgent",
        "--notify-level",
        "elevated",
        "--notify-level",
        "info",
        "--no-peer-support-line",
        capsys=capsys,
    )
    assert updated["notify_levels"] == ["urgent", "elevated", "info"]
    assert updated["peer_support_line"] is False
    assert updated["crisis_lines"] == UK_LINES  # untouched
    assert registry.get_clinic("thameside").as_dict() == updated


def test_the_command_line_refuses_notify_levels_without_urgent(
    clinic_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.common import CommandError

    parsed = build_parser([register_clinic]).parse_args(
        ["clinic", "create", "--slug", "north", "--name", "North", "--origin", "https://n.example"]
        + ["--notify-level", "info", "--no-notify"]
    )
    with pytest.raises(CommandError, match="Urgent flags are always announced"):
        parsed.handler(parsed)
    assert registry.get_clinic("north") is None


# ----------------------------------------------------------------------------- bot.patient_tokens

both_databases = pytest.mark.databases("sqlite", "postgresql")


@both_databases
def test_the_rasa_servers_reader_gives_the_clinics_settings(
    clinic_db: str, database_backend: str
) -> None:
    registry.create(
        "thameside",
        "Thameside",
        origins=["https://thameside.example"],
        crisis_lines=UK_LINES,
        emergency_number="999",
        response_time="by the next working day",
        peer_support_line=True,
    )
    registry.create("north", "North", origins=["https://north.example"])

    assert patient_tokens.clinic_crisis_settings("thameside") == {**UK, "peer_support_line": True}
    assert patient_tokens.clinic_crisis_settings("north") == clinic_lines.default_settings()
    assert patient_tokens.clinic_crisis_settings("nowhere") is None


@both_databases
def test_the_rasa_servers_reader_never_gives_a_reply_without_numbers(
    clinic_db: str, database_backend: str
) -> None:
    registry.create("north", "North", origins=["https://north.example"])
    # Written past the application's checks, as a hand-edited database would be.
    with db.get_engine().begin() as connection:
        connection.execute(
            update(Clinic)
            .where(Clinic.slug == "north")
            .values(crisis_lines=[{"name": "no number"}, 42], emergency_number="", response_time="")
        )
    patient_tokens.reset()

    assert patient_tokens.clinic_crisis_settings("north") == clinic_lines.default_settings()
