"""Agreeing to the clinic's consent text the way a client must before the chat keeps anything:
through the chat channels' own public endpoints (``GET``/``POST /webhooks/rest/consent``; the
widget sends ``consent`` over socket.io, see ``deployment.Patient.agree``)."""

from __future__ import annotations

from typing import Any

import requests


def consent_url(rasa_url: str) -> str:
    """The REST consent endpoint of the Rasa server at ``rasa_url`` (its base address, or its
    ``/webhooks/rest/webhook``)."""
    base = rasa_url.split("/webhooks/", 1)[0].rstrip("/")
    return f"{base}/webhooks/rest/consent"


def agree_over_rest(
    rasa_url: str, *, sender: str | None = None, token: str | None = None, timeout: float = 30
) -> dict[str, Any]:
    """Read the clinic's current consent text and agree to it: as a patient with ``token``, or
    as the demo-mode conversation ``sender``. Returns the recorded status."""
    url = consent_url(rasa_url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"sender": sender} if sender and not token else None
    status = requests.get(url, params=params, headers=headers, timeout=timeout)
    status.raise_for_status()
    body: dict[str, Any] = {"version": status.json()["consent"]["version"]}
    if sender and not token:
        body["sender"] = sender
    answer = requests.post(url, json=body, headers=headers, timeout=timeout)
    answer.raise_for_status()
    recorded: dict[str, Any] = answer.json()
    assert recorded["current"], recorded
    return recorded


class ConsentedSenders:
    """Demo-mode REST conversations that have agreed, so each agrees once, before its first
    message."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.agreed: set[str] = set()

    def ensure(self, sender: str) -> None:
        if sender not in self.agreed:
            agree_over_rest(self.rasa_url, sender=sender)
            self.agreed.add(sender)
