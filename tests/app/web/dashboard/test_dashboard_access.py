"""Signing in and out of the dashboard, sessions, CSRF, throttling and the audit page,
against the web app served by a real uvicorn process."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from conftest import NewDatabase
from servers import DASHBOARD_CSP, base_environment, point_at, serving, web_app_service
from sqlalchemy import delete, select, update

from bot.clinics import patients, registry, therapists
from bot.journal import entries as journal
from bot.runner import free_port
from bot.storage import db
from bot.storage.models import (
    AuditEvent,
    LoginThrottle,
    RiskFlag,
    Therapist,
    TherapistSession,
    utcnow,
)
from bot.web.dashboard.security import login_csrf_token

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "dashboard-test-secret-0123456789abcdef0123456789abcdef"
PASSWORD = "a long enough passphrase"
TIMEOUT = 15
#: Shortened throttling so that the lock-out can be watched ending within a test.
LOCK_SECONDS = 3.0
DELAY_STEP = 1.0
_numbers = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Server:
    url: str
    env: dict[str, str]


def _start(directory: Path, new_database: NewDatabase, **extra: str) -> Iterator[Server]:
    port = free_port()
    url = new_database(directory / "companion.db", migrated=True)
    env = {
        **base_environment(directory, port, SECRET, database_url=url),
        "COMPANION_LOGIN_LOCK_SECONDS": str(LOCK_SECONDS),
        "COMPANION_LOGIN_DELAY_SECONDS": str(DELAY_STEP),
        "COMPANION_LOGIN_WINDOW_SECONDS": "600",
        "COMPANION_NOTIFY_INTERVAL": "0",
        **extra,
    }
    db.upgrade(env["DATABASE_URL"])
    with serving(web_app_service(port), env):
        yield Server(url=f"http://127.0.0.1:{port}", env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("dashboard"), new_database)


@pytest.fixture(scope="module")
def short_idle_server(
    tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase
) -> Iterator[Server]:
    """The same app with sessions that end after 1.5 idle seconds (set by environment)."""
    yield from _start(
        tmp_path_factory.mktemp("short-idle"), new_database, COMPANION_SESSION_IDLE_SECONDS="1.5"
    )


@pytest.fixture
def web(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The running app, with this process pointed at the same database and key."""
    yield from point_at(server, monkeypatch)


