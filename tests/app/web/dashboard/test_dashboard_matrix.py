"""The authorization matrix: every dashboard address and export, tried by everyone.

Two clinics: "harbour" (a therapist and an administrator) and "northside" (a therapist), plus
somebody who is not signed in. Each cell says what must happen; anything else fails. A refused
patient address must look exactly like an address of a patient who does not exist, and every
refusal must be in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import NewDatabase
from servers import Browser, SeededServer, point_at, seeded_server
from sqlalchemy import select

from bot.clinics import registry
from bot.privacy import erasure
from bot.storage import db
from bot.storage.models import AuditEvent, ErasureRequest, RiskFlag

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "matrix-test-secret-0123456789abcdef0123456789abcdef01"
ROLES = ("anonymous", "harbour", "harbour_admin", "northside")
OK, DENIED, LOGIN = "ok", "denied", "login"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase
) -> Iterator[SeededServer]:
    directory = tmp_path_factory.mktemp("matrix")
    url = new_database(directory / "companion.db")
    with seeded_server(directory, SECRET, database_url=url) as running:
        yield running


@pytest.fixture(scope="module")
def browsers(server: SeededServer) -> dict[str, Browser]:
    info = server.info
    return {
        "anonymous": Browser(server),
        "harbour": Browser(server).sign_in(info.therapist),
        "harbour_admin": Browser(server).sign_in(info.admin),
        "northside": Browser(server).sign_in(info.other_therapist),
    }


@pytest.fixture
def web(server: SeededServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededServer]:
    yield from point_at(server, monkeypatch)


def _expected(owner: str | None, *, admin_only: bool = False) -> dict[str, str]:
    """Who may open a page: everyone signed in (owner None), or one clinic's staff."""
    expected = {"anonymous": LOGIN}
    for role in ROLES[1:]:
        clinic = role.split("_")[0]
        allowed = (owner is None or clinic == owner) and (not admin_only or role.endswith("admin"))
        expected[role] = OK if allowed else DENIED
    return expected


def _pages(info) -> list[tuple[str, dict[str, str]]]:
    pages = [
        ("/therapist/", _expected(None)),
        ("/therapist/audit", _expected(None, admin_only=True)),
        ("/therapist/audit?action=login", _expected(None, admin_only=True)),
        ("/therapist/erasure-requests", _expected(None)),
        ("/therapist/erasure-requests?erased=1", _expected(None)),
    ]
    for patient, owner in (
        (info.main, "harbour"),
        (info.xss, "harbour"),
        (info.other, "northside"),
    ):
        base = f"/therapist/patients/{patient}"
        for suffix in (
            "",
            "?q=session&kind=checkin",
            "/export.csv",
            "/export.flags.csv",
            "/export.json",
            "/export.pdf",
        ):
            pages.append((base + suffix, _expected(owner)))
    for path in ("/therapist/patients/p-nobody", "/therapist/patients/p-nobody/export.pdf"):
        pages.append((path, {"anonymous": LOGIN, **dict.fromkeys(ROLES[1:], DENIED)}))
    return pages


def _outcome(response, not_found_body: str) -> str:
    if response.status_code == 200:
        return OK
    if response.status_code == 303 and "/therapist/login" in response.headers["location"]:
        return LOGIN
    if response.status_code == 404:
        assert response.text == not_found_body, "a refusal must look like an unknown address"
        return DENIED
    raise AssertionError(f"unexpected {response.status_code}: {response.text[:200]}")


