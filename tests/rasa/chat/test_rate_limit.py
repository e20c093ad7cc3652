"""The per-patient rate limit: the token buckets, their settings, and both channels over the limit.

The channel tests run the real channels on a real Sanic server (tests/support/channel_server.py)
with the limit lowered through the environment to 3 messages at once and then one every
20 seconds, and the real crisis detector. Every held-out crisis example of tests/nlu_eval must
still reach the assistant over the limit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from channel_server import Person, RecordingAgent, Server, channel_server
from consent_support import agree_over_rest
from crisis_holdout import held_out_crisis_examples
from test_patient_channel import NORTH, Client

from bot import settings
from bot.chat import message_gate, rate_limit
from bot.chat.message_gate import Admitted, MessageGate, Refused, limits
from bot.chat.patient_channel import RATE_LIMITED_EVENT, crisis_reply
from bot.chat.rate_limit import RateLimiter
from bot.safety.detector import CrisisMatcher

BURST = 3


MATCHER = CrisisMatcher()
#: Held-out crisis messages the detector reads as a risk signal: over the limit, these pass
#: the gate on the detector's word. (What it misses passes on the assistant's second
#: opinion, which this echoing agent cannot give: see the gate's own test below.)
CRISIS_EXAMPLES = [text for text in held_out_crisis_examples() if MATCHER.detect(text)]


def early_parts(text: str) -> list[str]:
    """The events of the early crisis reply to ``text``: one per paragraph of the reply of
    its kind if the detector reads it as urgent, none otherwise."""
    match = MATCHER.detect(text)
    if match is None or match.level != "urgent":
        return []
    return crisis_reply(match.reply).strip().split("\n\n")


class Clock:
    """A clock the test moves by hand, so refill times are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the token buckets -------------------------------------------------------------------------


def test_a_burst_then_one_message_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(30, 60, burst=20, clock=clock)

    burst = [limiter.take("a") for _ in range(20)]
    refused = limiter.take("a")
    again = limiter.take("a")
    clock.now += 2.0  # 30 per minute: one message every two seconds
    after_wait = limiter.take("a")
    too_soon = limiter.take("a")

    assert all(decision.allowed for decision in burst)
    assert (refused.allowed, refused.retry_after, refused.first_refusal) == (False, 2, True)
    assert (again.allowed, again.first_refusal) == (False, False)
    assert after_wait.allowed
    assert not too_soon.allowed


def test_retry_after_is_the_wait_for_one_token_rounded_up() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 45, burst=1, clock=clock)

    assert limiter.take("a").allowed
    clock.now += 10
    decision = limiter.take("a")

    assert decision.retry_after == 35
    clock.now += 34.5
    assert not limiter.take("a").allowed
    clock.now += 0.5
    assert limiter.take("a").allowed


def test_a_refused_sender_waits_the_time_it_was_told_so_no_later_message_overtakes() -> None:
    clock = Clock()
    limiter = RateLimiter(30, 60, burst=2, clock=clock)  # one token every two seconds
    assert [limiter.take("a").allowed for _ in range(2)] == [True, True]

    clock.now += 1.5  # three quarters of a token
    refused = limiter.take("a")
    clock.now += 0.6  # a whole token now, but before the time the refused message was told
    newer = limiter.take("a")
    clock.now += 0.4  # the time it was told: the message sent again gets the token
    resent = limiter.take("a")

    assert (refused.allowed, refused.retry_after) == (False, 1)
    assert (newer.allowed, newer.retry_after, newer.first_refusal) == (False, 1, False)
    assert resent.allowed


def test_senders_have_their_own_buckets() -> None:
    limiter = RateLimiter(1, 60, burst=2, clock=Clock())

    assert [limiter.take("a").allowed for _ in range(3)] == [True, True, False]
    assert [limiter.take("b").allowed for _ in range(2)] == [True, True]


