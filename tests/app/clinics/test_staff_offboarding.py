"""Ending a person's access: ``python -m bot therapist list|disable|enable|set-password|
end-sessions`` as real subprocesses, and the clinic administrators' staff page of the web app
served by a real uvicorn process. Both on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape

import pytest
import requests
from conftest import CliRun, NewDatabase, one_line_error
from servers import base_environment, point_at, serving, web_app_service
from sqlalchemy import select

from bot.clinics import registry, therapists
from bot.runner import free_port
from bot.storage import db
from bot.storage.models import AuditEvent, Therapist, TherapistSession

pytestmark = [pytest.mark.databases("sqlite", "postgresql"), pytest.mark.slow]

PASSWORD = "a long enough passphrase"
NEW_PASSWORD = "an entirely different passphrase"
SECRET = "staff-test-secret-0123456789abcdef0123456789abcdef0123"
TIMEOUT = 30
_numbers = itertools.count(1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def audit_rows(action: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(statement))


def open_sessions(email: str) -> int:
    with db.session_scope(write=False) as session:
        rows = session.scalars(
            select(TherapistSession)
            .join(Therapist, Therapist.id == TherapistSession.therapist_id)
            .where(Therapist.email == email, TherapistSession.ended_at.is_(None))
        ).all()
        return len(rows)


def account(email: str) -> Therapist:
    with db.session_scope(write=False) as session:
        row = session.scalars(select(Therapist).where(Therapist.email == email)).one()
        session.expunge(row)
        return row


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def north(clinic_db: str) -> str:
    registry.create("north", "North Clinic", origins=["https://north.example"])
    therapists.create("north", "boss@north.example", PASSWORD, admin=True)
    therapists.create("north", "ann@north.example", PASSWORD)
    return "north"


@pytest.fixture
def cli(north: str, run_cli: CliRun) -> CliRun:
    """The command line, on a database with the North clinic and its staff."""
    return run_cli


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout


def test_cli_disable_ends_every_session_at_once_and_enable_undoes_it(cli) -> None:
    first = therapists.authenticate("ann@north.example", PASSWORD).cookie
    second = therapists.authenticate("ann@north.example", PASSWORD).cookie
    assert open_sessions("ann@north.example") == 2

    out = ok(cli("therapist", "disable", "--email", "Ann@North.example"))
    assert out == "Disabled ann@north.example at north; ended 2 sessions.\n"
    assert account("ann@north.example").disabled_at is not None
    # Ended in the database by the command itself, before either browser comes back.
    assert open_sessions("ann@north.example") == 0
    assert therapists.resolve_session(first) is None
    assert therapists.resolve_session(second) is None
    refused = therapists.authenticate("ann@north.example", PASSWORD)
    assert not refused.ok
    (disabled,) = audit_rows("disable_therapist")
    assert disabled.actor.startswith("cli:")
    assert (disabled.target, disabled.outcome, disabled.detail) == (
        "ann@north.example",
        "ok",
        {"sessions_ended": 2},
    )
    assert disabled.clinic_id == account("ann@north.example").clinic_id

    again = ok(cli("therapist", "disable", "--email", "ann@north.example"))
    assert again == "ann@north.example at north was already disabled; ended 0 sessions.\n"

    assert ok(cli("therapist", "enable", "--email", "ann@north.example")) == (
        "Enabled ann@north.example at north.\n"
    )
    assert account("ann@north.example").disabled_at is None
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
    assert therapists.resolve_session(first) is None  # old sessions stay ended
    (enabled,) = audit_rows("enable_therapist")
    assert (enabled.target, enabled.detail) == ("ann@north.example", {"sessions_ended": 0})


def test_cli_end_sessions_signs_out_everywhere_but_leaves_the_account(cli) -> None:
    cookies = [therapists.authenticate("ann@north.example", PASSWORD).cookie for _ in range(3)]
    other = therapists.authenticate("boss@north.example", PASSWORD).cookie
    out = ok(cli("therapist", "end-sessions", "--email", "ann@north.example"))
    assert out == "Ended 3 sessions of ann@north.example.\n"
    assert all(therapists.resolve_session(cookie) is None for cookie in cookies)
    assert therapists.resolve_session(other) is not None
    assert therapists.authenticate("ann@north.example", PASSWORD).ok
    (ended,) = audit_rows("end_sessions")
    assert (ended.target, ended.detail) == ("ann@north.example", {"sessions_ended": 3})


def test_cli_set_password_replaces_it_and_ends_the_old_sessions(cli) -> None:
    cookie = therapists.authenticate("ann@north.example", PASSWORD).cookie
    args = ("therapist", "set-password", "--email", "ann@north.example", "--password-stdin")
    short = cli(*args, stdin="too short\n")
    assert "too short" in one_line_error(short)
    assert therapists.resolve_session(cookie) is not None  # nothing changed

    out = ok(cli(*args, stdin=NEW_PASSWORD + "\n"))
    assert out == "Set a new password for ann@north.example; ended 1 session.\n"
    assert NEW_PASSWORD not in out
    assert therapists.resolve_session(cookie) is None
    assert not therapists.authenticate("ann@north.example", PASSWORD).ok
    assert therapists.authenticate("ann@north.example", NEW_PASSWORD).ok
    (changed,) = audit_rows("set_password")
    assert (changed.target, changed.detail) == ("ann@north.example", {"sessions_ended": 1})
    assert NEW_PASSWORD not in str(changed.detail)

    prompted = cli(
        "therapist", "set-password", "--email", "ann@north.example",
        stdin=f"{PASSWORD}\nsomething else entirely\n",
    )  # fmt: skip
    assert prompted.returncode == 1 and prompted.stdout == ""
    assert prompted.stderr.endswith("The two passwords differ; the password was not changed.\n")
    assert therapists.authenticate("ann@north.example", NEW_PASSWORD).ok


def test_cli_lists_a_clinics_accounts(cli) -> None:
    registry.create("south", "South", origins=["https://south.example"])
    therapists.create("south", "sam@south.example", PASSWORD)
    therapists.authenticate("ann@north.example", PASSWORD)
    ok(cli("therapist", "disable", "--email", "boss@north.example"))

    lines = ok(cli("therapist", "list", "--clinic", "north")).splitlines()
    assert len(lines) == 2
    boss, ann = (line.split("\t") for line in lines)
    assert boss[:2] == ["boss@north.example", "administrator"]
    assert boss[2].startswith("disabled since ")
    assert boss[3:] == ["last sign-in -", "0 sessions open"]
    assert ann[:3] == ["ann@north.example", "therapist", "active"]
    assert ann[3].startswith("last sign-in 20") and ann[4] == "1 session open"

    listed = json.loads(ok(cli("therapist", "list", "--clinic", "north", "--json")))
    assert [row["email"] for row in listed] == ["boss@north.example", "ann@north.example"]
    assert listed[1]["role"] == "therapist" and listed[1]["live_sessions"] == 1
    assert "password_hash" not in listed[0] and "sam@south.example" not in str(listed)
    viewed = audit_rows("view_staff")
    assert len(viewed) == 2 and all(row.actor.startswith("cli:") for row in viewed)

    assert "No clinic with the slug 'nowhere'." in one_line_error(
        cli("therapist", "list", "--clinic", "nowhere")
    )


@pytest.mark.parametrize("command", ["disable", "enable", "end-sessions", "set-password"])
def test_cli_names_an_unknown_account_in_one_line(cli, command: str) -> None:
    args = ["therapist", command, "--email", "Nobody@North.example"]
    if command == "set-password":
        args.append("--password-stdin")
    result = cli(*args, stdin=NEW_PASSWORD + "\n")
    assert one_line_error(result) == "No account for nobody@north.example.\n"


# ----------------------------------------------------------------------------- dashboard


@dataclass
class Server:
    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("staff")
    url = new_database(directory / "companion.db", migrated=True)
    port = free_port()
    env = {
        **base_environment(directory, port, SECRET, database_url=url),
        "COMPANION_NOTIFY_INTERVAL": "0",
    }
    with serving(web_app_service(port), env):
        yield Server(url=f"http://127.0.0.1:{port}", env=env)


@pytest.fixture
def web(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    yield from point_at(server, monkeypatch)


@dataclass
class Staff:
    clinic_id: int
    admin: therapists.TherapistView
    therapist: therapists.TherapistView


def new_clinic(name: str) -> Staff:
    number = next(_numbers)
    slug = f"{name.lower()}-{number}"
    registry.create(slug, name, origins=[f"https://{slug}.example"])
    admin = therapists.create(slug, f"admin{number}@{slug}.example", PASSWORD, admin=True)
    therapist = therapists.create(slug, f"therapist{number}@{slug}.example", PASSWORD)
    return Staff(clinic_id=admin.clinic_id, admin=admin, therapist=therapist)


@pytest.fixture
def north_staff(web: Server) -> Staff:
    return new_clinic("North")


@pytest.fixture
def south_staff(web: Server) -> Staff:
    return new_clinic("South")


class Browser:
    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url + path, timeout=TIMEOUT, allow_redirects=False)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)

    def signed_in(self, email: str, password: str = PASSWORD) -> Browser:
        token = token_in(self.get("/therapist/login"))
        response = self.post(
            "/therapist/login", data={"email": email, "password": password, "csrf_token": token}
        )
        assert response.status_code == 303, response.text
        return self

    def token(self) -> str:
        return token_in(self.get("/therapist/no-such-page"))

    def change(self, therapist_id: int, action: str, token: str | None = None) -> requests.Response:
        return self.post(
            f"/therapist/staff/{therapist_id}/{action}",
            data={"csrf_token": self.token() if token is None else token},
        )


def token_in(page: requests.Response) -> str:
    match = _TOKEN.search(page.text)
    assert match, page.text
    return unescape(match.group(1))


def is_login_redirect(response: requests.Response) -> bool:
    return response.status_code == 303 and response.headers["Location"].startswith(
        "/therapist/login"
    )


def test_the_staff_page_lists_the_admins_own_clinic_only(
    web: Server, north_staff: Staff, south_staff: Staff
) -> None:
    admin = Browser(web).signed_in(north_staff.admin.email)
    page = admin.get("/therapist/staff")
    assert page.status_code == 200, page.text
    assert north_staff.admin.email in page.text and north_staff.therapist.email in page.text
    assert south_staff.admin.email not in page.text
    assert south_staff.therapist.email not in page.text
    assert 'href="/therapist/staff"' in page.text
    (viewed,) = [row for row in audit_rows("view_staff") if row.actor == north_staff.admin.email]
    assert viewed.clinic_id == north_staff.clinic_id and viewed.ip == "127.0.0.1"

    therapist = Browser(web).signed_in(north_staff.therapist.email)
    refused = therapist.get("/therapist/staff")
    assert refused.status_code == 404
    assert 'href="/therapist/staff"' not in refused.text
    denied = [
        row for row in audit_rows("access_denied") if row.actor == north_staff.therapist.email
    ]
    assert [row.detail for row in denied] == [{"path": "/therapist/staff"}]


def test_an_admin_disables_a_therapist_whose_sessions_end_at_once(
    web: Server, north_staff: Staff
) -> None:
    target = north_staff.therapist
    laptop = Browser(web).signed_in(target.email)
    phone = Browser(web).signed_in(target.email)
    admin = Browser(web).signed_in(north_staff.admin.email)

    response = admin.change(target.id, "disable")
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == f"/therapist/staff?done=disable&account={target.id}"
    # Ended in the database by the change itself, before either browser comes back.
    assert open_sessions(target.email) == 0
    assert account(target.email).disabled_at is not None
    page = admin.get(response.headers["Location"])
    assert f"{target.email} can no longer sign in" in unescape(page.text)
    assert is_login_redirect(laptop.get("/therapist/"))
    assert is_login_redirect(phone.get("/therapist/"))
    stranger = Browser(web)
    token = token_in(stranger.get("/therapist/login"))
    refused = stranger.post(
        "/therapist/login", data={"email": target.email, "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 400
    (disabled,) = [row for row in audit_rows("disable_therapist") if row.target == target.email]
    assert (disabled.actor, disabled.clinic_id, disabled.ip, disabled.detail) == (
        north_staff.admin.email,
        north_staff.clinic_id,
        "127.0.0.1",
        {"sessions_ended": 2},
    )

    assert admin.change(target.id, "enable").status_code == 303
    assert account(target.email).disabled_at is None
    Browser(web).signed_in(target.email)
    assert [row.target for row in audit_rows("enable_therapist")].count(target.email) == 1


def test_an_admin_ends_a_therapists_sessions(web: Server, north_staff: Staff) -> None:
    target = north_staff.therapist
    laptop = Browser(web).signed_in(target.email)
    admin = Browser(web).signed_in(north_staff.admin.email)
    assert "End sessions" in admin.get("/therapist/staff").text
    assert admin.change(target.id, "end-sessions").status_code == 303
    assert open_sessions(target.email) == 0
    assert is_login_redirect(laptop.get("/therapist/"))
    assert account(target.email).disabled_at is None
    Browser(web).signed_in(target.email)  # may sign in again at once
    assert admin.get("/therapist/staff").status_code == 200  # the admin's own session is kept


def test_staff_forms_need_the_session_token(web: Server, north_staff: Staff) -> None:
    target = north_staff.therapist
    Browser(web).signed_in(target.email)
    admin = Browser(web).signed_in(north_staff.admin.email)
    other_token = Browser(web).signed_in(north_staff.admin.email).token()
    for token in ("", "wrong", other_token):
        response = admin.change(target.id, "disable", token=token)
        assert response.status_code == 403, response.text
    bare = requests.post(
        f"{web.url}/therapist/staff/{target.id}/disable",
        data={"csrf_token": admin.token()},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert is_login_redirect(bare)
    assert account(target.email).disabled_at is None
    assert open_sessions(target.email) == 1


def test_another_clinics_admin_gets_the_ordinary_404(
    web: Server, north_staff: Staff, south_staff: Staff
) -> None:
    target = north_staff.therapist
    Browser(web).signed_in(target.email)
    intruder = Browser(web).signed_in(south_staff.admin.email)
    not_found = intruder.get("/therapist/no-such-page").text
    for action in ("disable", "end-sessions", "enable"):
        response = intruder.change(target.id, action)
        assert response.status_code == 404, response.text
        assert _TOKEN.sub("", response.text) == _TOKEN.sub("", not_found)
    for path in ("999999999/disable", f"{target.id}/delete", "abc/disable"):
        assert (
            intruder.post(
                f"/therapist/staff/{path}", data={"csrf_token": intruder.token()}
            ).status_code
            == 404
        )
    assert account(target.email).disabled_at is None
    assert open_sessions(target.email) == 1
    denied = [row for row in audit_rows("access_denied") if row.actor == south_staff.admin.email]
    assert len(denied) == 6
    assert denied[0].detail == {"path": f"/therapist/staff/{target.id}/disable"}
    # A therapist who is not an administrator gets the same, for their own colleague too.
    colleague = Browser(web).signed_in(new_clinic_member(north_staff))
    assert colleague.change(target.id, "disable").status_code == 404
    assert account(target.email).disabled_at is None


def new_clinic_member(staff: Staff) -> str:
    number = next(_numbers)
    return therapists.create(
        staff.admin.clinic_slug, f"colleague{number}@x.example", PASSWORD
    ).email


def test_the_last_admin_cannot_disable_themselves(web: Server, north_staff: Staff) -> None:
    me = north_staff.admin
    admin = Browser(web).signed_in(me.email)
    refused = admin.change(me.id, "disable")
    assert refused.status_code == 409, refused.text
    assert "last administrator" in unescape(refused.text)
    assert account(me.email).disabled_at is None
    assert admin.get("/therapist/staff").status_code == 200  # still signed in

    # With a second administrator, leaving is allowed, and signs this browser out.
    number = next(_numbers)
    therapists.create(me.clinic_slug, f"deputy{number}@x.example", PASSWORD, admin=True)
    left = admin.change(me.id, "disable")
    assert is_login_redirect(left)
    assert account(me.email).disabled_at is not None
    assert is_login_redirect(admin.get("/therapist/staff"))


def test_two_admins_disabling_each_other_at_once_leave_one(web: Server, north_staff: Staff) -> None:
    """The last-administrator rule holds when both requests arrive together: each is checked
    against the other's committed change, not against what both read before either wrote."""
    number = next(_numbers)
    deputy = therapists.create(
        north_staff.admin.clinic_slug, f"deputy{number}@x.example", PASSWORD, admin=True
    )
    first = Browser(web).signed_in(north_staff.admin.email)
    second = Browser(web).signed_in(deputy.email)
    tokens = (first.token(), second.token())
    barrier = threading.Barrier(2)

    def disable(browser: Browser, target: int, token: str) -> int:
        barrier.wait()
        return browser.change(target, "disable", token=token).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                disable,
                (first, second),
                (deputy.id, north_staff.admin.id),
                tokens,
            )
        )
    still_enabled = [
        email
        for email in (north_staff.admin.email, deputy.email)
        if account(email).disabled_at is None
    ]
    assert len(still_enabled) == 1, (results, still_enabled)
    assert sorted(results) in ([303, 409], [303, 303]), results


def test_admins_disabling_each_other_round_after_round_never_deadlock(north_staff: Staff) -> None:
    """Each of two administrators disables the other at the same moment, many times over:
    each request locks the clinic's administrators in one order, so neither ever waits for
    a lock the other holds (on PostgreSQL that was a deadlock and a server error)."""

    def disable(target: therapists.TherapistView, barrier: threading.Barrier) -> str:
        barrier.wait()
        try:
            therapists.disable(by="test", therapist_id=target.id, keep_an_admin=True)
        except therapists.LastAdministrator:
            return "refused"
        return "disabled"

    for _ in range(12):
        pair = [
            therapists.create(
                north_staff.admin.clinic_slug,
                f"pair{next(_numbers)}@x.example",
                PASSWORD,
                admin=True,
            )
            for _ in range(2)
        ]
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(disable, pair, (barrier, barrier)))
        # The clinic's first administrator stays enabled, so both may go.
        assert outcomes == ["disabled", "disabled"]
        assert all(account(member.email).disabled_at is not None for member in pair)
