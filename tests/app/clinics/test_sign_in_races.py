"""Sign-in throttling under simultaneous requests, against real web app processes.

Two uvicorn processes serve one database (SQLite file, or PostgreSQL), as two hosts behind a
load balancer would, so that whatever holds the line must hold it in the database. Requests
name their network with ``X-Forwarded-For``, which uvicorn trusts from 127.0.0.1 as it would
from the reverse proxy.

What is measured is the number of real argon2 verifications the servers ran: each server
process starts with a ``sitecustomize`` (first on its ``PYTHONPATH``) that appends a line to a
file every time ``argon2.PasswordHasher.verify`` is entered, then verifies as usual. The audit
log's reasons are checked against that count, so neither can hide a password check.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import NewDatabase
from servers import base_environment, point_at, serving, web_app_service
from sqlalchemy import delete, select

from bot.clinics import registry, therapists
from bot.runner import free_port
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import AuditEvent, LoginThrottle, Therapist, TherapistSession, utcnow
from bot.web.dashboard.security import login_csrf_token

pytestmark = [pytest.mark.databases("sqlite", "postgresql"), pytest.mark.slow]

SECRET = "sign-in-races-secret-0123456789abcdef0123456789abcdef"
PASSWORD = "the clinician's own passphrase"
#: The delay step of these servers: long enough that a burst of requests is over well before
#: the turns it queued come round, so each test can say exactly how many checks are allowed.
STEP = 3.0
#: The longest wait for a turn (five steps); anything later is refused unchecked.
MAX_WAIT = STEP * therapists.MAX_DELAY_STEPS
HTTP_TIMEOUT = 60
COUNTER_ENV = "COMPANION_TEST_ARGON2_LOG"
SITECUSTOMIZE = f'''
import os

_log = os.environ.get("{COUNTER_ENV}")
if _log:
    import argon2

    _verify = argon2.PasswordHasher.verify

    def _counted_verify(self, hash, password):
        fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"verify\\n")
        finally:
            os.close(fd)
        return _verify(self, hash, password)

    argon2.PasswordHasher.verify = _counted_verify
'''
_numbers = itertools.count(1)


@dataclass
class Cluster:
    """Two web app processes on one database, counting their argon2 verifications."""

    urls: list[str]
    env: dict[str, str]
    counter: Path

    def verifications(self) -> int:
        if not self.counter.exists():
            return 0
        return self.counter.read_bytes().count(b"verify\n")


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase
) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("races")
    hook = directory / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    counter = directory / "argon2.log"
    url = new_database(directory / "companion.db", migrated=True)
    ports = [free_port(), free_port()]
    env = {
        **base_environment(directory, ports[0], SECRET, database_url=url),
        "PYTHONPATH": f"{hook}{os.pathsep}{PROJECT_ROOT}",
        "COMPANION_LOGIN_DELAY_SECONDS": str(STEP),
        "COMPANION_LOGIN_LOCK_SECONDS": "120",
        "COMPANION_LOGIN_WINDOW_SECONDS": "600",
        "COMPANION_NOTIFY_INTERVAL": "0",
        COUNTER_ENV: str(counter),
    }
    second = {**env, "COMPANION_PUBLIC_WEB_URL": f"http://127.0.0.1:{ports[1]}"}
    with serving(web_app_service(ports[0]), env), serving(web_app_service(ports[1]), second):
        yield Cluster(urls=[f"http://127.0.0.1:{port}" for port in ports], env=env, counter=counter)


@pytest.fixture
def web(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """The running servers, with this process pointed at their database and key."""
    yield from point_at(cluster, monkeypatch)


@pytest.fixture
def clinician(web: Cluster) -> str:
    """A new clinic's therapist, whose address no other test touches."""
    number = next(_numbers)
    registry.create(f"races-{number}", "Races", origins=[f"https://races-{number}.example"])
    return therapists.create(f"races-{number}", f"clinician{number}@races.example", PASSWORD).email


def sign_in(url: str, email: str, password: str, network: str) -> requests.Response:
    """One login form post from ``network``, with a valid form token of its own."""
    nonce = os.urandom(16).hex()
    return requests.post(
        url + "/therapist/login",
        data={"email": email, "password": password, "csrf_token": login_csrf_token(nonce)},
        cookies={"companion_login_csrf": nonce},
        headers={"X-Forwarded-For": network},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def login_reasons(*actors: str) -> Counter[str]:
    """How each recorded sign-in of these addresses ended: "ok" or the failure's reason."""
    with db.session_scope(write=False) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login", AuditEvent.actor.in_(actors))
        ).all()
    return Counter("ok" if row.outcome == "ok" else row.detail["reason"] for row in rows)


def prefill(key: str, attempts: int) -> None:
    """Put a counter where that many attempts within the window would have left it."""
    with db.session_scope() as session:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
        session.add(
            LoginThrottle(key=key, failures=attempts, first_failure_at=utcnow(), locked_until=None)
        )


def test_simultaneous_wrong_passwords_check_five_at_most(web: Cluster, clinician: str) -> None:
    """60 wrong passwords at once, spread over both servers: three are checked at once, two
    more at their turns one and three steps later; the next turn (seven steps away) is beyond
    the five-step wait, so the other 55 are refused without their password being checked."""
    before = web.verifications()
    calls = [
        (lambda n=n: sign_in(web.urls[n % 2], clinician, f"wrong guess number {n}", "203.0.113.10"))
        for n in range(60)
    ]
    responses = all_at_once(calls)

    checked = web.verifications() - before
    assert 3 <= checked <= 5, checked
    assert [response.status_code for response in responses] == [400] * 60
    assert login_reasons(clinician) == Counter(
        {"bad_credentials": checked, "throttled": 60 - checked}
    )
    with db.session_scope(write=False) as session:
        sessions = session.scalars(
            select(TherapistSession.id)
            .join(Therapist, Therapist.id == TherapistSession.therapist_id)
            .where(Therapist.email == clinician)
        ).all()
    assert sessions == []


