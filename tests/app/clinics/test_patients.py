"""Patients' personal links, anonymous demo sessions and revocation (bot.clinics.patients)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot import patient_tokens
from bot.clinics import patients, registry
from bot.patient_tokens import AccessDenied
from bot.storage import db
from bot.storage.models import Patient, PatientLink

NORTH = "https://north.example"


@pytest.fixture
def north(clinic_db: str) -> registry.ClinicView:
    return registry.create(
        "north", "North", origins=[NORTH, "https://www.north.example"], allow_anonymous=False
    )


def stored_link(link_id: str) -> tuple[PatientLink, str, str]:
    with db.session_scope(write=False) as session:
        link = session.get(PatientLink, link_id)
        assert link is not None
        patient = session.get(Patient, link.patient_id)
        return link, patient.sender_id, patient.clinic.slug


def token_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("companion-token=")
    return fragment.removeprefix("companion-token=")


# ----------------------------------------------------------------------------- invite


def test_invite_creates_a_patient_and_a_link_in_the_clinic(north: registry.ClinicView) -> None:
    before = datetime.now(UTC)
    invite = patients.invite("north", timedelta(days=30))

    link, sender_id, clinic = stored_link(invite.link_id)
    assert sender_id == invite.sender_id
    assert clinic == "north"
    assert link.kind == "invite"
    assert link.revoked_at is None
    assert before - timedelta(seconds=1) <= link.created_at <= datetime.now(UTC)
    assert link.expires_at == invite.expires_at
    expected = before + timedelta(days=30)
    assert abs((invite.expires_at - expected).total_seconds()) < 5
    assert invite.clinic == "north"
    assert re.fullmatch(r"[0-9a-f]{32}", invite.link_id)
    assert re.fullmatch(r"p-[A-Za-z0-9_-]{20,}", invite.sender_id)
    assert patient_tokens.sender_clinic(invite.sender_id) == "north"


def test_the_token_is_not_stored(north: registry.ClinicView, database_path) -> None:
    import sqlite3

    invite = patients.invite("north")
    dump = "\n".join(sqlite3.connect(database_path).iterdump())
    assert invite.token not in dump
    assert invite.token.split(".")[2] not in dump


def test_the_default_lifetime_is_30_days(north: registry.ClinicView) -> None:
    invite = patients.invite("north")
    lifetime = invite.expires_at - datetime.now(UTC)
    assert timedelta(days=30) - timedelta(seconds=5) < lifetime <= timedelta(days=30)


def test_each_invite_is_a_new_patient(north: registry.ClinicView) -> None:
    invites = [patients.invite("north") for _ in range(5)]
    assert len({i.sender_id for i in invites}) == 5
    assert len({i.link_id for i in invites}) == 5
    assert len({i.token for i in invites}) == 5


def test_the_invite_url_opens_the_first_origin(north: registry.ClinicView) -> None:
    invite = patients.invite("north")

    assert invite.url == f"{NORTH}/#companion-token={invite.token}"
    assert token_of(invite.url) == invite.token
    identity = patient_tokens.verify_token(token_of(invite.url), origin=NORTH)
    assert identity.sender_id == invite.sender_id
    assert identity.kind == "invite"
    assert identity.clinic == "north"
    assert identity.expires_at == invite.expires_at
    # Any of the clinic's origins may open it, none of the others.
    assert (
        patient_tokens.verify_token(invite.token, origin="https://www.north.example").clinic
        == "north"
    )
    with pytest.raises(AccessDenied) as caught:
        patient_tokens.verify_token(invite.token, origin="https://companion.example")
    assert caught.value.reason == "origin_not_allowed"


def test_the_invite_url_opens_the_patient_url(north: registry.ClinicView) -> None:
    registry.update("north", patient_url="https://north.example/companion?lang=en")
    invite = patients.invite("north")
    assert invite.url == f"https://north.example/companion?lang=en#companion-token={invite.token}"


def test_a_clinic_without_origins_links_to_the_web_app(clinic_db: str) -> None:
    registry.create("bare", "Bare", origins=[])
    invite = patients.invite("bare")
    assert invite.url == f"https://companion.example/#companion-token={invite.token}"


def test_the_demo_clinic_links_to_the_web_app(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", "http://localhost:8123/")
    assert registry.get_clinic("demo") is None

    invite = patients.invite("demo")

    assert invite.url == f"http://localhost:8123/#companion-token={invite.token}"
    assert (
        patient_tokens.verify_token(invite.token, origin="http://127.0.0.1:8123").clinic == "demo"
    )
    assert registry.get_clinic("demo").allow_anonymous is True


def test_invite_to_an_unknown_clinic(clinic_db: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        patients.invite("nowhere")
    assert caught.value.reason == "unknown_clinic"
    with db.session_scope(write=False) as session:
        assert session.scalars(select(Patient)).all() == []


@pytest.mark.parametrize(
    "lifetime",
    [
        timedelta(0),
        timedelta(seconds=59),
        timedelta(days=-1),
        timedelta(days=366, seconds=1),
        timedelta(days=3650),
    ],
)
def test_lifetimes_outside_the_limits_are_refused(
    north: registry.ClinicView, lifetime: timedelta
) -> None:
    with pytest.raises(ValueError, match="between one minute and one year"):
        patients.invite("north", lifetime)
    with db.session_scope(write=False) as session:
        assert session.scalars(select(PatientLink)).all() == []


@pytest.mark.parametrize("lifetime", [timedelta(minutes=1), timedelta(days=366)])
def test_the_lifetime_limits_are_inclusive(north: registry.ClinicView, lifetime: timedelta) -> None:
    invite = patients.invite("north", lifetime)
    remaining = invite.expires_at - datetime.now(UTC)
    assert lifetime - timedelta(seconds=5) < remaining <= lifetime
    assert patient_tokens.verify_token(invite.token, origin=NORTH).expires_at == invite.expires_at


# ----------------------------------------------------------------------------- anonymous


def test_start_anonymous_for_the_demo_clinic(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", "http://localhost:8000")

    token, expires_at = patients.start_anonymous("demo", "http://127.0.0.1:8000")

    identity = patient_tokens.verify_token(token, origin="http://localhost:8000")
    assert identity.clinic == "demo"
    assert identity.kind == "anonymous"
    assert identity.expires_at == expires_at
    remaining = expires_at - datetime.now(UTC)
    assert timedelta(hours=12) - timedelta(seconds=5) < remaining <= timedelta(hours=12)
    link, sender_id, clinic = stored_link(identity.jti)
    assert (link.kind, sender_id, clinic) == ("anonymous", identity.sender_id, "demo")


def test_every_anonymous_session_is_a_new_patient(clinic_db: str) -> None:
    senders = {
        patient_tokens.verify_token(
            patients.start_anonymous("demo", "https://companion.example")[0],
            origin=None,
            check_origin=False,
        ).sender_id
        for _ in range(3)
    }
    assert len(senders) == 3


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "https://evil.example",
        "http://companion.example",
        "nonsense",
        "https://companion.example/x",
    ],
)
def test_start_anonymous_only_from_the_clinics_origins(clinic_db: str, origin: str | None) -> None:
    with pytest.raises(AccessDenied) as caught:
        patients.start_anonymous("demo", origin)
    assert caught.value.reason == "origin_not_allowed"


def test_start_anonymous_accepts_the_origin_however_written(clinic_db: str) -> None:
    token, _ = patients.start_anonymous("demo", "HTTPS://Companion.Example:443/")
    assert patient_tokens.verify_token(token, origin="https://companion.example").clinic == "demo"


def test_start_anonymous_is_refused_by_a_clinic_without_anonymous_chats(
    north: registry.ClinicView,
) -> None:
    for origin in (NORTH, "https://evil.example"):
        with pytest.raises(AccessDenied) as caught:
            patients.start_anonymous("north", origin)
        assert caught.value.reason == "anonymous_not_allowed"
    with db.session_scope(write=False) as session:
        assert session.scalars(select(Patient)).all() == []


def test_start_anonymous_for_another_clinic_that_allows_it(north: registry.ClinicView) -> None:
    registry.update("north", allow_anonymous=True)

    token, _ = patients.start_anonymous("north", NORTH)

    assert patient_tokens.verify_token(token, origin=NORTH).clinic == "north"
    with pytest.raises(AccessDenied) as caught:
        patients.start_anonymous("north", "https://companion.example")
    assert caught.value.reason == "origin_not_allowed"


def test_start_anonymous_for_an_unknown_clinic(clinic_db: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        patients.start_anonymous("nowhere", NORTH)
    assert caught.value.reason == "unknown_clinic"


# ----------------------------------------------------------------------------- revoke


def test_revoke_by_link(north: registry.ClinicView) -> None:
    first = patients.invite("north")
    second = patients.invite("north")

    assert patients.revoke(link_id=first.link_id) == 1
    assert patients.revoke(link_id=first.link_id) == 0

    link, _, _ = stored_link(first.link_id)
    assert link.revoked_at is not None
    assert stored_link(second.link_id)[0].revoked_at is None
    assert patient_tokens.verify_token(second.token, origin=NORTH).sender_id == second.sender_id


def test_revoke_by_patient_switches_off_every_link(north: registry.ClinicView) -> None:
    invite = patients.invite("north")
    other = patients.invite("north")
    now = datetime.now(UTC)
    with db.session_scope() as session:
        patient = session.scalars(
            select(Patient).where(Patient.sender_id == invite.sender_id)
        ).one()
        for number in range(2):
            session.add(
                PatientLink(
                    id=f"{number:032x}",
                    patient=patient,
                    kind="invite",
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )

    assert patients.revoke(sender_id=invite.sender_id) == 3
    assert patients.revoke(sender_id=invite.sender_id) == 0
    assert stored_link(other.link_id)[0].revoked_at is None


def test_revoke_of_nothing_known(north: registry.ClinicView) -> None:
    assert patients.revoke(sender_id="p-never") == 0
    assert patients.revoke(link_id="f" * 32) == 0


@pytest.mark.parametrize("arguments", [{}, {"sender_id": "a", "link_id": "b"}])
def test_revoke_needs_exactly_one_target(clinic_db: str, arguments: dict) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        patients.revoke(**arguments)


def test_an_anonymous_session_can_be_revoked(clinic_db: str) -> None:
    token, _ = patients.start_anonymous("demo", "https://companion.example")
    identity = patient_tokens.verify_token(token, origin="https://companion.example")

    assert patients.revoke(sender_id=identity.sender_id) == 1

    with pytest.raises(AccessDenied) as caught:
        patient_tokens.verify_token(token, origin="https://companion.example")
    assert caught.value.reason == "revoked"
