"""Therapists' accounts, password hashing, sign-in throttling and sessions (bot.clinics.therapists),
and ``python -m bot therapist create`` as a real subprocess."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from conftest import CliRun, one_line_error
from sqlalchemy import func, select, update

from bot import settings
from bot.clinics import registry, therapists
from bot.storage import db
from bot.storage.models import AuditEvent, LoginThrottle, Therapist, TherapistSession, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

PASSWORD = "correct horse battery staple"


@pytest.fixture
def north(clinic_db: str) -> str:
    registry.create("north", "North Clinic", origins=["https://north.example"])
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
    registry.create("south", "South", origins=["https://south.example"])
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


@pytest.mark.slow
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


def throttle(key: str) -> LoginThrottle | None:
    with db.session_scope(write=False) as session:
        return session.get(LoginThrottle, key)


def test_attempts_wait_longer_and_longer_then_are_refused_unchecked(
    north: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_LOGIN_DELAY_SECONDS", "2")
    therapists.create(north, "ann@north.example", PASSWORD)
    attempts = [therapists.reserve("ANN@north.example", "192.0.2.1") for _ in range(6)]
    # Three at once, then turns one and three steps away; the next, seven steps away, is
    # beyond the five-step wait and is refused (and not counted).
    assert [a.refused for a in attempts] == [False] * 5 + [True]
    assert [a.wait for a in attempts[:5]] == pytest.approx([0, 0, 0, 2, 6], abs=0.5)
    pair = therapists.pair_key("ann@north.example", therapists.network_key("192.0.2.1"))
    assert (throttle(pair).failures, throttle("ann@north.example").failures) == (5, 5)

    refused = therapists.authenticate("ann@north.example", PASSWORD, attempt=attempts[5])
    assert not refused.ok
    assert logins("ann@north.example")[-1].detail == {"reason": "throttled"}

    # The same address from another network is not held up: it never waits for a pause.
    elsewhere = therapists.reserve("ann@north.example", "198.51.100.1")
    assert (elsewhere.refused, elsewhere.wait) == (False, 0)
    assert therapists.authenticate(
        "ann@north.example", PASSWORD, ip="198.51.100.1", attempt=elsewhere
    ).ok
    # Success forgets the address's failures; the guessing network keeps its own wait.
    assert throttle("ann@north.example") is None
    assert throttle(pair) is not None and throttle(pair).failures == 5


@pytest.mark.slow
def test_simultaneous_attempts_queue_in_the_database(
    north: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty threads, each with its own connection, reserve at once: five turns, no more."""
    monkeypatch.setenv("COMPANION_LOGIN_DELAY_SECONDS", "10")
    barrier = threading.Barrier(30)

    def attempt(_: int) -> therapists.Attempt:
        barrier.wait()
        return therapists.reserve("ann@north.example", "192.0.2.2")

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(attempt, range(30)))
    assert sum(not result.refused for result in results) == 5
    assert sorted(round(r.wait) for r in results if not r.refused) == [0, 0, 0, 10, 30]
    assert throttle("ann@north.example").failures == 5


def test_the_gaps_double_up_to_their_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_LOGIN_LOCK_SECONDS", "600")
    pair, address = therapists.PAIR_POLICY, therapists.ADDRESS_POLICY
    assert [pair.gap(n, 0.5) for n in (1, 2, 3, 4, 5)] == [0, 0, 0.5, 1.0, 2.0]
    assert pair.gap(40, 0.5) == 600  # a guessing network waits up to the longest pause
    assert address.gap(9, 0.5) == 0 and address.gap(10, 0.5) == 0.5
    assert address.gap(40, 0.5) == 15  # an address from anywhere: half a minute at most
    assert therapists.GLOBAL_POLICY.gap(500, 1.0) == 0.5


def test_a_wait_ends_and_counting_starts_again(north: str) -> None:
    therapists.create(north, "ann@north.example", PASSWORD)
    with db.session_scope() as session:
        session.add(
            LoginThrottle(
                key="ann@north.example",
                failures=12,
                first_failure_at=utcnow() - timedelta(minutes=16),
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
    attempt = therapists.reserve("ann@north.example")
    assert (attempt.refused, attempt.wait) == (False, 0)
    row = throttle("ann@north.example")
    assert (row.failures, row.locked_until) == (1, None)
    assert therapists.authenticate("ann@north.example", PASSWORD, attempt=attempt).ok


def test_a_pending_wait_is_kept_past_the_window(north: str) -> None:
    with db.session_scope() as session:
        session.add(
            LoginThrottle(
                key="ann@north.example",
                failures=12,
                first_failure_at=utcnow() - timedelta(minutes=16),
                locked_until=utcnow() + timedelta(minutes=1),
            )
        )
    assert therapists.reserve("ann@north.example").refused


def test_old_failures_outside_the_window_do_not_count(north: str) -> None:
    with db.session_scope() as session:
        session.add(
            LoginThrottle(
                key="ann@north.example",
                failures=4,
                first_failure_at=utcnow() - timedelta(minutes=15, seconds=5),
            )
        )
    assert therapists.reserve("ann@north.example").wait == 0
    assert throttle("ann@north.example").failures == 1


def test_nothing_typed_as_an_address_reaches_a_networks_counter(north: str) -> None:
    network = therapists.network_key("192.0.2.9")
    for typed in (network, network.lower(), therapists.GLOBAL_KEY, " ALL "):
        therapists.reserve(typed, "198.51.100.9")
    assert throttle(network) is None
    assert throttle(therapists.GLOBAL_KEY).failures == 4  # the app counts every attempt
    assert throttle(network.lower()).failures == 2


def test_network_keys() -> None:
    key = therapists.network_key
    assert key("192.0.2.1") == "NET 192.0.2.1"
    assert key("::ffff:192.0.2.1") == "NET 192.0.2.1"
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9") == "NET 2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key(None) == key("not an address") == "NET unknown"


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
def cli(north: str, run_cli: CliRun) -> CliRun:
    """The command line, on a database with the North clinic and its staff."""
    return run_cli


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_cli_refuses_a_second_account_for_an_address(cli) -> None:
    args = ("therapist", "create", "--clinic", "north", "--password-stdin")
    assert cli(*args, "--email", "ann@north.example", stdin=PASSWORD).returncode == 0
    again = cli(*args, "--email", "ANN@north.example", stdin="another passphrase here")
    assert "An account for ann@north.example already exists." in one_line_error(again)
    assert therapists.authenticate("ann@north.example", PASSWORD).ok


@pytest.mark.slow
def test_cli_without_password_stdin_prompts(cli) -> None:
    """Without a terminal getpass falls back to stdin; both prompts must agree."""
    args = ("therapist", "create", "--clinic", "north", "--email", "ann@north.example")
    differ = cli(*args, stdin=f"{PASSWORD}\nsomething else entirely\n")
    assert "The two passwords differ" in differ.stderr and differ.returncode == 1
    same = cli(*args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert same.returncode == 0, same.stderr
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
