"""``python -m bot clinic …`` and ``python -m bot patient …`` as real subprocesses."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot import patient_tokens, settings
from bot.cli.clinics import parse_duration
from bot.cli.main import build_parser
from bot.clinics import registry, therapists
from bot.patient_tokens import AccessDenied
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent, Patient

DEFAULT_LINES = registry.defaults()["crisis_lines"]


@pytest.fixture
def cli(clinic_db: str, tmp_path: Path):
    """Run ``python -m bot`` with this test's database, key and public address."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "COMPANION_VAR_DIR": str(tmp_path / "var"),
            **env,
        }
        for name, value in env.items():
            if value is None:
                del full_env[name]
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=PROJECT_ROOT,
            env=full_env,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if code == 1:
        assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def create_north(cli, *extra: str, channel: tuple[str, ...] = ("--no-notify",)) -> dict:
    """North, told of risk flags by nobody unless ``channel`` names an address or webhook."""
    result = ok(
        cli(
            "clinic",
            "create",
            "--slug",
            "north",
            "--name",
            "North clinic",
            "--origin",
            "https://North.example/",
            *channel,
            *extra,
        )
    )
    return json.loads(result.stdout)


def token_of(url: str) -> str:
    page, marker, token = url.partition("#companion-token=")
    assert marker and token
    return token


# ----------------------------------------------------------------------------- clinic


@pytest.mark.slow
def test_clinic_create_prints_the_clinic(cli) -> None:
    created = create_north(cli)

    assert created == {
        "slug": "north",
        "name": "North clinic",
        "origins": ["https://north.example"],
        "crisis_lines": DEFAULT_LINES,
        "accent_color": "#2f6f73",
        "greeting": registry.defaults()["greeting"],
        "allow_anonymous": False,
        "patient_url": None,
        "emergency_number": "911",
        "response_time": "within one working day",
        "notify_levels": ["urgent", "elevated", "request"],
        "peer_support_line": False,
    }
    assert registry.get_clinic("north").as_dict() == created


@pytest.mark.slow
def test_clinic_create_prints_the_tag_to_paste_and_the_next_steps(cli) -> None:
    result = ok(
        cli(
            "clinic", "create", "--slug", "north", "--name", "North clinic",
            "--origin", "https://north.example", "--notify-email", "care@north.example",
            COMPANION_PUBLIC_WEB_URL="https://companion.example/",
        )
    )  # fmt: skip

    # stdout stays the clinic's JSON for scripts; what a person reads goes to stderr.
    assert json.loads(result.stdout)["notify_emails"] == ["care@north.example"]
    tag = '<script src="https://companion.example/widget.js" data-clinic="north" async></script>'
    assert tag in result.stderr.splitlines()[1]
    assert "python -m bot patient invite --clinic north" in result.stderr
    assert "python -m bot therapist create --clinic north --email ADDRESS" in result.stderr
    assert "python -m bot therapist list --clinic north" in result.stderr
    assert "risk flags are announced by e-mail to care@north.example" in result.stderr
    assert "Warning" not in result.stderr


@pytest.mark.slow
def test_clinic_create_refuses_a_clinic_that_would_tell_nobody_about_risk_flags(cli) -> None:
    result = cli(
        "clinic", "create", "--slug", "north", "--name", "North", "--origin", "https://n.example"
    )

    error = one_line_error(result)
    assert "reaches nobody until someone opens the dashboard" in error
    assert "suicide" in error
    assert "--notify-email" in error and "--webhook-url" in error and "--no-notify" in error
    assert registry.list_clinics() == []


