"""Two Rasa servers and two action servers behind nginx, on PostgreSQL and Redis.

The deployment is the one ``deploy/`` ships (see cluster_support.py). A conversation's turns
may reach any Rasa server: each one reads the conversation from the tracker store, and the
Redis lock store lets only one server at a time work on it. What must hold: no user turn lost
or stored twice, forms that go on where the other server left them, each journal entry stored
once, replies through the balancer over REST and socket.io (sticky), and when a Rasa server is
killed, every message that was answered is kept and the next ones go to the other server.

The last test kills a server: it runs last in this module.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cluster_support import (
    Chat,
    ClusterDeployment,
    SecurePatient,
    cluster_deployment,
    form_state,
    user_turns,
)
from deployment import NORTH

CHECKIN = ["quick check-in please", "6", "2"]  # then the note, which is the patient's own
REFLECTION = [
    "I had my ketamine session yesterday and want to reflect",
    "The quiet after the music stopped",
    "warm hands, heavy chest",
    "Drinking was how I avoided grief",
    "Be gentle with myself this week",
    "Call my sister on Thursday",
    "seven",
    "3/10",
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterDeployment]:
    with cluster_deployment(tmp_path_factory.mktemp("cluster")) as deployed:
        yield deployed


@pytest.fixture
def journal(running: ClusterDeployment, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", running.deployment.database_url)
    from bot.journal import entries as journal_module

    return journal_module


def _converse(running: ClusterDeployment, number: int) -> tuple[str, list[str]]:
    """A check-in and a session reflection, turn by turn on alternating servers; every
    third patient goes through the balancer instead. Returns (sender, what was said)."""
    chat = Chat(running.patient(), running.cluster.ca_file)
    servers = running.cluster.rasa_urls
    said = [*CHECKIN, f"note of patient {number}", *REFLECTION]
    for turn, text in enumerate(said):
        target = running.cluster.balancer_url if number % 3 == 2 else servers[turn % 2]
        reply = chat.say(target, text)
        assert reply, (number, text)
    return chat.sender, said


def test_forms_with_turns_alternating_between_servers(running, journal):
    with ThreadPoolExecutor(max_workers=6) as pool:
        conversations = list(pool.map(lambda n: _converse(running, n), range(6)))

    for number, (sender, said) in enumerate(conversations):
        assert user_turns(running.deployment, sender) == said  # none lost, none twice
        assert form_state(running.deployment, sender) == {
            "active_loop": None,
            "requested_slot": None,
        }
        entries = journal.recent_entries(sender)
        assert sorted(entry.kind for entry in entries) == ["checkin", "integration"], number
        by_kind = {entry.kind: entry for entry in entries}
        checkin, reflection = by_kind["checkin"], by_kind["integration"]
        assert (checkin.mood, checkin.craving) == (6, 2)
        assert checkin.fields["note"] == f"note of patient {number}"
        assert reflection.status == "complete"
        assert (reflection.mood, reflection.craving) == (7, 3)
        assert reflection.fields["small_step"] == "Call my sister on Thursday"


def test_one_conversation_on_both_servers_at_once_is_processed_in_turn(running):
    """Messages of one patient sent to both servers at the same moment: the lock store makes
    the servers take turns, so every message is stored with its own answer after it."""
    chat = Chat(running.patient(), running.cluster.ca_file)
    servers = running.cluster.rasa_urls
    texts = [f"am I talking to a human therapist? ({n})" for n in range(8)]
    barrier = threading.Barrier(len(texts))

    def send(n: int) -> str:
        barrier.wait()
        return chat.say(servers[n % 2], texts[n])

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        replies = list(pool.map(send, range(len(texts))))
    assert all("automated" in reply.lower() for reply in replies), replies

    events = running.deployment.events(chat.sender)
    users = [data.get("text") for kind, data in events if kind == "user"]
    assert sorted(users) == sorted(texts)
    # Each turn is whole: user, the bot's answer, then listening, before the next user turn.
    turns: list[list[str]] = []
    for kind, data in events:
        if kind == "user":
            turns.append([])
        elif turns:
            turns[-1].append(kind if kind != "action" else data.get("name"))
    assert len(turns) == len(texts)
    for turn in turns:
        assert "bot" in turn and turn[-1] == "action_listen", turn


def test_socketio_through_the_balancer(running, journal):
    note = "Felt calmer after a long walk by the river"
    invite = running.patient()
    patient = SecurePatient(running.deployment, running.cluster.ca_file)
    try:
        assert patient.connect(invite.token, NORTH), patient.refusal
        patient.sio.emit("session_request", {})
        assert patient.next_event()[0] == "session_confirm"
        assert patient.sio.transport() == "websocket"  # upgraded, on the same server
        for text in [*CHECKIN, note]:
            replies = patient.say(text)
            assert any(reply.get("text") for reply in replies), text
    finally:
        patient.close()
    assert user_turns(running.deployment, invite.sender_id) == [*CHECKIN, note]
    [entry] = journal.recent_entries(invite.sender_id)
    assert entry.fields["note"] == note


def test_nginx_logs_no_query_string_and_no_data_link_token(running):
    """Requests through the balancer as the shipped site file logs them: the paths are there,
    but neither a query string (a therapist's search for a patient's words, socket.io's
    session id) nor the token of a patient's data link, however its path is spelt."""
    token = "eyJkata.link-token-of-a-patient.c2lnbmF0dXJl"
    words = "drank-again-after-the-funeral"
    web = running.cluster.web_balancer_url
    chat = running.cluster.balancer_url
    http = requests.Session()
    http.verify = str(running.cluster.ca_file)
    http.trust_env = False
    sent = [
        ("GET", f"{web}/api/my-data/{token}?download=1"),
        ("GET", f"{web}/api/my-data/{token}/readable"),
        ("GET", f"{web}//api//My-Data//{token}"),
        ("GET", f"{web}/dashboard/patients?q={words}&page=2"),
        ("GET", f"{chat}/socket.io/?EIO=4&transport=polling&sid={words}"),
        ("POST", f"{chat}/webhooks/rest/webhook?token={token}"),
    ]
    for method, url in sent:
        http.request(method, url, json={"message": "hello"}, timeout=30)

    deadline = time.monotonic() + 10
    while True:
        lines = running.cluster.access_log.read_text().splitlines()
        if sum("/api/my-data/" in line for line in lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    logged = "\n".join(lines)
    assert "/api/my-data/[redacted] " in logged
    assert "/api/my-data/[redacted]/readable " in logged
    assert "/api/My-Data/[redacted] " in logged
    assert "/dashboard/patients " in logged
    assert "/socket.io/ " in logged
    assert "/webhooks/rest/webhook " in logged
    assert token not in logged
    assert words not in logged
    assert "?" not in logged
    assert "link-token-of-a-patient" not in logged


def test_killing_a_rasa_server_loses_no_answered_message(running, journal):
    """Patients chat through the balancer while Rasa server 1 is killed (SIGKILL, no
    goodbye). Answered messages are all stored once; a message in flight on the killed server
    may fail (and is then stored at most once); every message sent after is answered."""
    balancer = running.cluster.balancer_url
    killed_at: list[float] = []
    stop_at = time.monotonic() + 1000.0
    results: dict[str, list[tuple[str, float, bool]]] = {}

    def patient(number: int) -> None:
        chat = Chat(running.patient(), running.cluster.ca_file)
        log = results.setdefault(chat.sender, [])
        turn = 0
        while time.monotonic() < stop_at:
            # Check-ins one after another: mood, craving and a note of its own each time.
            text = [CHECKIN[0], "5", "1", f"note {number}.{turn}"][turn % 4]
            sent = time.monotonic()
            try:
                chat.say(balancer, text, timeout=60)
                log.append((text, sent, True))
            except requests.RequestException:
                log.append((text, sent, False))
            turn += 1
            time.sleep(1.0)  # a patient's pace, within the per-server rate limit

    threads = [threading.Thread(target=patient, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(8)
    running.cluster.rasa_service(1).signal(signal.SIGKILL)
    killed_at.append(time.monotonic())
    stop_at = time.monotonic() + 25  # long enough for a stale lock (15 s) to expire
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert running.cluster.rasa_service(1).exited() is not None

    for sender, log in results.items():
        stored = user_turns(running.deployment, sender)
        answered = [text for text, _, ok in log if ok]
        unanswered = {text for text, _, ok in log if not ok}
        assert len(answered) >= 10, log
        for text, sent, ok in log:
            if sent > killed_at[0] + 2:
                assert ok, f"{text!r} sent {sent - killed_at[0]:.1f}s after the kill failed"
            if text.startswith("note"):  # the notes are unique: stored once, or not at all
                assert stored.count(text) == 1 if ok else stored.count(text) <= 1, (text, stored)
        # Every answered message, in order; only unanswered ones may be missing.
        assert [t for t in stored if t not in unanswered] == [
            t for t in answered if t not in unanswered
        ]
        # A check-in answered throughout, after one answered throughout, is in the journal
        # once (one that lost a message may have taken another message as its note).
        notes = [entry.fields.get("note") for entry in journal.recent_entries(sender, limit=50)]
        assert len(notes) == len(set(notes)), notes
        cycles = [log[i : i + 4] for i in range(0, len(log) - len(log) % 4, 4)]
        for previous, cycle in zip([[]] + cycles, cycles, strict=False):
            if all(ok for _, _, ok in previous + cycle):
                assert cycle[-1][0] in notes, (cycle, notes)
