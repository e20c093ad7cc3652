"""The "download my data" link is never part of a chat message.

Whatever a bot message carries is stored with the conversation, which the care team reads:
a link there would let a therapist download the patient's data as the patient. The chat's
message only offers the download; the widget gets the link from the web app with the
patient's own chat token when the button is pressed (``POST /api/my-data``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from servers import base_environment, environment, point_at, serving, web_app_service

from actions.data_rights import ActionExportMyData
from bot.clinics import patients, registry
from bot.journal import entries as journal
from bot.privacy import my_data
from bot.runner import free_port
from bot.settings import PROJECT_ROOT
from bot.storage import db

SECRET = "my-data-link-test-secret-0123456789abcdef0123456789"
ORIGIN = "https://harbour.example"
NOTE = "the blue kettle on my grandmother's stove"


class Served:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory: Path = tmp_path_factory.mktemp("my-data-link")
    port = free_port()
    env = {**base_environment(directory, port, SECRET), "COMPANION_NOTIFY_INTERVAL": "0"}
    with environment(env):
        db.reset_engines()
        registry.create("harbour", "Harbour Clinic", origins=[ORIGIN])
        registry.create("elsewhere", "Elsewhere Clinic", origins=["https://elsewhere.example"])
    db.reset_engines()
    with serving(web_app_service(port), env):
        yield Served(f"http://127.0.0.1:{port}", env)


@pytest.fixture
def web(server: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    yield from point_at(server, monkeypatch)


@pytest.fixture
def invite(web: Served) -> patients.Invite:
    invited = patients.invite("harbour")
    journal.save_entry(invited.sender_id, "checkin", fields={"note": NOTE}, mood=4, craving=6)
    return invited


def ask_for_link(web: Served, token: str | None, origin: str | None = ORIGIN) -> requests.Response:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    return requests.post(f"{web.url}{my_data.PATH}", headers=headers, timeout=30)


@pytest.mark.slow
def test_the_chat_message_offers_the_download_without_a_link(invite: patients.Invite) -> None:
    """What the action sends becomes the stored bot event: no URL and no token in it, while
    the offer itself (the button's label, how long a link lasts) is still there."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    parse = {"text": "export my data", "intent": {"name": "export_my_data", "confidence": 1.0}}
    events = [{"event": "user", "text": "export my data", "parse_data": parse}]
    tracker = Tracker(invite.sender_id, {}, parse, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()

    returned = asyncio.run(ActionExportMyData().run(dispatcher, tracker, domain))

    [message] = dispatcher.messages
    sent = json.dumps(message)
    assert message["response"] == "utter_export_ready"
    assert 1 <= message["minutes"] <= 10
    assert my_data.PATH not in sent and "http" not in sent and "eyJ" not in sent
    assert (message["url"], message["readable_url"]) == ("", "")
    # Filled in, the response's download offer is a label with a blank link.
    [response] = domain["responses"]["utter_export_ready"]
    offer = response["custom"]["download"]
    assert offer["label"] and offer["readable_label"]
    assert offer["url"].format(url="") == "" and offer["readable_url"].format(readable_url="") == ""
    assert returned == []


def test_the_widget_gets_a_working_link_with_the_patients_own_token(
    web: Served, invite: patients.Invite
) -> None:
    answer = ask_for_link(web, invite.token)

    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Cache-Control"] == "no-store"
    link: dict[str, Any] = answer.json()
    assert link["url"].startswith(f"{web.url}{my_data.PATH}/")
    assert link["readable_url"] == f"{link['url']}{my_data.READABLE_SUFFIX}"
    token = link["url"].rsplit("/", 1)[1]
    assert my_data.verify_token(token).sender_id == invite.sender_id
    download = requests.get(link["url"], timeout=30)
    assert download.status_code == 200
    assert NOTE in download.text


def test_no_link_without_the_token_or_from_another_clinics_page(
    web: Served, invite: patients.Invite
) -> None:
    missing = ask_for_link(web, None)
    forged = ask_for_link(web, invite.token[:-4] + "AAAA")
    foreign = ask_for_link(web, invite.token, origin="https://elsewhere.example")
    stranger = ask_for_link(web, invite.token, origin="https://evil.example")

    assert [r.status_code for r in (missing, forged, foreign, stranger)] == [403] * 4
    assert [r.json()["error"] for r in (missing, foreign, stranger)] == [
        "missing_token",
        "origin_not_allowed",
        "origin_not_allowed",
    ]
    assert forged.json()["error"] in {"invalid_signature", "malformed_token"}
    assert "url" not in json.dumps([r.json() for r in (missing, forged, foreign, stranger)])
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_a_clinic_page_may_ask_with_the_token(web: Served) -> None:
    preflight = requests.options(
        f"{web.url}{my_data.PATH}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=30,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    elsewhere = requests.options(
        f"{web.url}{my_data.PATH}", headers={"Origin": "https://evil.example"}, timeout=30
    )
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