@pytest.mark.slow
def test_clinic_create_with_no_notify_creates_the_clinic_and_warns(cli) -> None:
    created = create_north(cli, channel=("--no-notify",))
    assert registry.get_clinic("north").as_dict() == created
    assert "notify_emails" not in created and "webhook_url" not in created

    result = cli(
        "clinic", "create", "--slug", "south", "--name", "South",
        "--origin", "https://south.example", "--no-notify",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warning = result.stderr.splitlines()[0]
    assert warning.startswith("Warning: clinic 'south' has no notification channel.")
    assert "suicide" in warning
    assert "python -m bot clinic update --slug south --notify-email ADDRESS" in warning
    assert 'data-clinic="south"' in result.stderr


@pytest.mark.slow
def test_clinic_create_refuses_no_notify_with_a_channel(cli) -> None:
    result = cli(
        "clinic", "create", "--slug", "north", "--name", "North", "--origin", "https://n.example",
        "--no-notify", "--webhook-url", "https://hooks.north.example/risk",
    )  # fmt: skip
    assert "--no-notify contradicts" in one_line_error(result)
    assert registry.list_clinics() == []


@pytest.mark.slow
def test_clinic_update_that_removes_the_last_channel_warns(cli) -> None:
    create_north(
        cli,
        channel=("--notify-email", "care@north.example", "--webhook-url", "https://h.example/r"),
    )

    one_left = ok(cli("clinic", "update", "--slug", "north", "--no-notify-email"))
    assert one_left.stderr == ""
    untouched = ok(cli("clinic", "update", "--slug", "north", "--greeting", "Hello."))
    assert untouched.stderr == ""

    none_left = ok(cli("clinic", "update", "--slug", "north", "--webhook-url", ""))
    assert json.loads(none_left.stdout)["greeting"] == "Hello."
    assert none_left.stderr.startswith("Warning: clinic 'north' has no notification channel.")
    assert len(none_left.stderr.splitlines()) == 1

    # A clinic that already had none is not warned about on every change.
    assert ok(cli("clinic", "update", "--slug", "north", "--greeting", "Hi.")).stderr == ""


@pytest.mark.slow
def test_clinic_create_with_every_option(cli) -> None:
    created = create_north(
        cli,
        "--origin",
        "http://localhost:3000",
        "--crisis-line",
        "Samaritans=116 123",
        "--crisis-line",
        "Emergency = 999",
        "--accent-color",
        "#A0B0C0",
        "--greeting",
        "Hello from North — 你好",
        "--allow-anonymous",
        "--patient-url",
        "https://north.example/chat",
    )

    assert created["origins"] == ["https://north.example", "http://localhost:3000"]
    assert created["crisis_lines"] == [
        {"name": "Samaritans", "number": "116 123"},
        {"name": "Emergency", "number": "999"},
    ]
    assert created["accent_color"] == "#a0b0c0"
    assert created["greeting"] == "Hello from North — 你好"
    assert created["allow_anonymous"] is True
    assert created["patient_url"] == "https://north.example/chat"


@pytest.mark.slow
def test_clinic_create_refuses_a_taken_slug(cli) -> None:
    create_north(cli)
    result = cli(
        "clinic", "create", "--slug", "north", "--name", "X", "--origin", "https://x.example",
        "--no-notify",
    )  # fmt: skip
    assert one_line_error(result) == "A clinic with the slug 'north' already exists.\n"
    assert registry.get_clinic("north").name == "North clinic"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--slug", "North_1", "--origin", "https://x.example"], "slug"),
        (["--slug", "x", "--origin", "x.example"], "origin"),
        (["--slug", "x", "--origin", "https://x.example/path"], "bare origin"),
        (["--slug", "x", "--origin", "https://x.example", "--crisis-line", "988"], "NAME=NUMBER"),
        (
            ["--slug", "x", "--origin", "https://x.example", "--crisis-line", "A=call"],
            "NAME=NUMBER",
        ),
        (["--slug", "x", "--origin", "https://x.example", "--accent-color", "teal"], "colour"),
        (["--slug", "x", "--origin", "https://x.example", "--patient-url", "ftp://x"], "web page"),
        (["--slug", "x", "--origin", "https://x.example", "--greeting", " "], "greeting"),
    ],
)
@pytest.mark.slow
def test_clinic_create_reports_unusable_settings(cli, extra: list[str], words: str) -> None:
    result = cli("clinic", "create", "--name", "X", "--no-notify", *extra)
    assert words in one_line_error(result)
    assert registry.list_clinics() == []


@pytest.mark.slow
def test_clinic_create_reports_an_unparsable_patient_url_in_one_line(cli) -> None:
    result = cli(
        "clinic",
        "create",
        "--slug",
        "x",
        "--name",
        "X",
        "--origin",
        "https://x.example",
        "--patient-url",
        "https://[oops/",
        "--no-notify",
    )
    one_line_error(result)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--slug", "x", "--name", "X"],
        ["--slug", "x", "--origin", "https://x.example"],
        ["--name", "X", "--origin", "https://x.example"],
        [
            "--slug",
            "x",
            "--name",
            "X",
            "--origin",
            "https://x.example",
            "--allow-anonymous",
            "--no-anonymous",
        ],
    ],
)
def test_clinic_create_usage_errors_exit_2(cli, arguments: list[str]) -> None:
    result = cli("clinic", "create", *arguments)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage:" in result.stderr
    assert registry.list_clinics() == []