def test_a_flood_from_one_network_delays_nobody_elsewhere(web: Cluster, clinician: str) -> None:
    """While someone keeps guessing a clinician's password from one network, and after they
    stop, the clinician signs in from another network at the first try, without waiting for
    any pause to end.

    "Without waiting" is measured against a colleague nobody is guessing at, signing in from a
    third network right before, under the same flood: the pause the clinician would wait is
    at least one delay step (``STEP``) longer than the colleague's sign-in, whatever the load
    on the machine makes a sign-in cost."""
    number = clinician.split("@")[0].removeprefix("clinician")
    colleague = therapists.create(
        f"races-{number}", f"colleague{number}@races.example", PASSWORD
    ).email
    stop = threading.Event()
    flood_statuses: list[int] = []

    def flood(worker: int) -> None:
        while not stop.is_set():
            response = sign_in(web.urls[worker % 2], clinician, "guess again", "203.0.113.20")
            flood_statuses.append(response.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for worker in range(8):
            pool.submit(flood, worker)
        try:
            deadline = time.monotonic() + 15
            while len(flood_statuses) < 40 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(flood_statuses) >= 40, "the flood did not get going"
            started = time.monotonic()
            control = sign_in(web.urls[0], colleague, PASSWORD, "198.51.100.30")
            unhindered = time.monotonic() - started
            started = time.monotonic()
            during = sign_in(web.urls[0], clinician, PASSWORD, "198.51.100.20")
            waited = time.monotonic() - started
        finally:
            stop.set()
    assert control.status_code == 303, control.text
    assert during.status_code == 303, during.text
    assert waited < unhindered + STEP / 2, (waited, unhindered)
    assert set(flood_statuses) == {400}

    after = sign_in(web.urls[1], clinician, PASSWORD, "198.51.100.21")
    assert after.status_code == 303, after.text
    reasons = login_reasons(clinician)
    assert reasons["ok"] == 2
    assert reasons["bad_credentials"] <= 5 + 1  # a burst's five, and at most one later turn


def test_one_network_trying_many_addresses_is_slowed_down(web: Cluster) -> None:
    """A network that already made twenty attempts this window (on any addresses) gets two
    more checked out of twelve at once, while another network is checked as usual."""
    prefill(therapists.network_key("192.0.2.50"), therapists.NETWORK_POLICY.free)
    before = web.verifications()
    sprayed = [f"spray{next(_numbers)}@races.example" for _ in range(12)]
    elsewhere = [f"elsewhere{next(_numbers)}@races.example" for _ in range(2)]
    calls = [
        (lambda email=email: sign_in(web.urls[0], email, "a guess", "192.0.2.50"))
        for email in sprayed
    ] + [
        (lambda email=email: sign_in(web.urls[1], email, "a guess", "192.0.2.51"))
        for email in elsewhere
    ]
    responses = all_at_once(calls)

    assert {response.status_code for response in responses} == {400}
    # Turns now and two steps later; the next, six steps after that, is too far away.
    sprayed_reasons = login_reasons(*sprayed)
    assert sprayed_reasons["bad_credentials"] <= 2, sprayed_reasons
    assert sprayed_reasons["throttled"] >= 10, sprayed_reasons
    assert login_reasons(*elsewhere) == Counter({"bad_credentials": 2})
    checked = web.verifications() - before
    assert checked == sprayed_reasons["bad_credentials"] + 2


def test_past_the_global_allowance_passwords_are_checked_one_per_half_step(web: Cluster) -> None:
    """Once the whole app has counted 100 attempts in the window, checks are spaced half a
    step apart wherever they come from: sixteen attempts from sixteen networks at once get at
    most eleven turns within the five-step wait (now, then every half step), the rest are
    refused unchecked."""
    prefill(therapists.GLOBAL_KEY, therapists.GLOBAL_POLICY.free)
    try:
        before = web.verifications()
        addresses = [f"many{next(_numbers)}@races.example" for _ in range(16)]
        calls = [
            (
                lambda n=n, email=email: sign_in(
                    web.urls[n % 2], email, "a guess", f"198.18.{n}.{n + 1}"
                )
            )
            for n, email in enumerate(addresses)
        ]
        started = time.monotonic()
        responses = all_at_once(calls)
        elapsed = time.monotonic() - started

        assert {response.status_code for response in responses} == {400}
        reasons = login_reasons(*addresses)
        slots = int(MAX_WAIT / (STEP * therapists.GLOBAL_POLICY.base_steps)) + 1
        assert 1 <= reasons["bad_credentials"] <= slots, reasons
        assert reasons["throttled"] >= len(addresses) - slots, reasons
        assert web.verifications() - before == reasons["bad_credentials"]
        # The checks that were allowed were spread out, not run at once.
        spacing = STEP * therapists.GLOBAL_POLICY.base_steps
        assert elapsed >= spacing * (reasons["bad_credentials"] - 1) * 0.9, elapsed
    finally:
        with db.session_scope() as session:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == therapists.GLOBAL_KEY))
