"""bot/patient_consent.py: the clinic's versioned consent text, agreements and withdrawals, and
the crisis flag kept before consent - on SQLite and PostgreSQL, through the same ``text()``
queries the Rasa server runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot import encryption, patient_consent, patient_tokens
from bot.clinics import patients, registry
from bot.storage import db
from bot.storage.models import PatientConsent, RiskFlag

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture
def clinic(clinic_db: str) -> str:
    registry.create("consent-north", "North clinic", origins=["https://north.example"])
    return "consent-north"


def test_a_new_patient_has_not_agreed_and_the_chat_may_keep_nothing(clinic: str) -> None:
    invite = patients.invite(clinic)
    status = patient_consent.status(invite.sender_id, clinic)
    assert status.version == 1
    assert status.agreed_version is None
    assert not status.current


def test_agreeing_records_the_version_and_time_once(clinic: str) -> None:
    invite = patients.invite(clinic)
    status = patient_consent.record(invite.sender_id, clinic, 1)
    assert status.current and status.agreed_version == 1
    assert status.agreed_at is not None and status.agreed_at.tzinfo is not None
    again = patient_consent.record(invite.sender_id, clinic, 1)
    assert again.agreed_at == status.agreed_at
    with db.session_scope(write=False) as session:
        rows = session.scalars(select(PatientConsent)).all()
        assert [(row.version, row.withdrawn_at) for row in rows] == [(1, None)]


def test_agreeing_to_a_text_that_changed_meanwhile_is_refused(clinic: str) -> None:
    invite = patients.invite(clinic)
    registry.update(clinic, consent_text="Our own words.\n\nA second paragraph.")
    with pytest.raises(patient_consent.VersionChanged) as changed:
        patient_consent.record(invite.sender_id, clinic, 1)
    assert changed.value.current == 2


def test_a_new_version_of_the_text_asks_again(clinic: str) -> None:
    invite = patients.invite(clinic)
    patient_consent.record(invite.sender_id, clinic, 1)
    view = registry.update(clinic, consent_text="Our own words about what is kept.")
    assert view.consent_version == 2
    status = patient_consent.status(invite.sender_id, clinic)
    assert not status.current and status.changed
    assert patient_consent.record(invite.sender_id, clinic, 2).current


def test_the_same_text_again_is_not_a_new_version(clinic: str) -> None:
    registry.update(clinic, consent_text="Our words.")
    assert registry.update(clinic, consent_text="  Our words.\n").consent_version == 2
    default = patient_consent.default_text()
    assert registry.update("consent-north", consent_text="Other words.").consent_version == 3
    registry.create("consent-south", "South clinic", origins=["https://south.example"])
    assert registry.update("consent-south", consent_text=default).consent_version == 1


def test_an_empty_text_is_refused(clinic: str) -> None:
    with pytest.raises(registry.ClinicError, match="empty"):
        registry.update(clinic, consent_text=" \n\n ")


def test_withdrawing_stops_storing_until_agreed_again(clinic: str) -> None:
    invite = patients.invite(clinic)
    assert patient_consent.withdraw(invite.sender_id) is None  # nothing to withdraw yet
    patient_consent.record(invite.sender_id, clinic, 1)
    withdrawn = patient_consent.withdraw(invite.sender_id)
    assert withdrawn is not None
    assert patient_consent.withdraw(invite.sender_id) == withdrawn
    status = patient_consent.status(invite.sender_id, clinic)
    assert not status.current and not status.changed and status.withdrawn_at == withdrawn
    assert patient_consent.record(invite.sender_id, clinic, 1).current
    with db.session_scope(write=False) as session:
        rows = session.scalars(select(PatientConsent).order_by(PatientConsent.id)).all()
        assert [row.withdrawn_at is not None for row in rows] == [True, False]


def test_a_demo_sender_without_a_row_gets_one_in_the_clinic(clinic: str) -> None:
    patient_consent.record("consent-demo-sender", clinic, 1)
    assert patient_tokens.sender_clinic("consent-demo-sender") == clinic


def test_another_clinics_patient_cannot_agree_here(clinic: str) -> None:
    registry.create("consent-south", "South clinic", origins=["https://south.example"])
    invite = patients.invite("consent-south")
    with pytest.raises(patient_tokens.AccessDenied):
        patient_consent.record(invite.sender_id, clinic, 1)


def test_a_crisis_flag_is_kept_sealed_and_counts_further_messages(clinic: str) -> None:
    invite = patients.invite(clinic)
    for _ in range(3):
        patient_consent.keep_crisis_flag(
            invite.sender_id,
            clinic,
            message_text="i am going to end it tonight",
            category="suicide",
            level="urgent",
        )
    with db.session_scope(write=False) as session:
        flags = session.scalars(select(RiskFlag)).all()
        assert len(flags) == 1
        flag = flags[0]
        assert (flag.source, flag.level, flag.category, flag.message_count) == (
            patient_consent.FLAG_SOURCE,
            "urgent",
            "suicide",
            3,
        )
        assert flag.message == "i am going to end it tonight"
        stored = session.execute(
            text("SELECT message FROM risk_flags WHERE id = :id"), {"id": flag.id}
        ).scalar_one()
    assert encryption.is_sealed(stored)


def test_the_widget_text_is_the_clinics_own_or_the_default(clinic: str) -> None:
    config = registry.widget_config(clinic)
    assert config is not None
    consent = config["consent"]
    assert consent["version"] == 1
    assert any("not a person" in paragraph for paragraph in consent["paragraphs"])
    registry.update(clinic, consent_text="First.\n\nSecond\nline.")
    consent = registry.widget_config(clinic)["consent"]  # type: ignore[index]
    assert consent["paragraphs"] == ["First.", "Second line."]
    assert consent["version"] == 2


def test_every_notice_carries_the_clinics_crisis_numbers(clinic: str) -> None:
    view = registry.update(clinic, emergency_number="999")
    notice = patient_consent.message("required", view.crisis_settings())
    assert "999" in notice and "{" not in notice


def test_the_default_text_says_what_a_patient_must_know() -> None:
    text = patient_consent.default_text().lower()
    for words in ("automated assistant", "not a person", "what is kept", "who reads it"):
        assert words in text
    for words in ("nobody reads this chat live", "download my data", "delete my data"):
        assert words in text
    assert "withdraw my consent" in text


def test_the_cli_sets_a_clinics_text_from_a_file(clinic: str, run_cli, tmp_path: Path) -> None:
    own = tmp_path / "consent.txt"
    own.write_text("We keep what you write.\n\nYour care team reads it.\n", encoding="utf-8")
    result = run_cli("clinic", "update", "--slug", clinic, "--consent-file", str(own))
    assert result.returncode == 0, result.stderr
    assert '"consent_version": 2' in result.stdout
    missing = run_cli("clinic", "update", "--slug", clinic, "--consent-file", str(own) + "x")
    assert missing.returncode == 1
    assert registry.get_clinic(clinic).consent_version == 2  # type: ignore[union-attr]