@pytest.mark.slow
def test_clinic_update(cli) -> None:
    create_north(cli, "--greeting", "Hello.")

    updated = json.loads(
        ok(
            cli(
                "clinic",
                "update",
                "--slug",
                "north",
                "--name",
                "North Clinic",
                "--add-origin",
                "http://localhost:3000/",
                "--crisis-line",
                "Samaritans=116 123",
                "--allow-anonymous",
            )
        ).stdout
    )

    assert updated["name"] == "North Clinic"
    assert updated["origins"] == ["https://north.example", "http://localhost:3000"]
    assert updated["crisis_lines"] == [{"name": "Samaritans", "number": "116 123"}]
    assert updated["allow_anonymous"] is True
    assert updated["greeting"] == "Hello."
    assert registry.get_clinic("north").as_dict() == updated


@pytest.mark.slow
def test_clinic_update_replaces_origins_and_switches_off_anonymous(cli) -> None:
    create_north(cli, "--allow-anonymous", "--patient-url", "https://north.example/c")

    updated = json.loads(
        ok(
            cli(
                "clinic",
                "update",
                "--slug",
                "north",
                "--origin",
                "https://a.example",
                "--origin",
                "https://b.example",
                "--no-anonymous",
                "--patient-url",
                "",
            )
        ).stdout
    )

    assert updated["origins"] == ["https://a.example", "https://b.example"]
    assert updated["allow_anonymous"] is False
    assert updated["patient_url"] is None


@pytest.mark.slow
def test_clinic_update_without_changes_leaves_the_clinic_alone(cli) -> None:
    created = create_north(cli, "--allow-anonymous")
    assert json.loads(ok(cli("clinic", "update", "--slug", "north")).stdout) == created


@pytest.mark.slow
def test_clinic_update_of_an_unknown_clinic(cli) -> None:
    result = cli("clinic", "update", "--slug", "nowhere", "--name", "X")
    assert one_line_error(result) == "No clinic with the slug 'nowhere'.\n"


@pytest.mark.slow
def test_clinic_update_reports_unusable_settings(cli) -> None:
    created = create_north(cli)
    result = cli("clinic", "update", "--slug", "north", "--add-origin", "north.example")
    assert "origin" in one_line_error(result)
    result = cli("clinic", "update", "--slug", "north", "--crisis-line", "Lifeline")
    assert "NAME=NUMBER" in one_line_error(result)
    assert registry.get_clinic("north").as_dict() == created


@pytest.mark.slow
def test_clinic_time_zone_is_set_on_create_and_update(cli) -> None:
    created = create_north(cli, "--timezone", "Europe/London")
    assert created["timezone"] == "Europe/London"
    updated = json.loads(
        ok(cli("clinic", "update", "--slug", "north", "--timezone", "America/Los_Angeles")).stdout
    )
    assert updated["timezone"] == "America/Los_Angeles"
    result = cli("clinic", "update", "--slug", "north", "--timezone", "Europe/Atlantis")
    assert "is not a time zone" in one_line_error(result)
    assert registry.get_clinic("north").timezone == "America/Los_Angeles"


@pytest.mark.slow
def test_clinic_list(cli) -> None:
    assert ok(cli("clinic", "list")).stdout == ""
    create_north(cli)
    ok(
        cli(
            "clinic",
            "create",
            "--slug",
            "alpha",
            "--name",
            "Alpha",
            "--origin",
            "https://alpha.example",
            "--origin",
            "http://localhost:3000",
            "--allow-anonymous",
            "--no-notify",
        )
    )

    listing = ok(cli("clinic", "list")).stdout

    assert listing.splitlines() == [
        "alpha\tAlpha\thttps://alpha.example http://localhost:3000\tanonymous chats allowed",
        "north\tNorth clinic\thttps://north.example\tpersonal links only",
    ]
    as_json = json.loads(ok(cli("clinic", "list", "--json")).stdout)
    assert [c["slug"] for c in as_json] == ["alpha", "north"]
    assert as_json[1] == registry.get_clinic("north").as_dict()