def test_idle_senders_are_forgotten_and_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(30, 60, burst=20, max_senders=1000, clock=clock)
    for index in range(5000):
        limiter.take(f"sender-{index}")
    assert len(limiter) == 1000  # a flood of new ids never keeps more than max_senders

    clock.now += 2.0  # each bucket lost one token and is full again after two seconds
    limiter.take("newcomer")
    assert len(limiter) == 1  # every idle, full bucket went; only the newcomer is kept

    for _ in range(25):
        limiter.take("busy")
    clock.now += 30  # 15 of its 20 tokens back: not full, so it still remembers the flood
    limiter.take("other")
    assert len(limiter) == 2  # the newcomer (full again) went, the busy sender stayed
    assert [limiter.take("busy").allowed for _ in range(16)] == [True] * 15 + [False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", (30, 60.0)), ("30/60", (30, 60.0)), ("5/10", (5, 10.0)), ("100", (100, 60.0))],
)
def test_rate_limit_setting(value: str, expected: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_RATE_LIMIT", value)
    assert settings.rate_limit() == expected


@pytest.mark.parametrize("value", ["off", "0", "OFF"])
def test_rate_limit_can_be_switched_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_RATE_LIMIT", value)
    assert settings.rate_limit() is None
    assert rate_limit.from_settings() is None


@pytest.mark.parametrize("value", ["fast", "30/0", "-1/60", "30/x", "0/60", "30/inf"])
def test_a_mistyped_rate_limit_is_an_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_RATE_LIMIT", value)
    with pytest.raises(RuntimeError, match="COMPANION_RATE_LIMIT"):
        settings.rate_limit()


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_a_mistyped_burst_is_an_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_RATE_LIMIT_BURST", value)
    with pytest.raises(RuntimeError, match="COMPANION_RATE_LIMIT_BURST"):
        settings.rate_limit_burst()


def test_both_channels_share_one_limiter_per_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_RATE_LIMIT", "7/70")
    monkeypatch.setenv("COMPANION_RATE_LIMIT_BURST", "4")
    first, second = rate_limit.from_settings(), rate_limit.from_settings()

    assert first is second
    assert first is not None and (first.rate, first.burst) == (0.1, 4)


# -- the channels over the limit ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"COMPANION_RATE_LIMIT": "3/60", "COMPANION_RATE_LIMIT_BURST": str(BURST)}
    with channel_server(tmp_path_factory.mktemp("rate-limit"), env) as running:
        yield running


def listening_client(server: Server) -> Client:
    client = Client(server)
    client.sio.on(RATE_LIMITED_EVENT, client._recorder(RATE_LIMITED_EVENT))
    return client


#: Demo-mode senders that agreed to the consent text, each before its first message.
AGREED: set[str] = set()


def rest_send(server: Server, message: str, *, token: str | None = None, sender: str = "") -> Any:
    if sender and sender not in AGREED:
        agree_over_rest(server.rest, sender=sender)
        AGREED.add(sender)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"message": message, **({"sender": sender} if sender else {})}
    return requests.post(server.rest, json=body, headers=headers, timeout=60)


