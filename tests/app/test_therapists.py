"""Therapists' accounts, password hashing, sign-in throttling and sessions (bot.therapists),
and ``python -m bot therapist create`` as a real subprocess."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from bot import clinics, settings, therapists
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent, LoginThrottle, Therapist, TherapistSession, utcnow

PASSWORD = "correct horse battery staple"


@pytest.fixture
def north(clinic_db: str) -> str:
    clinics.create("north", "North Clinic", origins=["https://north.example"])
    return "north"


def stored(email: str) -> Therapist:
    with db.session_scope(write=False) as session:
        therapist = session.scalars(select(Therapist).where(Therapist.email == email)).one()
        session.expunge(therapist)
        return therapist


def logins(email: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        statement = (
            select(AuditEvent)
            .where(AuditEvent.action == "login", AuditEvent.actor == email)
            .order_by(AuditEvent.id)
        )
        return list(session.scalars(statement))


# ----------------------------------------------------------------------------- accounts


def test_create_stores_an_argon2id_hash_and_a_lower_case_address(north: str) -> None:
    created = therapists.create(north, "  Ann.Smith@North.Example ", PASSWORD, admin=True)
    assert created.email == "ann.smith@north.example"
    assert (created.clinic_slug, created.clinic_name, created.is_admin) == (
        "north",
        "North Clinic",
        True,
    )
    row = stored("ann.smith@north.example")
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, PASSWORD)
    assert therapists.get("ANN.SMITH@north.example") == created


@pytest.mark.parametrize(
    ("clinic", "email", "password", "words"),
    [
        ("nowhere", "a@north.example", PASSWORD, "No clinic with the slug 'nowhere'"),
        ("north", "not an address", PASSWORD, "is not an e-mail address"),
        ("north", "a@north.example", "eleven char", "too short"),
        ("north", "a@north.example", "x" * 1025, "longer than 1024"),
    ],
)
def test_create_refuses(north: str, clinic: str, email: str, password: str, words: str) -> None:
    with pytest.raises(therapists.TherapistError, match=words):
        therapists.create(clinic, email, password)
    with db.session_scope(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Therapist)) == 0


def test_an_address_has_one_account_whatever_its_case_or_clinic(north: str) -> None:
    clinics.create("south", "South", origins=["https://south.example"])
    therapists.create(north, "ann@example.org", PASSWORD)
    for clinic, email in (("north", "ANN@example.org"), ("south", "ann@example.org")):
        with pytest.raises(therapists.TherapistError, match="already exists"):
            therapists.create(clinic, email, PASSWORD)


# ----------------------------------------------------------------------------- sign-in


def test_authenticate_starts_a_session_and_records_it(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    result = therapists.authenticate(
        "Ann@North.example ", PASSWORD, ip="192.0.2.7", user_agent="Test"
    )
    assert result.ok and result.cookie and result.csrf_token
    assert result.therapist is not None and result.therapist.email == "ann@north.example"
    with db.session_scope(write=False) as session:
        row = session.get(TherapistSession, therapists.session_key(result.cookie))
        assert row is not None
        assert (row.ip, row.user_agent, row.csrf_token) == ("192.0.2.7", "Test", result.csrf_token)
    assert stored("ann@north.example").last_login_at is not None
    (login,) = logins("ann@north.example")
    assert (login.outcome, login.ip, login.detail) == ("ok", "192.0.2.7", {})

    signed_in = therapists.resolve_session(result.cookie)
    assert signed_in is not None and signed_in.csrf_token == result.csrf_token
    assert therapists.resolve_session(result.cookie + "x") is None
    assert therapists.resolve_session("") is None and therapists.resolve_session(None) is None


def test_a_wrong_password_starts_nothing(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    result = therapists.authenticate("ann@north.example", PASSWORD.upper())
    assert not result.ok and result.cookie is None and result.therapist is None
    with db.session_scope(write=False) as session:
        assert session.scalar(select(func.count()).select_from(TherapistSession)) == 0
    (login,) = logins("ann@north.example")
    assert (login.outcome, login.detail) == ("failed", {"reason": "bad_credentials"})


def test_unknown_addresses_cost_as_much_time_as_wrong_passwords(north: str) -> None:
    """The dummy hash: without it an unknown address would answer ~100 times faster."""
    therapists.create(north, "ann@north.example", PASSWORD)

    def timed(email: str) -> float:
        started = time.perf_counter()
        therapists.authenticate(email, "a wrong password")
        return time.perf_counter() - started

    wrong = statistics.median(timed("ann@north.example") for _ in range(3))
    unknown = statistics.median(timed(f"nobody{n}@north.example") for n in range(3))
    assert 0.4 < unknown / wrong < 2.5, (unknown, wrong)


def test_hashes_made_with_weaker_settings_are_upgraded_at_sign_in(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with db.session_scope() as session:
        session.execute(
            update(Therapist)
            .where(Therapist.email == "ann@north.example")
            .values(password_hash=weak)
        )
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
    upgraded = stored("ann@north.example").password_hash
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert therapists.authenticate("ann@north.example", PASSWORD).ok


# ----------------------------------------------------------------------------- throttling


def test_failures_slow_down_then_pause_sign_in(north: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_LOGIN_DELAY_SECONDS", "1")
    therapists.create(north, "ann@north.example", PASSWORD)
    delays = []
    for _ in range(5):
        delays.append(therapists.login_delay("ANN@north.example"))
        assert not therapists.authenticate("ann@north.example", "wrong password!").ok
    assert delays == [0, 0, 0, 1, 2]
    with db.session_scope(write=False) as session:
        throttle = session.get(LoginThrottle, "ann@north.example")
        assert throttle is not None and throttle.failures == 5
        assert throttle.locked_until is not None
        assert throttle.locked_until - utcnow() > timedelta(minutes=14)
    # Paused: the right password does not help, and the record says why.
    assert not therapists.authenticate("ann@north.example", PASSWORD).ok
    assert logins("ann@north.example")[-1].detail == {"reason": "locked"}
    with db.session_scope(write=False) as session:
        assert session.get(LoginThrottle, "ann@north.example").failures == 5  # not extended


def test_the_wait_is_capped_at_five_steps(north: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_LOGIN_DELAY_SECONDS", "0.5")
    with db.session_scope() as session:
        session.add(LoginThrottle(key="x@north.example", failures=4, first_failure_at=utcnow()))
        session.add(LoginThrottle(key="y@north.example", failures=40, first_failure_at=utcnow()))
    assert therapists.login_delay("x@north.example") == 1.0
    assert therapists.login_delay("y@north.example") == 2.5


def test_a_pause_ends_and_counting_starts_again(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    with db.session_scope() as session:
        session.add(
            LoginThrottle(
                key="ann@north.example",
                failures=5,
                first_failure_at=utcnow() - timedelta(minutes=16),
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
    assert therapists.login_delay("ann@north.example") == 0
    assert not therapists.authenticate("ann@north.example", "wrong password!").ok
    with db.session_scope(write=False) as session:
        throttle = session.get(LoginThrottle, "ann@north.example")
        assert (throttle.failures, throttle.locked_until) == (1, None)
    assert therapists.authenticate("ann@north.example", PASSWORD).ok


def test_old_failures_outside_the_window_do_not_count(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    with db.session_scope() as session:
        session.add(
            LoginThrottle(
                key="ann@north.example",
                failures=4,
                first_failure_at=utcnow() - timedelta(minutes=15, seconds=5),
            )
        )
    assert therapists.login_delay("ann@north.example") == 0
    assert not therapists.authenticate("ann@north.example", "wrong password!").ok
    with db.session_scope(write=False) as session:
        throttle = session.get(LoginThrottle, "ann@north.example")
        assert (throttle.failures, throttle.locked_until) == (1, None)


# ----------------------------------------------------------------------------- sessions


def test_end_session_is_recorded_once(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    cookie = therapists.authenticate("ann@north.example", PASSWORD, ip="192.0.2.1").cookie
    ended = therapists.end_session(cookie, ip="192.0.2.1")
    assert ended is not None and ended.email == "ann@north.example"
    assert therapists.end_session(cookie) is None
    assert therapists.resolve_session(cookie) is None
    with db.session_scope(write=False) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login", "logout"]


def test_session_limits_come_from_the_settings(north: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_SESSION_MAX_AGE_SECONDS", "60")
    therapists.create(north, "ann@north.example", PASSWORD)
    cookie = therapists.authenticate("ann@north.example", PASSWORD).cookie
    assert cookie
    with db.session_scope(write=False) as session:
        row = session.get(TherapistSession, therapists.session_key(cookie))
        assert row.expires_at - row.created_at == timedelta(seconds=60)
    # Lowering a limit applies to sessions that already exist.
    monkeypatch.setenv("COMPANION_SESSION_IDLE_SECONDS", "0")
    assert therapists.resolve_session(cookie) is None


def test_settings_for_the_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "COMPANION_SESSION_IDLE_SECONDS",
        "COMPANION_SESSION_MAX_AGE_SECONDS",
        "COMPANION_SECURE_COOKIES",
        "COMPANION_LOGIN_WINDOW_SECONDS",
        "COMPANION_LOGIN_LOCK_SECONDS",
        "COMPANION_LOGIN_DELAY_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.dashboard_idle_timeout() == 900
    assert settings.dashboard_max_age() == 43200
    assert (settings.login_window(), settings.login_lock(), settings.login_delay_step()) == (
        900,
        900,
        1.0,
    )
    assert settings.secure_cookies("https") and not settings.secure_cookies("http")
    monkeypatch.setenv("COMPANION_SECURE_COOKIES", "1")
    assert settings.secure_cookies("http")
    monkeypatch.setenv("COMPANION_SECURE_COOKIES", "0")
    assert not settings.secure_cookies("https")
    monkeypatch.setenv("COMPANION_LOGIN_LOCK_SECONDS", "soon")
    with pytest.raises(RuntimeError, match="COMPANION_LOGIN_LOCK_SECONDS"):
        settings.login_lock()
    monkeypatch.setenv("COMPANION_LOGIN_LOCK_SECONDS", "-1")
    with pytest.raises(RuntimeError, match="must not be negative"):
        settings.login_lock()


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(north: str, tmp_path: Path):
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "COMPANION_VAR_DIR": str(tmp_path / "var"),
            },
            input=stdin,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def test_cli_creates_an_account_from_stdin(cli) -> None:
    result = cli(
        "therapist", "create", "--clinic", "north", "--email", "Ann@North.example",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Created therapist ann@north.example at north (North Clinic).\n"
    assert PASSWORD not in result.stdout + result.stderr
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
    admin = cli(
        "therapist", "create", "--clinic", "north", "--email", "boss@north.example", "--admin",
        "--password-stdin", stdin=PASSWORD + "\r\n",
    )  # fmt: skip
    assert admin.stdout.startswith("Created administrator boss@north.example")
    account = therapists.get("boss@north.example")
    assert account is not None and account.is_admin
    assert therapists.authenticate("boss@north.example", PASSWORD).ok  # no stray \r


@pytest.mark.parametrize(
    ("clinic", "email", "password", "words"),
    [
        ("north", "ann@north.example", "short", "too short"),
        ("north", "ann@north.example", "", "too short"),
        ("nowhere", "ann@north.example", PASSWORD, "No clinic with the slug 'nowhere'"),
        ("north", "ann", PASSWORD, "is not an e-mail address"),
    ],
)
def test_cli_refuses(cli, clinic: str, email: str, password: str, words: str) -> None:
    result = cli(
        "therapist", "create", "--clinic", clinic, "--email", email, "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    assert words in one_line_error(result)
    assert therapists.get(email) is None


def test_cli_refuses_a_second_account_for_an_address(cli) -> None:
    args = ("therapist", "create", "--clinic", "north", "--password-stdin")
    assert cli(*args, "--email", "ann@north.example", stdin=PASSWORD).returncode == 0
    again = cli(*args, "--email", "ANN@north.example", stdin="another passphrase here")
    assert "An account for ann@north.example already exists." in one_line_error(again)
    assert therapists.authenticate("ann@north.example", PASSWORD).ok


def test_cli_without_password_stdin_prompts(cli) -> None:
    """Without a terminal getpass falls back to stdin; both prompts must agree."""
    args = ("therapist", "create", "--clinic", "north", "--email", "ann@north.example")
    differ = cli(*args, stdin=f"{PASSWORD}\nsomething else entirely\n")
    assert "The two passwords differ" in differ.stderr and differ.returncode == 1
    same = cli(*args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert same.returncode == 0, same.stderr
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
