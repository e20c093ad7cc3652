"""The action server answers nobody but the Rasa server: without the shared secret, 401 and
no action runs; the assistant itself (which sends it) works as before."""

from __future__ import annotations

import requests

from bot import settings
from bot.action_server import HEADER


def _action_url(assistant) -> str:
    return assistant.services["actions"].ready_url.removesuffix("/health")


def _call(assistant, headers: dict[str, str]) -> requests.Response:
    body = {
        "next_action": "action_show_journal",
        "sender_id": "intruder-target",
        "tracker": {"sender_id": "intruder-target", "slots": {}, "events": []},
        "domain": {},
        "version": "3.6.21",
    }
    return requests.post(
        f"{_action_url(assistant)}/webhook", json=body, headers=headers, timeout=30
    )


def test_calls_without_the_secret_are_refused(assistant) -> None:
    for headers in ({}, {HEADER: ""}, {HEADER: "guess"}, {"Authorization": "Bearer x"}):
        response = _call(assistant, headers)
        assert response.status_code == 401, headers
        assert response.json() == {"error": "unauthorized"}
    listing = requests.get(f"{_action_url(assistant)}/actions", timeout=30)
    assert listing.status_code == 401


def test_the_secret_opens_it_and_health_stays_open(assistant) -> None:
    secret = settings.action_secret().decode()
    listing = requests.get(
        f"{_action_url(assistant)}/actions", headers={HEADER: secret}, timeout=30
    )
    assert listing.status_code == 200
    assert {"name": "action_show_journal"} in listing.json()
    assert requests.get(f"{_action_url(assistant)}/health", timeout=30).status_code == 200


def test_the_assistant_sends_the_secret(assistant, sender) -> None:
    # A custom action (the check-in form's validation and save) must run end to end.
    reply = assistant.say(sender, "quick check-in")
    assert "mood" in reply.lower()
    assert "craving" in assistant.say(sender, "6").lower()


def _listening_addresses(port: int) -> set[str]:
    """The local addresses a socket listens on for ``port``, read from the kernel's tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = open(table, encoding="ascii").read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port and len(address) == width:
                found.add(address)
    return found


def test_the_action_server_listens_on_loopback_only(assistant) -> None:
    port = int(_action_url(assistant).rsplit(":", 1)[1])
    # 127.0.0.1 in the kernel's little-endian hex; never 0.0.0.0 or an IPv6 wildcard.
    assert _listening_addresses(port) == {"0100007F"}


def test_rasas_http_api_is_off(assistant) -> None:
    base = assistant.services["rasa"].ready_url.rstrip("/")
    for method, path in (
        ("GET", "/conversations/someone/tracker"),
        ("POST", "/conversations/someone/messages"),
        ("POST", "/model/parse"),
        ("PUT", "/model"),
        ("GET", "/domain"),
    ):
        response = requests.request(method, base + path, json={"text": "hi"}, timeout=30)
        assert response.status_code in (404, 405), (method, path, response.status_code)
