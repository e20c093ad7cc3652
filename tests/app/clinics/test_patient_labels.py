"""Patients the care team recognises (bot.clinics.patients): the clinic's label, sealed at rest;
the assigned therapist, of the same clinic; link status, re-issue and revocation by clinic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text, update

from bot import encryption, patient_tokens
from bot.clinics import patients, registry, therapists
from bot.patient_tokens import AccessDenied
from bot.storage import db
from bot.storage.models import Patient, PatientLink

pytestmark = pytest.mark.databases("sqlite", "postgresql")

NORTH = "https://north.example"
SOUTH = "https://south.example"
LABEL = "J.D. 4411 <b>"


@dataclass(frozen=True)
class Clinic:
    id: int
    slug: str


@pytest.fixture
def clinics(clinic_db: str) -> tuple[Clinic, Clinic]:
    """Two clinics (their ids), North with two therapists and South with one."""
    registry.create("north", "North", origins=[NORTH])
    registry.create("south", "South", origins=[SOUTH])
    therapists.create("north", "dr.ana@north.example", "north-password-1234")
    therapists.create("north", "dr.ben@north.example", "north-password-5678")
    therapists.create("south", "dr.cy@south.example", "south-password-1234")
    return tuple(Clinic(therapists.clinic_id(slug), slug) for slug in ("north", "south"))


def token_of(url: str) -> str:
    return urlsplit(url).fragment.removeprefix("companion-token=")


def stored_patient(sender_id: str) -> Patient:
    with db.session_scope(write=False) as session:
        patient = session.scalars(select(Patient).where(Patient.sender_id == sender_id)).one()
        session.expunge(patient)
        return patient


def raw_label(sender_id: str) -> str | None:
    with db.get_engine().connect() as connection:
        return connection.execute(
            text("SELECT label FROM patients WHERE sender_id = :s"), {"s": sender_id}
        ).scalar_one()


def test_invite_keeps_the_label_sealed_and_assigns_the_therapist(clinics) -> None:
    north, _ = clinics
    invite = patients.invite(
        "north", timedelta(days=7), label=f"  {LABEL}\n", therapist="DR.ANA@north.example"
    )

    assert invite.label == LABEL  # trimmed, inner spaces kept
    assert invite.therapist == "dr.ana@north.example"
    patient = stored_patient(invite.sender_id)
    assert patient.label == LABEL
    assert patient.therapist_id == therapists.get("dr.ana@north.example").id
    stored = raw_label(invite.sender_id)
    assert stored is not None and encryption.is_sealed(stored) and "4411" not in stored


def test_a_label_is_optional_and_a_blank_one_is_none(clinics) -> None:
    invite = patients.invite("north", label="   ")
    assert invite.label is None and invite.therapist is None
    assert raw_label(invite.sender_id) is None


@pytest.mark.parametrize(
    ("label", "problem"),
    [("x" * (patients.MAX_LABEL + 1), "at most"), ("J.D.\x00 4411", "control characters")],
)
def test_bad_labels_are_refused_with_a_reason(clinics, label: str, problem: str) -> None:
    with pytest.raises(patients.InviteError, match=problem):
        patients.invite("north", label=label)
    with db.session_scope(write=False) as session:
        assert session.scalars(select(Patient)).all() == []


def test_only_an_enabled_therapist_of_the_same_clinic_can_be_assigned(clinics) -> None:
    with pytest.raises(patients.InviteError, match="not a therapist of this clinic"):
        patients.invite("north", therapist="dr.cy@south.example")
    with pytest.raises(patients.InviteError, match="not a therapist of this clinic"):
        patients.invite("north", therapist="nobody@north.example")
    therapists.disable(email="dr.ben@north.example", by="test")
    with pytest.raises(patients.InviteError, match="disabled"):
        patients.invite("north", therapist="dr.ben@north.example")
    with db.session_scope(write=False) as session:
        assert session.scalars(select(Patient)).all() == []


def test_link_status_follows_use_expiry_and_revocation(clinics) -> None:
    north, _ = clinics
    invite = patients.invite("north", label="A.B. 1")
    (link,) = patients.links(north.id, invite.sender_id)
    assert link.status == "unused" and link.first_used_at is None

    patient_tokens.verify_token(token_of(invite.url), origin=NORTH)
    (link,) = patients.links(north.id, invite.sender_id)
    assert link.status == "active"
    first_use = link.first_used_at
    assert first_use is not None and abs(datetime.now(UTC) - first_use) < timedelta(minutes=1)
    patient_tokens.verify_token(token_of(invite.url), origin=NORTH)
    assert patients.links(north.id, invite.sender_id)[0].first_used_at == first_use  # once

    with db.session_scope() as session:
        session.execute(
            update(PatientLink)
            .where(PatientLink.id == invite.link_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert patients.links(north.id, invite.sender_id)[0].status == "expired"
    assert patients.revoke_link(north.id, invite.sender_id, invite.link_id) is True
    assert patients.links(north.id, invite.sender_id)[0].status == "revoked"
    assert patients.revoke_link(north.id, invite.sender_id, invite.link_id) is False


def test_reissue_switches_off_the_earlier_invitations(clinics) -> None:
    north, _ = clinics
    first = patients.invite("north", label="C.D. 2", therapist="dr.ana@north.example")
    second = patients.reissue(north.id, first.sender_id, timedelta(days=14))

    assert second is not None
    assert second.sender_id == first.sender_id and second.link_id != first.link_id
    assert second.label == "C.D. 2" and second.therapist == "dr.ana@north.example"
    with pytest.raises(AccessDenied) as refused:
        patient_tokens.verify_token(token_of(first.url), origin=NORTH)
    assert refused.value.reason == "revoked"
    assert patient_tokens.verify_token(token_of(second.url), origin=NORTH).sender_id == (
        first.sender_id
    )
    statuses = {link.id: link.status for link in patients.links(north.id, first.sender_id)}
    assert statuses == {first.link_id: "revoked", second.link_id: "active"}


def test_another_clinic_can_neither_see_nor_change_a_patient(clinics) -> None:
    north, south = clinics
    invite = patients.invite("north", label="E.F. 3")

    assert patients.links(south.id, invite.sender_id) is None
    assert patients.revoke_link(south.id, invite.sender_id, invite.link_id) is None
    assert patients.reissue(south.id, invite.sender_id) is None
    assert not patients.update_patient(south.id, invite.sender_id, label="x", therapist=None)
    assert patients.links(north.id, invite.sender_id)[0].status == "unused"
    assert stored_patient(invite.sender_id).label == "E.F. 3"


def test_update_changes_the_label_and_the_assignment(clinics) -> None:
    north, _ = clinics
    invite = patients.invite("north", label="G.H. 4", therapist="dr.ana@north.example")

    assert patients.update_patient(
        north.id, invite.sender_id, label="G.H. 4 (moved)", therapist="dr.ben@north.example"
    )
    patient = stored_patient(invite.sender_id)
    assert patient.label == "G.H. 4 (moved)"
    assert patient.therapist_id == therapists.get("dr.ben@north.example").id

    assert patients.update_patient(north.id, invite.sender_id, label="", therapist=None)
    patient = stored_patient(invite.sender_id)
    assert patient.label is None and patient.therapist_id is None
    with pytest.raises(patients.InviteError):
        patients.update_patient(
            north.id, invite.sender_id, label="ok", therapist="dr.cy@south.example"
        )
