"""Withdrawing consent from the chat (actions/consent.py) against a real database: the
agreement is stamped, storing stops, and the reply offers the patient's data and its erasure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.consent import ActionWithdrawConsent
from bot import patient_consent
from bot.clinics import patients, registry


@pytest.fixture
def clinic(clinic_db: str) -> str:
    registry.create("withdrawal", "Withdrawal clinic", origins=["https://withdrawal.example"])
    return "withdrawal"


def run(sender_id: str, domain: dict[str, Any]) -> list[dict[str, Any]]:
    parse = {"text": "/affirm", "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    tracker = Tracker(sender_id, {}, parse, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    assert asyncio.run(ActionWithdrawConsent().run(dispatcher, tracker, domain)) == []
    return dispatcher.messages


def test_withdrawing_stamps_the_agreement_and_offers_the_data(clinic: str, domain) -> None:
    invite = patients.invite(clinic)
    patient_consent.record(invite.sender_id, clinic, 1)

    messages = run(invite.sender_id, domain)

    assert [m["response"] for m in messages] == ["utter_consent_withdrawn"]
    status = patient_consent.status(invite.sender_id, clinic)
    assert not status.current and status.withdrawn_at is not None
    (response,) = domain["responses"]["utter_consent_withdrawn"]
    assert response["custom"]["consent"] == {"withdrawn": True}
    assert response["custom"]["download"]["url"] == ""  # the widget asks for the link itself


def test_a_database_that_cannot_be_opened_says_the_consent_still_stands(
    broken_journal: None, domain
) -> None:
    from bot import patient_tokens

    patient_tokens.reset()  # the module's engines: open the unusable database now
    try:
        messages = run("someone-whose-records-are-unreachable", domain)
    finally:
        patient_tokens.reset()
    assert [m["response"] for m in messages] == ["utter_consent_not_withdrawn"]
