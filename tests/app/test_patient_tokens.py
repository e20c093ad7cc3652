"""Patient tokens and clinics' origins (bot.patient_tokens) against a real SQLite database."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from bot import patient_tokens, settings
from bot.clinics import patients, registry
from bot.patient_tokens import AccessDenied, Identity, normalize_origin
from bot.storage import db
from bot.storage.models import Patient, PatientLink

NORTH = "https://north.example"
SOUTH = "https://south.example"


@pytest.fixture
def two_clinics(clinic_db: str) -> str:
    registry.create("north", "North clinic", origins=[NORTH, "http://localhost:3000"])
    registry.create("south", "South clinic", origins=[SOUTH])
    return clinic_db


@pytest.fixture
def north_invite(two_clinics: str) -> patients.Invite:
    return patients.invite("north", timedelta(days=7))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def denied(token: object, origin: str | None = NORTH, **kwargs: bool) -> str:
    with pytest.raises(AccessDenied) as caught:
        patient_tokens.verify_token(token, origin=origin, **kwargs)  # type: ignore[arg-type]
    assert caught.value.message == patient_tokens.MESSAGES[caught.value.reason]
    return caught.value.reason


# ----------------------------------------------------------------------------- good tokens


def test_a_fresh_invite_verifies(north_invite: patients.Invite) -> None:
    identity = patient_tokens.verify_token(north_invite.token, origin=NORTH)

    assert identity == Identity(
        sender_id=north_invite.sender_id,
        clinic="north",
        jti=north_invite.link_id,
        kind="invite",
        expires_at=north_invite.expires_at,
    )
    assert identity.expires_at.tzinfo is not None


def test_the_token_carries_the_documented_claims(north_invite: patients.Invite) -> None:
    claims = claims_of(north_invite.token)
    header = jwt.get_unverified_header(north_invite.token)

    assert header["alg"] == "HS256"
    assert claims["sub"] == north_invite.sender_id
    assert claims["clinic"] == "north"
    assert claims["jti"] == north_invite.link_id
    assert claims["kind"] == "invite"
    assert claims["exp"] == int(north_invite.expires_at.timestamp())
    assert abs(claims["iat"] - time.time()) < 60
    # Signed with the deployment's key and nothing else.
    jwt.decode(
        north_invite.token, os.environ["COMPANION_TOKEN_SECRET"].encode(), algorithms=["HS256"]
    )


def test_check_origin_false_ignores_the_origin(north_invite: patients.Invite) -> None:
    for origin in (None, "https://evil.example", SOUTH, "not an origin"):
        identity = patient_tokens.verify_token(
            north_invite.token, origin=origin, check_origin=False
        )
        assert identity.sender_id == north_invite.sender_id


def test_issue_token_round_trips_through_verify(two_clinics: str) -> None:
    invite = patients.invite("south", timedelta(hours=1))
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    token = patient_tokens.issue_token(
        sender_id=invite.sender_id,
        clinic="south",
        jti=invite.link_id,
        kind="invite",
        expires_at=expires_at,
    )

    identity = patient_tokens.verify_token(token, origin=SOUTH)

    assert identity.expires_at == expires_at
    assert identity.sender_id == invite.sender_id


# ----------------------------------------------------------------------------- refused tokens


def test_a_token_signed_with_another_key_is_refused(north_invite: patients.Invite) -> None:
    forged = jwt.encode(
        claims_of(north_invite.token),
        "another key, just as long as the real one: 0123456789",
        algorithm="HS256",
    )
    assert denied(forged) == "invalid_signature"


def test_a_tampered_payload_is_refused(two_clinics: str) -> None:
    first = patients.invite("north", timedelta(days=1))
    second = patients.invite("north", timedelta(days=1))
    header, _, signature = first.token.split(".")
    _, payload, _ = second.token.split(".")

    assert denied(f"{header}.{payload}.{signature}") == "invalid_signature"


def test_an_unsigned_token_is_refused(north_invite: patients.Invite) -> None:
    unsigned = jwt.encode(claims_of(north_invite.token), None, algorithm="none")
    assert denied(unsigned) == "malformed_token"


def test_an_expired_token_is_refused(north_invite: patients.Invite) -> None:
    token = patient_tokens.issue_token(
        sender_id=north_invite.sender_id,
        clinic="north",
        jti=north_invite.link_id,
        kind="invite",
        expires_at=datetime.now(UTC) - timedelta(seconds=5),
    )
    assert denied(token) == "expired"
    assert denied(token, check_origin=False) == "expired"


def test_a_link_that_expired_in_the_database_is_refused(north_invite: patients.Invite) -> None:
    # verify_token's docstring: the link must not "have expired in the database either".
    with db.session_scope() as session:
        session.execute(
            update(PatientLink)
            .where(PatientLink.id == north_invite.link_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )

    assert denied(north_invite.token) == "expired"


def test_a_link_revoked_by_its_id_is_refused(north_invite: patients.Invite) -> None:
    assert patients.revoke(link_id=north_invite.link_id) == 1
    assert denied(north_invite.token) == "revoked"
    assert denied(north_invite.token, check_origin=False) == "revoked"


def test_a_link_revoked_by_its_patient_is_refused(north_invite: patients.Invite) -> None:
    other = patients.invite("north", timedelta(days=7))

    assert patients.revoke(sender_id=north_invite.sender_id) == 1

    assert denied(north_invite.token) == "revoked"
    assert patient_tokens.verify_token(other.token, origin=NORTH).sender_id == other.sender_id


def test_a_deleted_link_row_is_refused(north_invite: patients.Invite) -> None:
    with db.session_scope() as session:
        session.execute(delete(PatientLink).where(PatientLink.id == north_invite.link_id))

    assert denied(north_invite.token) == "revoked"


def test_a_deleted_patient_takes_their_links_along(north_invite: patients.Invite) -> None:
    with db.session_scope() as session:
        session.execute(delete(Patient).where(Patient.sender_id == north_invite.sender_id))
        assert session.scalars(select(PatientLink)).all() == []

    assert denied(north_invite.token) == "revoked"


def test_a_token_naming_another_patient_is_refused(two_clinics: str) -> None:
    victim = patients.invite("north", timedelta(days=1))
    attacker = patients.invite("north", timedelta(days=1))
    # A correctly signed token whose link id belongs to someone else's row.
    token = patient_tokens.issue_token(
        sender_id=victim.sender_id,
        clinic="north",
        jti=attacker.link_id,
        kind="invite",
        expires_at=attacker.expires_at,
    )

    assert denied(token) in {"revoked", "wrong_clinic"}


def test_a_token_naming_another_clinic_is_refused(north_invite: patients.Invite) -> None:
    # The row says "north"; a token claiming "south" must not open south's pages.
    token = patient_tokens.issue_token(
        sender_id=north_invite.sender_id,
        clinic="south",
        jti=north_invite.link_id,
        kind="invite",
        expires_at=north_invite.expires_at,
    )

    assert denied(token, origin=SOUTH) in {"revoked", "wrong_clinic"}
    assert denied(token, origin=NORTH) in {"revoked", "wrong_clinic", "origin_not_allowed"}


def test_an_unknown_link_id_is_refused(two_clinics: str) -> None:
    token = patient_tokens.issue_token(
        sender_id="p-nobody",
        clinic="north",
        jti="0" * 32,
        kind="invite",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    assert denied(token) == "revoked"


@pytest.mark.parametrize("token", [None, "", 0, 123, b"bytes.are.not", ["a.b.c"], {"t": 1}])
def test_a_missing_or_non_string_token_is_refused(two_clinics: str, token: object) -> None:
    assert denied(token) == "missing_token"


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
        "Bearer eyJ0eXAiOiJKV1QifQ",
        "🙂.🙂.🙂",
    ],
)
def test_garbage_is_refused(two_clinics: str, token: str) -> None:
    assert denied(token) in {"malformed_token", "invalid_signature"}


@pytest.mark.parametrize("missing", ["sub", "clinic", "jti", "kind", "exp"])
def test_a_signed_token_without_a_required_claim_is_refused(
    north_invite: patients.Invite, missing: str
) -> None:
    claims = claims_of(north_invite.token)
    del claims[missing]
    token = jwt.encode(claims, settings.token_secret(), algorithm="HS256")
    assert denied(token) == "malformed_token"


@pytest.mark.parametrize("claim", ["clinic", "kind"])
def test_a_signed_token_with_a_non_string_claim_is_refused(
    north_invite: patients.Invite, claim: str
) -> None:
    claims = claims_of(north_invite.token)
    claims[claim] = 7
    token = jwt.encode(claims, settings.token_secret(), algorithm="HS256")
    assert denied(token) == "malformed_token"


def test_every_reason_has_a_message_for_the_patient() -> None:
    expected = {
        "missing_token",
        "malformed_token",
        "invalid_signature",
        "expired",
        "revoked",
        "origin_not_allowed",
        "unknown_clinic",
        "anonymous_not_allowed",
        "anonymous_off",
        "wrong_clinic",
    }
    assert set(patient_tokens.MESSAGES) == expected
    for reason in expected:
        error = AccessDenied(reason)
        assert error.reason == reason
        assert error.message == patient_tokens.MESSAGES[reason]
        assert error.message.endswith(".")
        assert "token" not in error.message.lower()


# ----------------------------------------------------------------------------- origins


@pytest.mark.parametrize(
    "origin",
    [
        NORTH,
        "HTTPS://NORTH.EXAMPLE",
        "https://North.Example/",
        "https://north.example:443",
        "  https://north.example  ",
        "http://localhost:3000",
        "http://LOCALHOST:3000/",
    ],
)
def test_the_clinics_origins_are_accepted_however_written(
    north_invite: patients.Invite, origin: str
) -> None:
    assert patient_tokens.verify_token(north_invite.token, origin=origin).clinic == "north"


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        SOUTH,
        "http://north.example",
        "https://north.example:8443",
        "https://north.example.evil.example",
        "https://evil.example",
        "http://localhost:3001",
        "http://127.0.0.1:3000",
        "https://north.example/path",
        "null",
        "not an origin",
    ],
)
def test_other_origins_are_refused(north_invite: patients.Invite, origin: str | None) -> None:
    assert denied(north_invite.token, origin=origin) == "origin_not_allowed"


def test_clinic_allows_origin(two_clinics: str) -> None:
    assert patient_tokens.clinic_allows_origin("north", "https://NORTH.example:443/")
    assert patient_tokens.clinic_allows_origin("south", SOUTH)
    assert not patient_tokens.clinic_allows_origin("south", NORTH)
    assert not patient_tokens.clinic_allows_origin("north", None)
    assert not patient_tokens.clinic_allows_origin("north", "ftp://north.example")
    assert not patient_tokens.clinic_allows_origin("nowhere", NORTH)


def test_origin_allowed_anywhere(two_clinics: str) -> None:
    assert patient_tokens.origin_allowed_anywhere(NORTH)
    assert patient_tokens.origin_allowed_anywhere("HTTPS://SOUTH.EXAMPLE:443")
    assert patient_tokens.origin_allowed_anywhere("http://localhost:3000/")
    for origin in (None, "", "https://evil.example", "http://localhost:3001", "garbage", "null"):
        assert not patient_tokens.origin_allowed_anywhere(origin)


def test_origin_allowed_anywhere_sees_a_new_clinic_after_reset(two_clinics: str) -> None:
    new = "https://new.example"
    assert not patient_tokens.origin_allowed_anywhere(new)

    registry.create("new", "New clinic", origins=[new])

    # Still the cached answer: the handshake check reads the database at most every 5 s.
    assert not patient_tokens.origin_allowed_anywhere(new)
    patient_tokens.reset()
    assert patient_tokens.origin_allowed_anywhere(new)


def test_origin_allowed_anywhere_sees_a_new_clinic_after_the_cache_time(
    two_clinics: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert patient_tokens.ORIGIN_CACHE_SECONDS <= 5
    monkeypatch.setattr(patient_tokens, "ORIGIN_CACHE_SECONDS", 0.3)
    new = "https://later.example"
    assert not patient_tokens.origin_allowed_anywhere(new)
    registry.create("later", "Later clinic", origins=[new])

    time.sleep(0.4)

    assert patient_tokens.origin_allowed_anywhere(new)


def test_origin_allowed_anywhere_forgets_a_removed_origin(two_clinics: str) -> None:
    assert patient_tokens.origin_allowed_anywhere(SOUTH)
    registry.update("south", origins=["https://south-new.example"])
    patient_tokens.reset()
    assert not patient_tokens.origin_allowed_anywhere(SOUTH)
    assert patient_tokens.origin_allowed_anywhere("https://south-new.example")


def test_the_origin_cache_belongs_to_one_database(
    two_clinics: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert patient_tokens.origin_allowed_anywhere(NORTH)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    db.reset_engines()
    db.upgrade()

    assert not patient_tokens.origin_allowed_anywhere(NORTH)


@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(st.none(), st.text(max_size=40), st.from_regex(r"https?://[a-zA-Z.:/]*")))
def test_origin_checks_never_raise(two_clinics: str, origin: str | None) -> None:
    allowed = patient_tokens.origin_allowed_anywhere(origin)
    assert isinstance(allowed, bool)
    assert patient_tokens.clinic_allows_origin("north", origin) in {True, False}
    if allowed:
        assert normalize_origin(origin or "") in {NORTH, SOUTH, "http://localhost:3000"}


# ----------------------------------------------------------------------------- sender_clinic


def test_sender_clinic(two_clinics: str) -> None:
    north = patients.invite("north", timedelta(days=1))
    south = patients.invite("south", timedelta(days=1))

    assert patient_tokens.sender_clinic(north.sender_id) == "north"
    assert patient_tokens.sender_clinic(south.sender_id) == "south"
    assert patient_tokens.sender_clinic("p-never-seen") is None
    assert patient_tokens.sender_clinic("") is None


def test_sender_clinic_of_a_journal_patient_is_the_demo_clinic(clinic_db: str) -> None:
    from bot.journal import entries as journal

    journal.save_entry("demo-42", "checkin", fields={"note": "fine"})
    assert patient_tokens.sender_clinic("demo-42") == "demo"


def test_sender_has_links_only_for_patients_given_a_token(clinic_db: str) -> None:
    from bot.journal import entries as journal

    invited = patients.invite("demo", timedelta(days=1))
    journal.save_entry("demo-rest-1", "checkin", fields={"note": "fine"})
    token, _ = patients.start_anonymous("demo", "https://companion.example")
    anonymous = patient_tokens.verify_token(token, origin=None, check_origin=False)

    assert patient_tokens.sender_has_links(invited.sender_id)
    assert patient_tokens.sender_has_links(anonymous.sender_id)
    assert not patient_tokens.sender_has_links("demo-rest-1")
    assert not patient_tokens.sender_has_links("p-never-seen")
    # Revoking a link does not reopen the conversation to anyone without a token.
    patients.revoke(sender_id=invited.sender_id)
    assert patient_tokens.sender_has_links(invited.sender_id)


# ----------------------------------------------------------------------------- the key


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_TOKEN_SECRET", "from-env")
    assert settings.token_secret() == b"from-env"


def test_without_the_variable_a_private_key_file_is_created_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPANION_TOKEN_SECRET", raising=False)
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")

    first = settings.token_secret()
    second = settings.token_secret()

    path = tmp_path / "var" / "secrets" / "token.key"
    assert first == second
    assert len(first) >= 32
    assert path.read_text().strip().encode() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) & 0o077 == 0