@pytest.mark.slow
def test_every_page_and_export_opens_only_for_the_right_people(
    web: SeededServer, browsers: dict[str, Browser]
) -> None:
    not_found = {
        role: browsers[role].get("/therapist/patients/p-never-existed").text for role in ROLES[1:]
    }
    results: dict[tuple[str, str], str] = {}
    wanted: dict[tuple[str, str], str] = {}
    for path, expected in _pages(web.info):
        for role in ROLES:
            response = browsers[role].get(path)
            results[(path, role)] = _outcome(response, not_found.get(role, ""))
            wanted[(path, role)] = expected[role]
    wrong = {
        cell: (results[cell], wanted[cell]) for cell in wanted if results[cell] != wanted[cell]
    }
    assert not wrong, f"(path, who): (got, expected) {wrong}"
    # Enough cells of each kind that the matrix is not vacuous.
    assert sorted(set(results.values())) == [DENIED, LOGIN, OK]


@pytest.mark.slow
def test_every_refusal_is_audited(web: SeededServer, browsers: dict[str, Browser]) -> None:
    info = web.info
    targets = [f"/therapist/patients/{info.main}/export.json", f"/therapist/patients/{info.main}"]
    for path in targets:
        assert browsers["northside"].get(path).status_code == 404
    with db.session_scope(write=False) as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access_denied",
                AuditEvent.actor == info.other_therapist.email,
            )
        ).all()
    audited = {row.detail.get("path") for row in rows}
    assert set(targets) <= audited
    assert all(row.outcome == "denied" and row.clinic_id == info.northside.id for row in rows)


@pytest.mark.parametrize(
    ("role", "flag", "allowed"),
    [
        ("northside", "open_flag_id", False),
        ("harbour", "other_flag_id", False),
        ("harbour_admin", "other_flag_id", False),
        ("harbour", "open_flag_id", True),
        ("northside", "other_flag_id", True),
    ],
)
def test_only_the_patients_clinic_can_acknowledge_a_flag(
    web: SeededServer, browsers: dict[str, Browser], role: str, flag: str, allowed: bool
) -> None:
    info = web.info
    flag_id = getattr(info, flag)
    patient = info.main if flag == "open_flag_id" else info.other
    browser = browsers[role]
    # The form's token of the viewer's own list page: CSRF passes, so only scope decides.
    token = browser.csrf_token("/therapist/")
    path = f"/therapist/patients/{patient}/flags/{flag_id}/acknowledge"
    response = browser.post(path, data={"csrf_token": token, "action": "Called the patient"})
    with db.session_scope(write=False) as session:
        acknowledged_by = session.get(RiskFlag, flag_id).acknowledged_by
    if allowed:
        assert response.status_code == 303
        assert acknowledged_by is not None
    else:
        assert response.status_code == 404
        assert (
            acknowledged_by is None
            or acknowledged_by
            != getattr(
                info,
                {"harbour": "therapist", "harbour_admin": "admin", "northside": "other_therapist"}[
                    role
                ],
            ).email
        )


@pytest.mark.parametrize(
    ("role", "patient", "allowed"),
    [
        ("northside", "steady", False),
        ("harbour", "steady", False),  # the right clinic, but only administrators resolve
        ("harbour_admin", "other", False),
        ("northside", "other", False),
        ("harbour_admin", "steady", True),
    ],
)
def test_only_the_patients_clinic_administrators_resolve_erasure_requests(
    web: SeededServer, browsers: dict[str, Browser], role: str, patient: str, allowed: bool
) -> None:
    """Declining (it erases nothing, so every cell can run on the same data)."""
    info = web.info
    for slug in ("harbour", "northside"):
        registry.update(slug, erasure_review=True)
    request = erasure.request_erasure(info.patients[patient]).request
    assert request is not None
    browser = browsers[role]
    token = browser.csrf_token("/therapist/")
    response = browser.post(
        f"/therapist/erasure-requests/{request.id}/resolve",
        data={"csrf_token": token, "decision": "decline", "note": "kept by law"},
    )
    with db.session_scope(write=False) as session:
        status = session.get(ErasureRequest, request.id).status
    if allowed:
        assert response.status_code == 303
        assert status == "declined"
    else:
        not_found = browser.get("/therapist/patients/p-never-existed").text
        assert response.status_code == 404
        assert response.text == not_found
        assert status == "open"