@pytest.mark.slow
def test_clinic_list_reports_an_unusable_database(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = cli("clinic", "list", DATABASE_URL=f"sqlite:///{blocker / 'companion.db'}")
    assert one_line_error(result).startswith("Could not use the database at sqlite:///")


# ----------------------------------------------------------------------------- patient


@pytest.mark.slow
def test_patient_invite_prints_a_link_that_works(cli) -> None:
    create_north(cli)

    result = ok(cli("patient", "invite", "--clinic", "north"))

    lines = result.stdout.splitlines()
    assert len(lines) == 1
    url = lines[0]
    assert url.startswith("https://north.example/#companion-token=")
    identity = patient_tokens.verify_token(token_of(url), origin="https://north.example")
    assert identity.clinic == "north"
    assert identity.kind == "invite"
    assert patient_tokens.sender_clinic(identity.sender_id) == "north"
    remaining = identity.expires_at - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < remaining <= timedelta(days=30)
    # The details go to stderr, so that `… > link.txt` holds the link alone.
    assert identity.sender_id in result.stderr
    assert identity.jti in result.stderr
    assert identity.expires_at.isoformat() in result.stderr
    assert token_of(url) not in result.stderr


def test_patient_invite_with_a_label_and_a_therapist(cli) -> None:
    create_north(cli)
    therapists.create("north", "dr.lee@north.example", "north-password-1234")

    result = ok(
        cli(
            "patient",
            "invite",
            "--clinic",
            "north",
            "--label",
            "J.D. 4411",
            "--therapist",
            "Dr.Lee@north.example",
        )
    )

    sender_id = patient_tokens.verify_token(
        token_of(result.stdout.strip()), origin="https://north.example"
    ).sender_id
    assert f"{sender_id} (J.D. 4411), assigned to dr.lee@north.example" in result.stderr
    with db.session_scope(write=False) as session:
        patient = session.scalars(select(Patient).where(Patient.sender_id == sender_id)).one()
        assert patient.label == "J.D. 4411"
        assert patient.therapist.email == "dr.lee@north.example"
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "invite_patient"))
        assert event.target == sender_id and event.actor.startswith("cli:")
        assert event.clinic_id == patient.clinic_id

    refused = cli(
        "patient", "invite", "--clinic", "north", "--therapist", "someone@elsewhere.example"
    )
    assert refused.returncode == 1
    assert "someone@elsewhere.example is not a therapist of this clinic." in one_line_error(refused)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("expires", "lifetime"),
    [("2h", timedelta(hours=2)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2))],
)
def test_patient_invite_expires(cli, expires: str, lifetime: timedelta) -> None:
    create_north(cli)
    url = ok(cli("patient", "invite", "--clinic", "north", "--expires", expires)).stdout.strip()
    remaining = patient_tokens.verify_token(
        token_of(url), origin="https://north.example"
    ).expires_at - datetime.now(UTC)
    assert lifetime - timedelta(seconds=30) < remaining <= lifetime


@pytest.mark.slow
def test_patient_invite_follows_the_patient_url(cli) -> None:
    create_north(cli, "--patient-url", "https://north.example/companion")
    url = ok(cli("patient", "invite", "--clinic", "north")).stdout.strip()
    assert url.startswith("https://north.example/companion#companion-token=")


@pytest.mark.slow
def test_patient_invite_for_the_demo_clinic_creates_it(cli) -> None:
    url = ok(
        cli(
            "patient",
            "invite",
            "--clinic",
            "demo",
            COMPANION_PUBLIC_WEB_URL="http://localhost:8123",
        )
    ).stdout.strip()

    assert url.startswith("http://localhost:8123/#companion-token=")
    patient_tokens.reset()
    identity = patient_tokens.verify_token(token_of(url), origin="http://127.0.0.1:8123")
    assert identity.clinic == "demo"


@pytest.mark.slow
def test_patient_invite_to_an_unknown_clinic(cli) -> None:
    result = cli("patient", "invite", "--clinic", "nowhere")
    assert one_line_error(result) == "No clinic with the slug 'nowhere'.\n"


@pytest.mark.slow
@pytest.mark.parametrize("expires", ["0m", "367d"])
def test_patient_invite_refuses_lifetimes_outside_the_limits(cli, expires: str) -> None:
    create_north(cli)
    result = cli("patient", "invite", "--clinic", "north", "--expires", expires)
    assert "between one minute and one year" in one_line_error(result)


@pytest.mark.parametrize("expires", ["10x", "1.5d", "-1d", "30 days", ""])
def test_patient_invite_refuses_what_is_not_a_duration(cli, expires: str) -> None:
    result = cli("patient", "invite", "--clinic", "north", f"--expires={expires}")
    assert "is not a duration" in one_line_error(result, code=2)


@pytest.mark.slow
def test_patient_invite_reports_a_huge_duration_without_a_traceback(cli) -> None:
    create_north(cli)
    result = cli("patient", "invite", "--clinic", "north", "--expires", "99999999999d")
    assert result.returncode in {1, 2}
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "--expires" in result.stderr or "one year" in result.stderr


