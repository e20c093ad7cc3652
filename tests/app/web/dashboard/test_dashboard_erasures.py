"""The dashboard's erasure requests on a real uvicorn, with the seeded clinics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_seed import CRISIS_TEXT, NORTHSIDE_SECRET
from data_rights_support import make_person
from servers import Browser, SeededServer, point_at, seeded_server
from sqlalchemy import select, text

from bot.clinics import registry
from bot.privacy import erasure
from bot.storage import db
from bot.storage.models import AuditEvent, ErasureRequest

SECRET = "erasures-test-secret-0123456789abcdef0123456789abcdef"
PAGE = "/therapist/erasure-requests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededServer]:
    with seeded_server(tmp_path_factory.mktemp("erasures"), SECRET) as running:
        yield running


@pytest.fixture
def web(server: SeededServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededServer]:
    for web in point_at(server, monkeypatch):
        registry.update("harbour", erasure_review=True)
        registry.update("northside", erasure_review=True)
        yield web


@pytest.fixture(scope="module")
def browsers(server: SeededServer) -> dict[str, Browser]:
    info = server.info
    return {
        "harbour": Browser(server).sign_in(info.therapist),
        "harbour_admin": Browser(server).sign_in(info.admin),
        "northside": Browser(server).sign_in(info.other_therapist),
    }


def ask(sender_id: str) -> erasure.ErasureRequestView:
    outcome = erasure.request_erasure(sender_id)
    assert outcome.kind in ("requested", "already_requested") and outcome.request is not None
    return outcome.request


def status_of(request_id: int) -> str:
    with db.session_scope(write=False) as session:
        return session.get(ErasureRequest, request_id).status


def audit_rows(action: str, actor: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.actor == actor)
                .order_by(AuditEvent.id)
            )
        )


def resolve(browser: Browser, request_id: int | str, **form: str):
    token = browser.csrf_token(PAGE)
    return browser.post(f"{PAGE}/{request_id}/resolve", data={"csrf_token": token, **form})


@pytest.mark.slow
def test_the_list_and_the_patient_page_banner(
    web: SeededServer, browsers: dict[str, Browser]
) -> None:
    info = web.info
    request = ask(info.steady)
    other = ask(info.other)

    admin_page = browsers["harbour_admin"].get(PAGE)
    assert admin_page.status_code == 200
    assert info.steady in admin_page.text and info.other not in admin_page.text
    assert f'action="{PAGE}/{request.id}/resolve"' in admin_page.text
    assert admin_page.headers["cache-control"] == "no-store"
    therapist_page = browsers["harbour"].get(PAGE)
    assert info.steady in therapist_page.text
    assert "/resolve" not in therapist_page.text
    assert "A clinic administrator resolves this request." in therapist_page.text
    northside_page = browsers["northside"].get(PAGE)
    assert info.other in northside_page.text and info.steady not in northside_page.text
    assert NORTHSIDE_SECRET not in admin_page.text

    banner = browsers["harbour"].get(f"/therapist/patients/{info.steady}")
    assert 'id="erasure-request"' in banner.text
    assert f"/therapist/erasure-requests#request-{request.id}" in banner.text
    plain = browsers["harbour"].get(f"/therapist/patients/{info.main}")
    assert 'id="erasure-request"' not in plain.text
    assert 'href="/therapist/erasure-requests"' in plain.text  # the navigation link

    (row, *_) = audit_rows("view_erasure_requests", info.admin.email)
    assert row.clinic_id == info.harbour.id and row.detail["open"] >= 1
    assert other.clinic_id == info.northside.id


def test_declining_needs_a_reason_which_staff_then_see(
    web: SeededServer, browsers: dict[str, Browser]
) -> None:
    info = web.info
    request = ask(info.newcomer)
    admin = browsers["harbour_admin"]

    missing = resolve(admin, request.id, decision="decline", note="   ")
    assert missing.status_code == 400 and "the patient is owed a reason" in missing.text
    assert status_of(request.id) == "open"

    reason = '<script>alert("note")</script> Records are kept for 10 years by law.'
    done = resolve(admin, request.id, decision="decline", note=reason)
    assert done.status_code == 303
    assert done.headers["location"] == f"{PAGE}?declined={request.id}"
    assert status_of(request.id) == "declined"
    page = admin.get(done.headers["location"]).text
    assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt; Records are kept" in page
    assert '<script>alert("note")' not in page
    assert "Declined" in page

    again = resolve(admin, request.id, decision="decline", note="twice")
    assert again.status_code == 409 and "already declined" in again.text
    (row,) = audit_rows("decline_erasure", info.admin.email)
    assert (row.target, row.detail) == (info.newcomer, {"request_id": request.id})


def test_erasing_from_the_dashboard(web: SeededServer, browsers: dict[str, Browser]) -> None:
    info = web.info
    request = ask(info.main)
    admin = browsers["harbour_admin"]
    before = admin.get(f"/therapist/patients/{info.main}").text
    shown = "I keep thinking about ending it all tonight."
    assert CRISIS_TEXT.endswith(shown) and shown in before  # the check below can fail

    unconfirmed = resolve(admin, request.id, decision="erase")
    assert unconfirmed.status_code == 400 and status_of(request.id) == "open"
    done = resolve(admin, request.id, decision="erase", confirm="yes")

    assert done.status_code == 303
    assert done.headers["location"] == f"{PAGE}?erased={request.id}"
    assert status_of(request.id) == "erased"
    page = admin.get(f"/therapist/patients/{info.main}").text
    assert shown not in page and "Heavy in the chest" not in page
    assert 'id="erased-at"' in page and 'id="erasure-request"' not in page
    exported = admin.get(f"/therapist/patients/{info.main}/export.json").json()
    assert exported["entries"] == []
    # The open flag's care team was never told of it (this clinic sends no notices): it stays,
    # without what the patient wrote, until it is acknowledged; the acknowledged one is gone.
    assert [(f["id"], f["level"], f["message"]) for f in exported["risk_flags"]] == [
        (info.open_flag_id, "urgent", "")
    ]
    assert f'id="flag-{info.open_flag_id}"' in page and "erased their data on" in page
    listing = admin.get(f"{PAGE}?erased={request.id}").text
    assert "the patient&#39;s data was erased" in listing and "Data erased" in listing

    (row,) = audit_rows("erase_patient", info.admin.email)
    assert (row.target, row.outcome, row.ip) == (info.main, "ok", "127.0.0.1")
    assert row.detail["request_id"] == request.id
    assert row.detail["stores"]["journal"]["erased"] == info.main_entry_count
    assert row.detail["stores"]["erasure_requests"] == {"erased": 1}
    assert row.detail["stores"]["risk_flags"] == {"erased": 1, "kept_until_notified": 1}


def test_a_failed_erasure_is_said_and_the_request_stays_open(
    web: SeededServer, browsers: dict[str, Browser]
) -> None:
    person = make_person("harbour", "Failing-0d4e")
    request = ask(person.sender_id)
    with db.get_engine().begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER hold_events BEFORE DELETE ON events "
                "BEGIN SELECT RAISE(ABORT, 'events on hold'); END"
            )
        )
    try:
        failed = resolve(browsers["harbour_admin"], request.id, decision="erase", confirm="yes")
    finally:
        with db.get_engine().begin() as connection:
            connection.execute(text("DROP TRIGGER hold_events"))
    assert failed.status_code == 500
    assert "Erasing failed for: events." in failed.text
    assert status_of(request.id) == "open"
    assert erasure.list_requests(web.info.harbour.id)[0]  # still listed as open


def test_who_may_resolve(web: SeededServer, browsers: dict[str, Browser]) -> None:
    info = web.info
    request = ask(info.xss)
    northside_request = ask(info.other)
    not_found = {
        role: browser.get("/therapist/patients/p-never-existed").text
        for role, browser in browsers.items()
    }
    attempts = [
        ("harbour", request.id),  # the right clinic, but not an administrator
        ("northside", request.id),  # another clinic
        ("harbour_admin", northside_request.id),  # an administrator of another clinic
        ("harbour_admin", 99999999),  # no such request
        ("harbour_admin", "1; DROP TABLE x"),
    ]
    for role, request_id in attempts:
        response = resolve(browsers[role], request_id, decision="decline", note="no")
        assert response.status_code == 404, (role, request_id)
        assert response.text == not_found[role], (role, request_id)
    assert status_of(request.id) == status_of(northside_request.id) == "open"
    denied = audit_rows("access_denied", info.therapist.email)
    assert f"{PAGE}/{request.id}/resolve" in {row.detail.get("path") for row in denied}

    # Without the session's form token nothing happens either.
    forged = browsers["harbour_admin"].post(
        f"{PAGE}/{request.id}/resolve", data={"decision": "erase", "confirm": "yes"}
    )
    assert forged.status_code == 403 and status_of(request.id) == "open"
    anonymous = Browser(web).post(f"{PAGE}/{request.id}/resolve", data={"decision": "erase"})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/therapist/login")
    assert status_of(request.id) == "open"
