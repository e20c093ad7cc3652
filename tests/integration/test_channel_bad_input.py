"""Hostile input and floods against the running assistant: no server error, nothing lost.

The Rasa server and the action server run as ``make run`` starts them, with the trained
model, demo mode on (so REST takes a sender without a token) and the rate limit lowered
through the environment to 3 messages at once, then one every 20 seconds. Conversations are
read back from the tracker store's ``events`` table.
"""

from __future__ import annotations

import json
import os
import queue
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from consent_support import agree_over_rest
from crisis_holdout import held_out_crisis_examples
from deployment import CRISIS_MARK, NORTH, Deployment, Patient, deployed

from bot.clinics import patients

SECRET = "bad-input-test-token-key-0123456789abcdef"
BURST = 3


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(
        tmp_path_factory.mktemp("limited"),
        {
            "COMPANION_DEMO_MODE": "1",
            "COMPANION_RATE_LIMIT": "3/60",
            "COMPANION_RATE_LIMIT_BURST": str(BURST),
        },
        token_secret=SECRET,
        clinic_origins=[("north", NORTH)],
    ) as running:
        yield running


@pytest.fixture
def staff(limited: Deployment) -> Iterator[None]:
    with limited.as_staff():
        yield


def visitor() -> str:
    return f"visitor-{uuid.uuid4().hex[:10]}"


def say(deployment: Deployment, sender: str, message: str) -> str:
    agree_over_rest(deployment.rasa_url, sender=sender)
    answer = requests.post(
        deployment.rest_url, json={"sender": sender, "message": message}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return "\n".join(reply.get("text", "") for reply in answer.json())


def assert_still_serving(deployment: Deployment) -> None:
    health = requests.get(f"{deployment.rasa_url}/", timeout=30)
    assert health.status_code == 200
    assert "automated assistant" in say(deployment, visitor(), "hello")


BAD_REQUESTS: dict[str, tuple[bytes, dict[str, str], int, str]] = {
    "binary": (os.urandom(2048), {}, 400, "bad_request"),
    "malformed_json": (b'{"sender": "x", "message": ', {}, 400, "bad_request"),
    "not_an_object": (b'["hello"]', {}, 400, "bad_request"),
    "message_null": (b'{"sender": "x", "message": null}', {}, 400, "bad_request"),
    "message_number": (b'{"sender": "x", "message": 7}', {}, 400, "bad_request"),
    "invalid_utf8": (b'{"sender": "x", "message": "\xff\xfe\xc3("}', {}, 400, "bad_request"),
    "one_megabyte": (
        json.dumps({"sender": "x", "message": "a" * 1_048_576}).encode(),
        {},
        413,
        "body_too_large",
    ),
    "over_length": (
        json.dumps({"sender": "x", "message": "word " * 2000}).encode(),
        {},
        413,
        "message_too_long",
    ),
    "long_token": (
        b'{"message": "hi"}',
        {"Authorization": "Bearer " + "t" * 7000},
        401,
        "malformed_token",
    ),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_rest_bad_input_is_refused_with_a_reason_and_the_server_goes_on(
    name: str, limited: Deployment
) -> None:
    body, headers, status, reason = BAD_REQUESTS[name]
    sender = visitor()
    body = body.replace(b'"sender": "x"', b'"sender": "%s"' % sender.encode())

    answer = requests.post(
        limited.rest_url,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=60,
    )

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == reason
    assert limited.events(sender) == []
    assert_still_serving(limited)


def test_rest_nul_characters_are_removed_and_the_message_is_answered(
    limited: Deployment,
) -> None:
    sender = visitor()

    reply = say(limited, sender, "hel\x00lo\x00")

    assert "automated assistant" in reply
    assert limited.user_texts(sender, at_least=1) == ["hello"]


def test_rest_held_out_crisis_messages_get_the_crisis_reply_over_the_limit(
    limited: Deployment,
) -> None:
    sender = visitor()
    for index in range(BURST):
        say(limited, sender, f"hello {index}")
    refused = requests.post(
        limited.rest_url, json={"sender": sender, "message": "and again"}, timeout=60
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1

    missed = [
        text for text in held_out_crisis_examples() if CRISIS_MARK not in say(limited, sender, text)
    ]

    assert missed == []
    # The limit still holds for ordinary messages. Tokens refill while the crisis messages are
    # answered (one per 20 s, at most the burst), so the burst plus one must meet a refusal.
    statuses = [
        requests.post(
            limited.rest_url, json={"sender": sender, "message": f"ordinary {n}"}, timeout=60
        ).status_code
        for n in range(BURST + 1)
    ]
    assert 429 in statuses, statuses


def test_socket_flood_is_rate_limited_others_are_answered_and_nothing_earlier_is_lost(
    limited: Deployment, staff: None
) -> None:
    flooding = patients.invite("north", timedelta(days=1))
    other = patients.invite("north", timedelta(days=1))
    flooder, bystander = Patient(limited), Patient(limited)
    refusals: queue.Queue[Any] = queue.Queue()
    flooder.sio.on("rate_limited", refusals.put)
    try:
        assert flooder.connect(flooding.token, NORTH, transports=["websocket"])
        assert bystander.connect(other.token, NORTH, transports=["websocket"])
        earlier = flooder.say("hello")
        assert "automated assistant" in earlier[0]["text"]
        before = limited.events(flooding.sender_id)

        flood = 2000
        for index in range(flood):
            flooder.sio.emit("user_uttered", {"message": f"flood {index}", "id": f"f{index}"})
        during = bystander.say("quick check-in please")

        refused = [refusals.get(timeout=60) for _ in range(flood - (BURST - 1))]
    finally:
        flooder.close()
        bystander.close()

    assert any("mood" in reply.get("text", "").lower() for reply in during)
    assert {data["retry_after"] for data in refused} <= set(range(1, 21))
    assert len({data["id"] for data in refused}) == len(refused)
    said = limited.user_texts(flooding.sender_id, at_least=BURST)
    # hello, and the two flood messages that fitted in the burst: the flood's first two.
    assert said == ["hello", "flood 0", "flood 1"]
    assert limited.events(flooding.sender_id)[: len(before)] == before