@pytest.mark.slow
def test_patient_revoke_by_patient(cli) -> None:
    create_north(cli)
    url = ok(cli("patient", "invite", "--clinic", "north")).stdout.strip()
    identity = patient_tokens.verify_token(token_of(url), origin="https://north.example")

    result = ok(cli("patient", "revoke", "--patient", identity.sender_id))

    assert result.stdout == "Revoked 1 link.\n"
    with pytest.raises(AccessDenied) as caught:
        patient_tokens.verify_token(token_of(url), origin="https://north.example")
    assert caught.value.reason == "revoked"
    again = cli("patient", "revoke", "--patient", identity.sender_id)
    assert one_line_error(again) == "No active link matched: nothing was revoked.\n"


@pytest.mark.slow
def test_patient_revoke_by_link(cli) -> None:
    create_north(cli)
    first = ok(cli("patient", "invite", "--clinic", "north")).stdout.strip()
    second = ok(cli("patient", "invite", "--clinic", "north")).stdout.strip()
    first_identity = patient_tokens.verify_token(token_of(first), origin=None, check_origin=False)

    assert ok(cli("patient", "revoke", "--link", first_identity.jti)).stdout == "Revoked 1 link.\n"

    with pytest.raises(AccessDenied):
        patient_tokens.verify_token(token_of(first), origin=None, check_origin=False)
    assert (
        patient_tokens.verify_token(token_of(second), origin="https://north.example").clinic
        == "north"
    )


@pytest.mark.slow
def test_patient_revoke_of_an_unknown_patient(cli) -> None:
    result = cli("patient", "revoke", "--patient", "p-nobody")
    assert one_line_error(result) == "No active link matched: nothing was revoked.\n"


@pytest.mark.parametrize("arguments", [[], ["--patient", "a", "--link", "b"]])
def test_patient_revoke_needs_exactly_one_target(cli, arguments: list[str]) -> None:
    result = cli("patient", "revoke", *arguments)
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.slow
def test_cli_and_verifier_share_the_key_file(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without COMPANION_TOKEN_SECRET every process reads one key file under var/."""
    create_north(cli)
    url = ok(
        cli("patient", "invite", "--clinic", "north", COMPANION_TOKEN_SECRET=None)
    ).stdout.strip()

    key_file = tmp_path / "var" / "secrets" / "token.key"
    assert key_file.is_file()
    with pytest.raises(AccessDenied) as caught:
        patient_tokens.verify_token(token_of(url), origin="https://north.example")
    assert caught.value.reason == "invalid_signature"
    monkeypatch.delenv("COMPANION_TOKEN_SECRET")
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")
    assert (
        patient_tokens.verify_token(token_of(url), origin="https://north.example").clinic == "north"
    )


@pytest.mark.parametrize("command", [["clinic", "--help"], ["patient", "invite", "--help"]])
def test_help(cli, command: list[str]) -> None:
    result = ok(cli(*command))
    assert result.stdout.startswith("usage: python -m bot ")


def test_every_new_command_has_a_handler() -> None:
    parser = build_parser()
    for argv in (
        ["clinic", "create", "--slug", "x", "--name", "X", "--origin", "https://x.example"],
        ["clinic", "update", "--slug", "x"],
        ["clinic", "list"],
        ["patient", "invite", "--clinic", "x"],
        ["patient", "revoke", "--link", "x"],
    ):
        assert callable(parser.parse_args(argv).handler)


# ----------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        (" 12h ", timedelta(hours=12)),
        ("90 m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@given(number=st.integers(min_value=0, max_value=10**6), unit=st.sampled_from(sorted(UNITS)))
def test_parse_duration_reads_every_number_and_unit(number: int, unit: str) -> None:
    assert parse_duration(f"{number}{unit}") == timedelta(**{UNITS[unit]: number})


@given(
    text=st.one_of(
        st.text(max_size=20),
        st.builds(
            "{}{}".format, st.integers(min_value=0, max_value=10**30), st.sampled_from("mhdwsy")
        ),
    )
)
def test_parse_duration_never_crashes(text: str) -> None:
    """An argparse type must raise ArgumentTypeError (or return): anything else is a traceback."""
    try:
        value = parse_duration(text)
    except argparse.ArgumentTypeError as error:
        assert str(error).strip()
        return
    assert isinstance(value, timedelta)
    assert value >= timedelta(0)


def test_parse_duration_of_a_huge_number() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("99999999999d")