@pytest.mark.slow
def test_socket_over_the_limit_gets_rate_limited_on_that_socket_only(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        client, tab = listening_client(server), listening_client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            assert await tab.connect(patient.token, NORTH)
            for index in range(BURST + 2):
                await client.sio.emit("user_uttered", {"message": f"m{index}", "id": f"id-{index}"})
            seen = [await client.next_event() for _ in range(BURST + 2)]
            tab_seen = [await tab.next_event() for _ in range(BURST)]
            await tab.no_event()
            return seen, tab_seen
        finally:
            await client.close()
            await tab.close()

    seen, tab_seen = asyncio.run(scenario())

    # The server handles a socket's events concurrently, so replies may come in any order.
    replies = sorted(data["text"] for name, data in seen if name == "bot_uttered")
    refusals = [data for name, data in seen if name == RATE_LIMITED_EVENT]
    message = limits().messages["rate_limited"]
    assert len(replies) == BURST and len(refusals) == 2
    assert all(data["message"] == message and data["retry_after"] == 20 for data in refusals)
    refused_ids = {data["id"] for data in refusals}
    answered = {f"id-{text.removeprefix('echo: m')}" for text in replies}
    assert refused_ids | answered == {f"id-{index}" for index in range(BURST + 2)}
    assert not refused_ids & answered  # each id says which message was refused
    assert sorted(data["text"] for _, data in tab_seen) == replies  # and no refusal there
    assert sorted(f"echo: {text}" for _, text, *_ in agent.received()) == replies


@pytest.mark.slow
def test_socket_crisis_messages_over_the_limit_still_reach_the_assistant(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    async def scenario() -> list[tuple[str, Any]]:
        client = listening_client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            for index in range(BURST + 1):
                await client.sio.emit("user_uttered", {"message": f"filler {index}"})
            events = [await client.next_event() for _ in range(BURST + 1)]
            for text in CRISIS_EXAMPLES:
                await client.sio.emit("user_uttered", {"message": text})
                # The early crisis reply of an urgent one (one event per paragraph), and the
                # assistant's.
                for _ in range(len(early_parts(text)) + 1):
                    events.append(await client.next_event())
            await client.sio.emit("user_uttered", {"message": "and an ordinary one"})
            events.append(await client.next_event())
            return events
        finally:
            await client.close()

    events = asyncio.run(scenario())

    assert [name for name, _ in events[: BURST + 1]].count(RATE_LIMITED_EVENT) == 1
    crisis_replies = events[BURST + 1 : -1]
    start = 0
    for text in CRISIS_EXAMPLES:
        # The early crisis reply runs beside the turn: this agent's instant echo may come
        # before or after it.
        expected = [*early_parts(text), f"echo: {text}"]
        replies = crisis_replies[start : start + len(expected)]
        start += len(expected)
        assert {name for name, _ in replies} == {"bot_uttered"}
        assert sorted(data["text"] for _, data in replies) == sorted(expected)
    assert events[-1][0] == RATE_LIMITED_EVENT  # the limit still holds for everything else
    received = [text for _, text, *_ in agent.received()]
    assert received[BURST:] == CRISIS_EXAMPLES


def test_rest_over_the_limit_is_429_with_retry_after(server: Server, agent: RecordingAgent) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    answers = [rest_send(server, f"hello {index}", sender=sender) for index in range(BURST + 1)]

    assert [answer.status_code for answer in answers] == [200] * BURST + [429]
    refused = answers[-1]
    assert refused.headers["Retry-After"] == "20"
    assert refused.json() == {
        "error": "rate_limited",
        "reason": "rate_limited",
        "message": limits().messages["rate_limited"],
        "retry_after": 20,
    }
    assert len(agent.received()) == BURST
    # Another demo sender is not affected.
    assert rest_send(server, "hi", sender=f"visitor-{uuid.uuid4().hex[:8]}").status_code == 200


def received_soon(
    agent: RecordingAgent, done: Callable[[list[tuple[str, str]]], bool]
) -> list[tuple[str, str]]:
    """(sender, text) of what the agent received, once ``done`` says so (or after 10 s): a
    crisis turn over REST starts beside the response, not before it."""
    deadline = time.monotonic() + 10
    while True:
        got = [(sender, text) for sender, text, *_ in agent.received()]
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.parametrize("text", CRISIS_EXAMPLES[::6])
def test_rest_crisis_messages_over_the_limit_still_reach_the_assistant(
    text: str, server: Server, agent: RecordingAgent
) -> None:
    sender = f"visitor-{uuid.uuid4().hex[:8]}"
    for index in range(BURST + 1):
        rest_send(server, f"filler {index}", sender=sender)

    answer = rest_send(server, text, sender=sender)

    assert answer.status_code == 200
    # An urgent one gets its crisis reply at once (patient_channel.PatientRestInput), then
    # what its turn said (the recording assistant answers at once); any other gets the turn's
    # own answer. Either way the turn runs.
    match = MATCHER.detect(text)
    expected = [f"echo: {text}"]
    if match and match.level == "urgent":
        expected.insert(0, crisis_reply(match.reply))
    assert answer.json() == [{"recipient_id": sender, "text": reply} for reply in expected]
    assert (sender, text) in received_soon(agent, lambda got: (sender, text) in got)
    assert rest_send(server, "ordinary", sender=sender).status_code == 429


@pytest.mark.slow
def test_socket_and_rest_count_against_the_same_allowance(
    server: Server, agent: RecordingAgent, patient: Person
) -> None:
    rest = [rest_send(server, f"rest {index}", token=patient.token) for index in range(BURST)]

    async def scenario() -> tuple[str, Any]:
        client = listening_client(server)
        try:
            assert await client.connect(patient.token, NORTH)
            await client.sio.emit("user_uttered", {"message": "by socket"})
            return await client.next_event()
        finally:
            await client.close()

    assert [answer.status_code for answer in rest] == [200] * BURST
    name, data = asyncio.run(scenario())
    assert name == RATE_LIMITED_EVENT and data["retry_after"] == 20
    assert "id" not in data  # the client sent none


def test_an_over_long_crisis_message_reaches_the_assistant_shortened(
    server: Server, agent: RecordingAgent
) -> None:
    size = limits().max_message_chars
    padding = "we talked about the garden and the weather and my week at work. " * 200
    statement = "i stockpiled my meds and i'm going to take them all"
    text = padding + statement + " " + padding

    answer = rest_send(server, text, sender=f"visitor-{uuid.uuid4().hex[:8]}")

    assert answer.status_code == 200
    (forwarded,) = [message for _, message in received_soon(agent, bool)]
    assert statement in forwarded
    assert len(forwarded) <= size
    assert forwarded in text


def test_an_over_long_ordinary_message_is_refused_with_413(
    server: Server, agent: RecordingAgent
) -> None:
    text = "we talked about the garden and the weather. " * 200

    answer = rest_send(server, text, sender=f"visitor-{uuid.uuid4().hex[:8]}")

    assert answer.status_code == 413
    assert answer.json() == {
        "error": "message_too_long",
        "reason": "message_too_long",
        "message": limits().messages["message_too_long"],
    }
    assert agent.received() == []


def test_a_refused_message_the_detector_misses_gets_the_assistants_second_opinion() -> None:
    """Over the limit, wording the detector does not know still reaches the risk assessment
    when the assistant's NLU reads it as a crisis; the opinion is asked a few times a minute
    per sender at most, and a failing opinion lets the message through."""
    asked: list[str] = []

    async def opinion(text: str) -> bool:
        asked.append(text)
        if text == "broken":
            raise RuntimeError("no model")
        return text.startswith("crisis-like")

    async def scenario() -> list[Any]:
        gate = MessageGate(RateLimiter(1, 3600, 1), second_opinion=opinion)
        results = [await gate.admit("p", "hello")]  # uses the only token
        results.append(await gate.admit("p", "crisis-like wording the lexicon lacks"))
        results.append(await gate.admit("p", "just chatting"))
        results.append(await gate.admit("p", "broken"))
        for n in range(message_gate.SECOND_OPINIONS_PER_MINUTE):
            results.append(await gate.admit("p", f"crisis-like again {n}"))
        return results

    results = asyncio.run(scenario())
    assert isinstance(results[0], Admitted)
    assert results[1] == Admitted("crisis-like wording the lexicon lacks", crisis_override=True)
    assert isinstance(results[2], Refused) and results[2].reason == message_gate.RATE_LIMITED
    assert isinstance(results[3], Admitted)  # the opinion failed: let through
    # The budget: SECOND_OPINIONS_PER_MINUTE opinions, then refusals without asking.
    assert len(asked) == message_gate.SECOND_OPINIONS_PER_MINUTE
    assert isinstance(results[-1], Refused)


def test_a_sender_refused_by_their_addresss_limit_is_held_too_and_others_are_not() -> None:
    clock = Clock()
    own = RateLimiter(30, 60, burst=20, clock=clock)
    by_address = rate_limit.RateLimiter(30, 60, burst=2, clock=clock, hold_refused=False)
    gate = MessageGate(own, address_limiter=by_address)

    async def scenario() -> list[Any]:
        results = [
            await gate.admit("p", "one", "10.0.0.1"),
            await gate.admit("q", "two", "10.0.0.1"),
        ]
        clock.now += 1.5  # three quarters of the address's next token
        results.append(await gate.admit("p", "three", "10.0.0.1"))  # refused: retry after 1 s
        clock.now += 0.6  # the address has a token again
        results.append(await gate.admit("p", "four", "10.0.0.1"))  # held: three goes first
        results.append(await gate.admit("q", "five", "10.0.0.1"))  # another conversation
        clock.now += 2.0
        results.append(await gate.admit("p", "three", "10.0.0.1"))
        return results

    results = asyncio.run(scenario())
    assert [type(result).__name__ for result in results] == [
        "Admitted",
        "Admitted",
        "Refused",
        "Refused",
        "Admitted",
        "Admitted",
    ]


def test_refusals_carry_the_crisis_numbers() -> None:
    for text in message_gate.limits().messages.values():
        if "Please" in text and "JSON" not in text and "request" not in text:
            assert "988" in text and "911" in text, text
