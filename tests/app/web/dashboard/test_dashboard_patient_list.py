"""The patients list of a clinic with 120 patients: search by label or id, the flagged and
quiet filters, pages of 50 that keep the filters, and anonymous visitors left out; over HTTP
against a real uvicorn process (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from html import unescape

import pytest
import requests
from dashboard_seed import SeededTherapist
from servers import Browser, SeededServer, environment, point_at, seeded_server
from sqlalchemy import select

from bot.clinics import registry, therapists
from bot.storage import db
from bot.storage.models import (
    AuditEvent,
    Clinic,
    JournalEntry,
    Patient,
    PatientLink,
    RiskFlag,
    utcnow,
)

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "patient-list-test-secret-0123456789abcdef0123456789abcdef"
CLINIC = "bigbay"
STAFF = SeededTherapist("lists@bigbay.example", "bigbay-therapist-42", CLINIC)
TOTAL = 120
#: Patients 1-5 have an open flag, 6-40 wrote two days ago, 41-60 ten days ago, 61-120 never.
FLAGGED = range(1, 6)
RECENT = range(6, 41)
QUIET_WRITERS = range(41, 61)
ROW = re.compile(r'<th scope="row"><a href="/therapist/patients/([^"]+)"')


@dataclass(frozen=True)
class BigClinic:
    server: SeededServer
    senders: dict[int, str]  # patient number -> sender id
    anonymous: tuple[str, ...]  # visitors who never wrote anything


def label(number: int) -> str:
    return f"B.B. {number:03d}"


def _seed(server: SeededServer) -> BigClinic:
    now = utcnow()
    registry.create(CLINIC, "Big Bay Clinic", origins=["https://bigbay.example"])
    therapists.create(CLINIC, STAFF.email, STAFF.password)
    senders: dict[int, str] = {}
    anonymous: list[str] = []
    with db.session_scope() as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == CLINIC)).one()

        def patient(sender_id: str, kind: str, name: str | None) -> Patient:
            row = Patient(sender_id=sender_id, clinic=clinic, label=name, created_at=now)
            session.add(row)
            session.add(
                PatientLink(
                    id=uuid.uuid4().hex,
                    patient=row,
                    kind=kind,
                    created_at=now,
                    expires_at=now + timedelta(days=30),
                )
            )
            session.flush()
            return row

        for number in range(1, TOTAL + 1):
            sender_id = f"p-bb{number:03d}x{uuid.uuid4().hex[:12]}"
            senders[number] = sender_id
            row = patient(sender_id, "invite", label(number))
            if number in FLAGGED:
                session.add(
                    RiskFlag(
                        patient_id=row.id,
                        category="suicide",
                        source="test",
                        message="I can't go on",
                        created_at=now - timedelta(hours=number),
                        last_message_at=now - timedelta(hours=number),
                    )
                )
            elif number in RECENT or number in QUIET_WRITERS:
                days = 2 if number in RECENT else 10
                session.add(
                    JournalEntry(
                        patient_id=row.id,
                        number=1,
                        kind="checkin",
                        status="complete",
                        mood=5,
                        fields={"note": "ok"},
                        created_at=now - timedelta(days=days, minutes=number),
                    )
                )
        for number in range(3):
            sender_id = f"p-anon{number}x{uuid.uuid4().hex[:12]}"
            anonymous.append(sender_id)
            patient(sender_id, "anonymous", None)
    return BigClinic(server=server, senders=senders, anonymous=tuple(anonymous))


@pytest.fixture(scope="module")
def big(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[..., str]
) -> Iterator[BigClinic]:
    directory = tmp_path_factory.mktemp("patient-list")
    url = new_database(directory / "companion.db")
    with seeded_server(directory, SECRET, database_url=url) as running:
        with environment(running.env):
            db.reset_engines()
            seeded = _seed(running)
        db.reset_engines()
        yield seeded


@pytest.fixture
def staff(big: BigClinic, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    for _ in point_at(big.server, monkeypatch):
        yield Browser(big.server).sign_in(STAFF)


def listed(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return ROW.findall(response.text)


def text_of(response: requests.Response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def last_audit() -> AuditEvent:
    with db.session_scope(write=False) as session:
        return session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "view_patients", AuditEvent.actor == STAFF.email)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).one()


def page_links(response: requests.Response) -> list[str]:
    nav = response.text[response.text.index('<nav class="pager"') :]
    nav = nav[: nav.index("</nav>")]
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', nav)]


# ----------------------------------------------------------------------------- paging


def test_120_patients_make_three_pages_of_fifty(staff: Browser, big: BigClinic) -> None:
    first = staff.get("/therapist/")
    second = staff.get("/therapist/?page=2")
    third = staff.get("/therapist/?page=3")

    pages = [listed(first), listed(second), listed(third)]
    assert [len(page) for page in pages] == [50, 50, 20]
    everyone = [sender for page in pages for sender in page]
    assert sorted(everyone) == sorted(big.senders.values())  # each exactly once
    assert everyone[:5] == [big.senders[n] for n in FLAGGED]  # open flags first
    assert "Patients 1–50 of 120" in text_of(first)
    assert "Patients 101–120 of 120" in text_of(third)
    # A therapist with no patients of their own sees everyone's, and the links say so.
    assert page_links(first) == [
        "/therapist/?therapist=all&page=1",
        "/therapist/?therapist=all&page=2",
        "/therapist/?therapist=all&page=3",
        "/therapist/?therapist=all&page=2",  # next
    ]
    assert 'aria-current="page" class="current">2<' in second.text
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text
    assert 'rel="next"' not in third.text and 'rel="prev"' not in first.text
    assert last_audit().detail == {"patients": 120, "therapist": "all", "page": 3}
    # A page past the end (the list shrank since the link was made) is the last page.
    assert listed(staff.get("/therapist/?page=9")) == pages[2]
    assert listed(staff.get("/therapist/?page=0")) == pages[0]
    assert listed(staff.get("/therapist/?page=abc")) == pages[0]


def test_anonymous_visitors_who_never_wrote_are_not_listed(staff: Browser, big: BigClinic) -> None:
    html = "".join(staff.get(f"/therapist/?therapist=all&page={n}").text for n in (1, 2, 3))

    for visitor in big.anonymous:
        assert visitor not in html
    assert listed(staff.get(f"/therapist/?q={big.anonymous[0][:9]}")) == []
    # Still the clinic's, for anyone who has the address (an erasure request names them).
    assert staff.get(f"/therapist/patients/{big.anonymous[0]}").status_code == 200


# ----------------------------------------------------------------------------- search


def test_search_by_label_or_id_is_audited_without_the_text(staff: Browser, big: BigClinic) -> None:
    by_label = staff.get("/therapist/", params={"q": "b.b. 01"})
    by_id = staff.get("/therapist/", params={"q": big.senders[42][:9]})

    assert sorted(listed(by_label)) == sorted(big.senders[n] for n in range(10, 20))
    assert "10 patients matching the filters" in text_of(by_label)
    assert 'value="b.b. 01"' in by_label.text  # the box keeps what was typed
    assert listed(by_id) == [big.senders[42]]
    detail = last_audit().detail
    assert detail == {"patients": 1, "therapist": "all", "search": True}
    assert big.senders[42][:9] not in repr(detail)
    nothing = staff.get("/therapist/", params={"q": "no such patient"})
    assert listed(nothing) == [] and "No patient matches these filters" in text_of(nothing)


# ----------------------------------------------------------------------------- filters


def test_the_flagged_filter(staff: Browser, big: BigClinic) -> None:
    response = staff.get("/therapist/?flagged=1")

    assert listed(response) == [big.senders[n] for n in FLAGGED]
    assert last_audit().detail == {"patients": 5, "therapist": "all", "flagged": True}
    assert 'name="flagged" value="1" checked' in response.text


def test_the_quiet_filter_and_its_pages_keep_the_filters(staff: Browser, big: BigClinic) -> None:
    first = staff.get("/therapist/?quiet=1&q=B.B.")
    second = staff.get("/therapist/?quiet=1&q=B.B.&page=2")

    quiet = {big.senders[n] for n in big.senders if n not in FLAGGED and n not in RECENT}
    shown = listed(first) + listed(second)
    assert len(quiet) == 80 and sorted(shown) == sorted(quiet)
    assert len(listed(first)) == 50
    assert "Patients 1–50 of 80 matching the filters" in text_of(first)
    # Every page link keeps the search and the filter.
    assert page_links(first) == [
        "/therapist/?therapist=all&q=B.B.&quiet=1&page=1",
        "/therapist/?therapist=all&q=B.B.&quiet=1&page=2",
        "/therapist/?therapist=all&q=B.B.&quiet=1&page=2",
    ]
    assert last_audit().detail == {
        "patients": 80,
        "therapist": "all",
        "search": True,
        "quiet": True,
        "page": 2,
    }
    assert 'name="quiet" value="1" checked' in first.text


def test_the_level_filter_still_works_with_the_others(staff: Browser, big: BigClinic) -> None:
    urgent = staff.get("/therapist/?level=urgent&q=B.B. 00")
    info = staff.get("/therapist/?level=info&flagged=1")

    assert listed(urgent) == [big.senders[n] for n in FLAGGED]
    assert listed(info) == []
    assert last_audit().detail == {
        "patients": 0,
        "therapist": "all",
        "level": "info",
        "flagged": True,
    }
