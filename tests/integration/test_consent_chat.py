"""Consent enforced by the chat channel itself, whatever the client (the real Rasa and action
servers over REST): nothing of a conversation is stored before the patient agreed, a crisis
message still gets its crisis reply and a crisis flag, and withdrawing in the chat stops
storing at once."""

from __future__ import annotations

import requests
from consent_support import agree_over_rest, consent_url
from deployment import CRISIS_MARK, eventually


def user_texts(assistant, sender: str) -> list[str]:
    return [
        data.get("text") for kind, data in assistant.deployment.events(sender) if kind == "user"
    ]


def test_nothing_is_stored_before_consent(assistant, sender, journal):
    replies = assistant.send(sender, "hello, I want to start my journal", agree=False)

    notice = replies[-1]
    assert notice["consent_required"] == {"version": 1, "changed": False}
    assert "I agree" in notice["text"] and "988" in notice["text"]  # the crisis numbers too
    assert assistant.deployment.events(sender) == []
    assert journal.export_patient(sender) is None


def test_a_crisis_before_consent_gets_the_crisis_reply_and_a_flag_only(assistant, sender, journal):
    replies = assistant.send(sender, "i'm going to end my life tonight", agree=False)

    texts = [reply["text"] for reply in replies]
    assert CRISIS_MARK in texts[0] and "988" in texts[0]
    assert "consent_required" in replies[-1]
    flags = journal.export_patient(sender)["risk_flags"]
    assert [(flag["level"], flag["source"]) for flag in flags] == [("urgent", "before_consent")]
    assert flags[0]["message"] == "i'm going to end my life tonight"
    assert assistant.deployment.events(sender) == []  # no conversation kept


def test_after_agreeing_the_chat_works_and_keeps_the_conversation(assistant, sender):
    status = requests.get(consent_url(assistant.rest_url), params={"sender": sender}, timeout=30)
    assert status.status_code == 200
    assert status.json()["current"] is False
    assert any("not a person" in p for p in status.json()["consent"]["paragraphs"])
    stale = requests.post(
        consent_url(assistant.rest_url), json={"sender": sender, "version": 7}, timeout=30
    )
    assert stale.status_code == 409 and stale.json()["version"] == 1

    recorded = agree_over_rest(assistant.rest_url, sender=sender)

    assert recorded["agreed_version"] == 1 and recorded["agreed_at"]
    assert "consent_required" not in assistant.send(sender, "hello")[-1]
    assert eventually(lambda: "hello" in user_texts(assistant, sender), True)


def test_withdrawing_in_the_chat_stops_storing(assistant, sender):
    asked = assistant.say(sender, "withdraw my consent")
    assert "Withdraw your consent now?" in asked
    done = assistant.send(sender, "/affirm")
    assert any(reply.get("custom", {}).get("consent") == {"withdrawn": True} for reply in done)
    kept = user_texts(assistant, sender)

    later = assistant.send(sender, "something private I wrote afterwards", agree=False)

    assert "consent_required" in later[-1]
    status = requests.get(consent_url(assistant.rest_url), params={"sender": sender}, timeout=30)
    assert status.json()["current"] is False and status.json()["withdrawn_at"]
    assert "something private I wrote afterwards" not in user_texts(assistant, sender)
    assert user_texts(assistant, sender) == kept