@pytest.fixture
def short_idle_web(short_idle_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    yield from point_at(short_idle_server, monkeypatch)


@dataclass
class Clinic:
    slug: str
    therapist: str
    admin: str


def _new_clinic(name: str = "North") -> Clinic:
    number = next(_numbers)
    slug = f"{name.lower()}-{number}"
    registry.create(slug, name, origins=[f"https://{slug}.example"])
    therapist = therapists.create(slug, f"therapist{number}@{slug}.example", PASSWORD)
    admin = therapists.create(slug, f"Admin{number}@{slug}.example", PASSWORD, admin=True)
    return Clinic(slug=slug, therapist=therapist.email, admin=admin.email)


@pytest.fixture
def north(web: Server) -> Clinic:
    return _new_clinic("North")


@pytest.fixture
def south(web: Server) -> Clinic:
    return _new_clinic("South")


class Browser:
    """A browser's cookie jar against the server, following no redirects by itself."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)

    def login_token(self, path: str = "/therapist/login") -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return token_in(page)

    def login(self, email: str, password: str = PASSWORD, next_path: str = "") -> requests.Response:
        token = self.login_token()
        return self.post(
            "/therapist/login",
            data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        )

    def signed_in(self, email: str, password: str = PASSWORD) -> Browser:
        response = self.login(email, password)
        assert response.status_code == 303, response.text
        assert response.headers["Location"] == "/therapist/"
        return self

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get("companion_session", path="/therapist")

    def page_token(self) -> str:
        """The CSRF token every signed-in page carries (in the sign-out form); the 404 page
        has it too, and visiting it is not audited."""
        page = self.get("/therapist/no-such-page")
        assert page.status_code == 404, page.text
        return token_in(page)


def token_in(page: requests.Response) -> str:
    match = _TOKEN.search(page.text)
    assert match, page.text
    return unescape(match.group(1))


def set_cookies(response: requests.Response) -> dict[str, str]:
    """Each Set-Cookie header of a response, by cookie name, as sent (flags included)."""
    found: dict[str, str] = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def audit_rows(**where) -> list[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        statement = statement.where(getattr(AuditEvent, name) == value)
    with db.session_scope(write=False) as session:
        return list(session.scalars(statement))


def stored_session(cookie: str) -> TherapistSession | None:
    with db.session_scope(write=False) as session:
        return session.get(TherapistSession, hashlib.sha256(cookie.encode()).hexdigest())


def assert_login_redirect(response: requests.Response) -> None:
    assert response.status_code == 303, (response.status_code, response.text)
    assert response.headers["Location"].startswith("/therapist/login")


def error_text(page: requests.Response) -> str:
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S)
    assert match, page.text
    return unescape(match.group(1))


def assert_dashboard_headers(response: requests.Response) -> None:
    assert response.headers["Cache-Control"] == "no-store", response.headers
    assert response.headers["Content-Security-Policy"] == DASHBOARD_CSP
    assert response.headers["X-Frame-Options"] == "DENY"


# ----------------------------------------------------------------------------- the login page


@pytest.mark.slow
def test_login_page_has_a_signed_form_token_and_strict_cookie(web: Server) -> None:
    browser = Browser(web)
    page = browser.get("/therapist/login")
    assert page.status_code == 200
    assert_dashboard_headers(page)
    assert "<script" not in page.text and "style=" not in page.text
    token = token_in(page)
    cookie = set_cookies(page)["companion_login_csrf"]
    assert {"httponly", "samesite=strict", "path=/therapist"} <= flags(cookie)
    assert "secure" not in flags(cookie)
    nonce = browser.http.cookies["companion_login_csrf"]
    assert token != nonce  # the form carries a signature of the cookie, not a copy of it
    # A second visit keeps the nonce, so two open login tabs both work.
    assert token_in(browser.get("/therapist/login")) == token


def test_signing_in_starts_a_server_side_session(web: Server, north: Clinic) -> None:
    browser = Browser(web)
    response = browser.login(north.therapist)
    assert response.status_code == 303
    assert response.headers["Location"] == "/therapist/"
    assert_dashboard_headers(response)
    cookie_header = set_cookies(response)["companion_session"]
    assert {"httponly", "samesite=strict", "path=/therapist"} <= flags(cookie_header)
    assert "secure" not in flags(cookie_header)
    assert not any(flag.startswith(("max-age", "expires")) for flag in flags(cookie_header))
    cookie = browser.session_cookie
    assert cookie and len(cookie) >= 40

    row = stored_session(cookie)
    assert row is not None and row.ended_at is None
    assert cookie not in (row.id, row.csrf_token)
    assert row.expires_at - row.created_at == timedelta(hours=12)
    assert row.ip == "127.0.0.1"
    account = therapists.get(north.therapist)
    assert account is not None and row.therapist_id == account.id
    (login,) = audit_rows(action="login", actor=north.therapist)
    assert (login.outcome, login.ip, login.clinic_id) == ("ok", "127.0.0.1", account.clinic_id)

    # Signed in, the login page sends the therapist on.
    again = browser.get("/therapist/login")
    assert again.status_code == 303 and again.headers["Location"] == "/therapist/"


def test_session_cookie_is_secure_when_the_proxy_says_https(web: Server, north: Clinic) -> None:
    """uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (its default) and reports https."""
    browser = Browser(web)
    https = {"X-Forwarded-Proto": "https"}
    page = browser.get("/therapist/login", headers=https)
    header = set_cookies(page)["companion_login_csrf"]
    assert "secure" in flags(header)
    # requests keeps Secure cookies for https URLs; the test talks plain HTTP to uvicorn.
    nonce = header.split(";", 1)[0].split("=", 1)[1]
    response = browser.post(
        "/therapist/login",
        data={"email": north.therapist, "password": PASSWORD, "csrf_token": token_in(page)},
        headers=https,
        cookies={"companion_login_csrf": nonce},
    )
    assert response.status_code == 303
    assert "secure" in flags(set_cookies(response)["companion_session"])


def test_the_login_form_is_refused_without_its_token(web: Server, north: Clinic) -> None:
    browser = Browser(web)
    token = browser.login_token()
    other = Browser(web).login_token()  # valid, but for another browser's nonce
    for data in (
        {"email": north.therapist, "password": PASSWORD},
        {"email": north.therapist, "password": PASSWORD, "csrf_token": ""},
        {"email": north.therapist, "password": PASSWORD, "csrf_token": "x" * 64},
        {"email": north.therapist, "password": PASSWORD, "csrf_token": other},
    ):
        response = browser.post("/therapist/login", data=data)
        assert response.status_code == 403, response.text
        assert_dashboard_headers(response)
        assert "companion_session" not in set_cookies(response)
    # Without the nonce cookie, even the right token is refused.
    bare = requests.post(
        web.url + "/therapist/login",
        data={"email": north.therapist, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert bare.status_code == 403
    assert audit_rows(action="login", actor=north.therapist) == []
    # And the form still works with it.
    assert (
        browser.post(
            "/therapist/login",
            data={"email": north.therapist, "password": PASSWORD, "csrf_token": token},
        ).status_code
        == 303
    )


@pytest.mark.slow
def test_failures_say_the_same_whether_or_not_the_account_exists(
    web: Server, north: Clinic
) -> None:
    browser = Browser(web)
    unknown_email = f"nobody-{next(_numbers)}@nowhere.example"
    wrong_password = browser.login(north.therapist, "not the password at all")
    unknown = browser.login(unknown_email, PASSWORD)
    assert wrong_password.status_code == unknown.status_code == 400
    assert error_text(wrong_password) == error_text(unknown) == therapists.LOGIN_FAILED
    assert "companion_session" not in set_cookies(wrong_password)

    def skeleton(page: requests.Response, email: str) -> str:
        return _TOKEN.sub("", page.text).replace(email, "EMAIL")

    assert skeleton(wrong_password, north.therapist) == skeleton(unknown, unknown_email)

    (failed,) = audit_rows(action="login", actor=north.therapist)
    assert (failed.outcome, failed.detail) == ("failed", {"reason": "bad_credentials"})
    assert failed.clinic_id is not None
    (stranger,) = audit_rows(action="login", actor=unknown_email)
    assert (stranger.outcome, stranger.clinic_id) == ("failed", None)


def test_what_was_typed_is_shown_back_as_text(web: Server) -> None:
    browser = Browser(web)
    typed = '"><script>alert(1)</script>@x.example'
    page = browser.login(typed, "whatever it is")
    assert page.status_code == 400
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def _failed_attempts(browser: Browser, email: str, count: int) -> list[tuple[float, float]]:
    """Sign in with a wrong password ``count`` times in a row; when each was sent and when
    its answer came."""
    times = []
    for _ in range(count):
        sent = time.monotonic()
        response = browser.login(email, "wrong password, again")
        times.append((sent, time.monotonic()))
        assert response.status_code == 400
        assert error_text(response) == therapists.LOGIN_FAILED
    return times


@pytest.fixture
def fresh_network(web: Server) -> None:
    """Forget the counters of this machine's network and of the whole app.

    Every test of this module signs in from 127.0.0.1, and the attempts they leave within the
    window count for the network and the app too: past twenty, the network's own waits would
    refuse the fifth attempt here outright (a refusal answers at once), which is a different
    rule from the one these tests check."""
    with db.session_scope() as session:
        session.execute(
            delete(LoginThrottle).where(
                (LoginThrottle.key == therapists.GLOBAL_KEY)
                | LoginThrottle.key.startswith(therapists.NETWORK_KEY_PREFIX)
            )
        )


def assert_spaced(attempts: list[tuple[float, float]]) -> None:
    """From the fourth attempt on, passwords are checked at least one step, then two steps,
    after the previous one (whether the attempt waited, or argon2 itself took that long).

    Measured from when the previous attempt was *sent*: the server counts the wait from the
    previous failure, which it records while answering that attempt, so on a busy machine
    the previous answer can arrive late and leave less than a step between the two answers.
    """
    (_, _), (_, _), (sent_3, _), (sent_4, end_4), (_, end_5) = attempts
    assert end_4 - sent_3 >= DELAY_STEP, attempts
    assert end_5 - sent_4 >= 2 * DELAY_STEP, attempts


@pytest.mark.slow
def test_failed_sign_ins_are_slowed_but_the_address_is_never_locked(
    web: Server, north: Clinic, fresh_network: None
) -> None:
    browser = Browser(web)
    assert_spaced(_failed_attempts(browser, north.therapist, 5))

    # The right password is not refused for a pause: it waits for its turn, then gets in.
    assert browser.login(north.therapist, PASSWORD).status_code == 303
    reasons = [
        row.detail.get("reason", "ok") for row in audit_rows(action="login", actor=north.therapist)
    ]
    assert reasons == ["bad_credentials"] * 5 + ["ok"]
    with db.session_scope(write=False) as session:
        assert session.get(LoginThrottle, north.therapist) is None  # success forgets failures
    # Another address was never affected.
    assert Browser(web).login(north.admin).status_code == 303


@pytest.mark.slow
def test_unknown_addresses_are_slowed_like_real_ones(
    web: Server, north: Clinic, fresh_network: None
) -> None:
    email = f"Ghost-{next(_numbers)}@nowhere.example"
    browser = Browser(web)
    assert_spaced(_failed_attempts(browser, email, 5))
    # As for a real address, the next attempt waits for its turn and is checked, not paused.
    assert browser.login(email.upper(), "another guess").status_code == 400
    rows = audit_rows(action="login", actor=email.lower())
    assert [row.detail["reason"] for row in rows] == ["bad_credentials"] * 6


# ----------------------------------------------------------------------------- redirects


def test_pages_behind_the_login_redirect_to_it(web: Server, north: Clinic) -> None:
    browser = Browser(web)
    for path in ("/therapist/", "/therapist/audit", "/therapist/no-such-page"):
        response = browser.get(path)
        assert_login_redirect(response)
        assert_dashboard_headers(response)
    assert browser.get("/therapist/audit").headers["Location"] == (
        "/therapist/login?next=/therapist/audit"
    )
    # A made-up cookie is no session, and is dropped.
    forged = browser.get("/therapist/audit", cookies={"companion_session": "forged" * 7})
    assert_login_redirect(forged)
    assert "max-age=0" in flags(set_cookies(forged)["companion_session"])


def test_after_signing_in_the_page_asked_for_opens(web: Server, north: Clinic) -> None:
    browser = Browser(web)
    first = browser.get("/therapist/audit")
    next_page = browser.get(first.headers["Location"])
    assert 'name="next" value="/therapist/audit"' in next_page.text
    response = browser.login(north.admin, next_path="/therapist/audit")
    assert response.headers["Location"] == "/therapist/audit"
    assert browser.get("/therapist/audit").status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/", "https://evil.example/therapist/", "/\\evil.example", "/elsewhere"],
)
def test_sign_in_never_redirects_off_the_dashboard(
    web: Server, north: Clinic, next_path: str
) -> None:
    response = Browser(web).login(north.therapist, next_path=next_path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/therapist/"


# ----------------------------------------------------------------------------- sessions


@pytest.mark.slow
def test_signing_out_ends_the_session_for_good(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.admin)
    cookie = browser.session_cookie
    assert cookie
    token = browser.page_token()
    response = browser.post("/therapist/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/therapist/login?signed_out=1"
    assert "max-age=0" in flags(set_cookies(response)["companion_session"])
    row = stored_session(cookie)
    assert row is not None and row.ended_at is not None
    (logout,) = audit_rows(action="logout", actor=north.admin)
    assert (logout.outcome, logout.ip) == ("ok", "127.0.0.1")

    # The old cookie, replayed by anyone who kept it, opens nothing.
    replay = Browser(web)
    replay.http.cookies.set("companion_session", cookie, path="/therapist")
    assert_login_redirect(replay.get("/therapist/audit"))
    assert_login_redirect(replay.post("/therapist/logout", data={"csrf_token": token}))
    assert len(audit_rows(action="logout", actor=north.admin)) == 1
    page = browser.get(response.headers["Location"])
    assert "You have signed out." in page.text


@pytest.mark.slow
def test_signing_out_needs_the_session_token(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.therapist)
    other = Browser(web).signed_in(north.admin)
    others_token = other.page_token()
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "wrong"}, {"csrf_token": others_token}):
        response = browser.post("/therapist/logout", data=data)
        assert response.status_code == 403, response.text
        assert_dashboard_headers(response)
        assert "This form has expired" in response.text
    cookie = browser.session_cookie
    assert cookie and stored_session(cookie).ended_at is None
    denied = audit_rows(action="access_denied", actor=north.therapist)
    assert len(denied) == 4
    assert denied[0].detail == {"path": "/therapist/logout", "reason": "csrf"}
    assert denied[0].outcome == "denied"
    # Still signed in: the right token works.
    token = browser.page_token()
    assert browser.post("/therapist/logout", data={"csrf_token": token}).status_code == 303


@pytest.mark.slow
def test_each_sign_in_has_its_own_token(web: Server, north: Clinic) -> None:
    first = Browser(web).signed_in(north.admin)
    second = Browser(web).signed_in(north.admin)
    assert first.page_token() != second.page_token()
    assert first.session_cookie != second.session_cookie


@pytest.mark.slow
def test_signing_in_again_ends_the_previous_session(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.therapist)
    old = browser.session_cookie
    assert old
    # Signed in, the login page redirects; a browser can still post the form it had open.
    browser.http.cookies.set("companion_login_csrf", "n" * 43, path="/therapist")
    token = login_csrf_token("n" * 43)
    response = browser.post(
        "/therapist/login",
        data={"email": north.admin, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303
    assert stored_session(old).ended_at is not None


def _age_session(cookie: str, **values) -> None:
    with db.session_scope() as session:
        session.execute(
            update(TherapistSession)
            .where(TherapistSession.id == hashlib.sha256(cookie.encode()).hexdigest())
            .values(**values)
        )


@pytest.mark.slow
def test_fifteen_idle_minutes_end_the_session(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.admin)
    cookie = browser.session_cookie
    assert cookie
    _age_session(cookie, last_seen_at=utcnow() - timedelta(minutes=14))
    assert browser.get("/therapist/audit").status_code == 200  # and the visit counts as activity
    assert utcnow() - stored_session(cookie).last_seen_at < timedelta(minutes=1)

    _age_session(cookie, last_seen_at=utcnow() - timedelta(minutes=15, seconds=5))
    assert_login_redirect(browser.get("/therapist/audit"))
    assert stored_session(cookie).ended_at is not None
    (expired,) = audit_rows(action="session_expired", actor=north.admin)
    assert expired.detail == {"reason": "idle"}
    # Ended means ended: activity cannot bring it back.
    _age_session(cookie, last_seen_at=utcnow())
    replay = Browser(web)
    replay.http.cookies.set("companion_session", cookie, path="/therapist")
    assert_login_redirect(replay.get("/therapist/audit"))


def test_twelve_hours_end_even_an_active_session(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.admin)
    cookie = browser.session_cookie
    assert cookie
    started = utcnow() - timedelta(hours=12, seconds=1)
    _age_session(cookie, created_at=started, expires_at=started + timedelta(hours=12))
    assert_login_redirect(browser.get("/therapist/audit"))
    (expired,) = audit_rows(action="session_expired", actor=north.admin)
    assert expired.detail == {"reason": "max_age"}


@pytest.mark.slow
def test_a_disabled_account_loses_its_session_and_cannot_sign_in(
    web: Server, north: Clinic
) -> None:
    browser = Browser(web).signed_in(north.admin)
    with db.session_scope() as session:
        session.execute(
            update(Therapist).where(Therapist.email == north.admin).values(disabled_at=utcnow())
        )
    assert_login_redirect(browser.get("/therapist/audit"))
    refused = Browser(web).login(north.admin)
    assert refused.status_code == 400
    assert error_text(refused) == therapists.LOGIN_FAILED


@pytest.mark.slow
def test_the_idle_timeout_comes_from_the_settings(short_idle_web: Server) -> None:
    clinic = _new_clinic("East")
    browser = Browser(short_idle_web).signed_in(clinic.admin)
    assert browser.get("/therapist/audit").status_code == 200
    time.sleep(2)
    assert_login_redirect(browser.get("/therapist/audit"))
    (expired,) = audit_rows(action="session_expired", actor=clinic.admin)
    assert expired.detail == {"reason": "idle"}


# ----------------------------------------------------------------------------- audit page


def test_the_audit_page_is_for_administrators_only(web: Server, north: Clinic) -> None:
    browser = Browser(web).signed_in(north.therapist)
    refused = browser.get("/therapist/audit")
    unknown = browser.get("/therapist/no-such-page")
    assert refused.status_code == unknown.status_code == 404
    assert_dashboard_headers(refused)
    assert _TOKEN.sub("", refused.text) == _TOKEN.sub("", unknown.text)
    assert "Audit log</a>" not in refused.text  # no link to it in the navigation either
    (denied,) = audit_rows(action="access_denied", actor=north.therapist)
    assert (denied.outcome, denied.detail) == ("denied", {"path": "/therapist/audit"})
    assert audit_rows(action="view_audit", actor=north.therapist) == []


@pytest.mark.slow
def test_administrators_see_their_own_clinic_only(
    web: Server, north: Clinic, south: Clinic
) -> None:
    Browser(web).signed_in(south.therapist)
    Browser(web).login(south.admin, "wrong password for south")
    Browser(web).signed_in(north.therapist)
    browser = Browser(web).signed_in(north.admin)

    page = browser.get("/therapist/audit")
    assert page.status_code == 200
    assert_dashboard_headers(page)
    assert "<script" not in page.text and "style=" not in page.text
    assert north.therapist in page.text and north.admin in page.text
    assert south.therapist not in page.text and south.admin not in page.text
    # This very visit is recorded before the rows are read, so it is the first row.
    first_row = page.text.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "view_audit" in first_row and north.admin in first_row
    (viewed,) = audit_rows(action="view_audit", actor=north.admin)
    assert viewed.outcome == "ok" and viewed.ip == "127.0.0.1"


@pytest.mark.slow
def test_the_audit_page_filters(web: Server, north: Clinic) -> None:
    Browser(web).signed_in(north.therapist)
    Browser(web).login(north.therapist, "a wrong password here")
    browser = Browser(web).signed_in(north.admin)

    logins = browser.get("/therapist/audit", params={"action": "login"})
    body = logins.text.split("<tbody>", 1)[1]
    assert body.count("<tr") == 3  # the therapist's sign-in and failure, the admin's sign-in
    assert "view_audit</td>" not in body

    by_actor = browser.get(
        "/therapist/audit", params={"action": "login", "actor": north.therapist.upper()}
    )
    assert by_actor.text.split("<tbody>", 1)[1].count("<tr") == 2
    assert 'value="login" selected' in by_actor.text

    future = browser.get("/therapist/audit", params={"since": "2999-01-01"})
    assert "No audit events match these filters." in future.text
    past = browser.get("/therapist/audit", params={"until": "2000-01-01"})
    assert "No audit events match these filters." in past.text
    today = utcnow().date().isoformat()
    both = browser.get("/therapist/audit", params={"since": today, "until": today})
    assert both.text.split("<tbody>", 1)[1].count("<tr") >= 4  # 3 sign-ins, 2 visits

    bad = browser.get("/therapist/audit", params={"since": "<b>soon</b>"})
    assert bad.status_code == 200
    assert "is not a date like 2026-11-27" in bad.text
    assert "<b>soon</b>" not in bad.text
    recorded = audit_rows(action="view_audit", actor=north.admin)
    assert recorded[0].detail == {"action": "login"}
    assert recorded[1].detail == {"action": "login", "actor": north.therapist.upper()}
    assert recorded[2].detail == {"since": "2999-01-01T00:00:00+00:00"}
    assert recorded[4].detail == {
        "since": f"{today}T00:00:00+00:00",
        "until": f"{(utcnow().date() + timedelta(days=1)).isoformat()}T00:00:00+00:00",
    }


# ----------------------------------------------------------------------------- notifier


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict]]]:
    """A clinic's webhook endpoint on loopback, keeping the JSON bodies it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_web_app_announces_new_risk_flags(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    hook: tuple[str, list[dict]],
    new_database: NewDatabase,
) -> None:
    """The notifier runs inside the web app's process, started and stopped with it."""
    url, received = hook
    notifying = _start(
        tmp_path_factory.mktemp("notifying"),
        new_database,
        COMPANION_NOTIFY_INTERVAL="0.3",
        COMPANION_WEBHOOK_SECRET="hook-secret-0123456789abcdef0123456789",
    )
    server = next(notifying)
    try:
        for _ in point_at(server, monkeypatch):
            registry.create("west", "West", origins=["https://west.example"], webhook_url=url)
            sender_id = patients.invite("west").sender_id
            flag_id = journal.record_risk_flag(
                sender_id, message="words", category="suicide", source="lexicon"
            )
            deadline = time.monotonic() + 15
            while not received and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [body["flag_id"] for body in received] == [flag_id]
            # The notice is marked sent once the webhook has answered: the hook can see the
            # notice a moment before the web app's commit.
            notified_at = None
            while time.monotonic() < deadline:
                with db.session_scope(write=False) as session:
                    notified_at = session.get(RiskFlag, flag_id).notified_at
                if notified_at is not None:
                    break
                time.sleep(0.1)
            assert notified_at is not None
    finally:
        started = time.monotonic()
        next(notifying, None)  # stops the server
        assert time.monotonic() - started < 8  # the notifier does not hold up shutdown
