"""What the Rasa server shows and accepts from anyone who can reach it, run as ``make run`` runs it.

The Rasa server and the action server are started with the runner's own commands (demo mode
on, the per-address message limit lowered to 4 messages an hour), with every process's
output kept in files, so a test can read what one request wrote to the logs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
from deployment import CRISIS_MARK, MODEL, NORTH, Deployment

from bot import encryption, runner, settings
from bot.clinics import registry
from bot.storage import db

ADDRESS_BURST = 4
#: Headers every response of the Rasa server carries (an API's share of the web app's).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class Running:
    deployment: Deployment
    port: int
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.deployment.rasa_url

    def log_sizes(self) -> dict[Path, int]:
        return {path: path.stat().st_size for path in self.logs}

    def logged_since(self, sizes: dict[Path, int]) -> str:
        """What the servers wrote after ``sizes`` were taken."""
        time.sleep(1.0)  # the server logs after it answers
        written = []
        for path in self.logs:
            with path.open("rb") as handle:
                handle.seek(sizes.get(path, 0))
                written.append(handle.read().decode("utf-8", errors="replace"))
        return "\n".join(written)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    directory: Path = tmp_path_factory.mktemp("exposure")
    database_url = f"sqlite:///{directory / 'companion.db'}"
    env = {
        "DATABASE_URL": database_url,
        "COMPANION_DEMO_MODE": "1",
        "COMPANION_IP_RATE_LIMIT": f"{ADDRESS_BURST}/3600",
        "COMPANION_IP_RATE_LIMIT_BURST": str(ADDRESS_BURST),
        encryption.ENV_KEYS_FILE: str(directory / "data.keys"),
        "PYTHONUNBUFFERED": "1",
    }
    rasa_port, action_port = runner.free_port(), runner.free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        encryption.reset()
        encryption.ensure_keys_file()
        db.reset_engines()
        db.upgrade(database_url)
        registry.create("north", "North clinic", origins=[NORTH])
        services = runner.services(
            rasa_port,
            action_port,
            model=MODEL,
            endpoints=runner.write_endpoints(directory / "endpoints.yml", action_port),
            web_port=None,
        )
        logs: list[Path] = []
        try:
            for service in services:
                service.env.update(env)
                stem = service.name.replace(" ", "-")
                with (
                    (directory / f"{stem}.stdout").open("wb") as stdout,
                    (directory / f"{stem}.stderr").open("wb") as stderr,
                ):
                    service.process = subprocess.Popen(
                        service.command,
                        cwd=settings.PROJECT_ROOT,
                        env={**os.environ, **service.env},
                        start_new_session=True,
                        stdout=stdout,
                        stderr=stderr,
                    )
                logs += [directory / f"{stem}.stdout", directory / f"{stem}.stderr"]
            for service in services:
                runner.wait_until_ready(service)
            deployment = Deployment(
                rasa_url=f"http://127.0.0.1:{rasa_port}", database_url=database_url
            )
            yield Running(deployment=deployment, port=rasa_port, logs=logs)
        finally:
            runner.stop_all(services)
            db.reset_engines()
            encryption.reset()


def visitor() -> str:
    return f"visitor-{uuid.uuid4().hex[:10]}"


def handshake(running: Running, origin: str | None) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return requests.get(
        f"{running.url}/socket.io/?EIO=4&transport=polling", headers=headers, timeout=30
    )


# ----------------------------------------------------------------------------- socket.io


def test_an_engineio_handshake_without_origin_is_refused(running: Running) -> None:
    answer = handshake(running, None)

    assert answer.status_code == 400
    assert answer.json()["reason"] == "origin_required"
    assert handshake(running, NORTH).status_code == 200


def test_undecodable_packets_write_one_warning_line_not_a_traceback_each(
    running: Running,
) -> None:
    opened = handshake(running, NORTH)
    sid = json.loads(opened.text[1:])["sid"]
    before = running.log_sizes()

    for body in [b"4garbage", b"40{bad", b"42[", b"4\xff\xfe", b"xx"] * 4:
        requests.post(
            f"{running.url}/socket.io/?EIO=4&transport=polling&sid={sid}",
            data=body,
            headers={"Origin": NORTH},
            timeout=30,
        )
    logged = running.logged_since(before)

    assert "Traceback" not in logged
    assert len([line for line in logged.splitlines() if "undecodable" in line]) == 1
    assert handshake(running, NORTH).status_code == 200


# ----------------------------------------------------------------------------- REST


@pytest.mark.parametrize(
    "sender",
    ["X/export.csv", "a\nb", "a\ud800", "../p-abc", "a b", "Zoë", "%2e%2e", "-lead"],
)
def test_a_demo_sender_id_outside_the_pattern_is_refused_as_a_bad_request(
    running: Running, sender: str
) -> None:
    before = running.log_sizes()

    answer = requests.post(
        running.deployment.rest_url, json={"sender": sender, "message": "hello"}, timeout=60
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert "sender id" in answer.json()["message"]
    assert "Traceback" not in running.logged_since(before)
    if not any("\ud800" <= character <= "\udfff" for character in sender):  # SQLite can't hold it
        assert running.deployment.events(sender) == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_a_cross_site_form_can_send_is_refused(running: Running, content_type: str) -> None:
    sender = visitor()
    body = json.dumps({"sender": sender, "message": "erase my data"})

    answer = requests.post(
        running.deployment.rest_url,
        data=body,
        headers={"Content-Type": content_type},
        timeout=60,
    )

    assert answer.status_code == 415, answer.text
    assert answer.json()["error"] == "unsupported_media_type"
    assert running.deployment.events(sender) == []


def test_streaming_is_refused_rather_than_skipping_the_crisis_path(running: Running) -> None:
    sender = visitor()

    answer = requests.post(
        f"{running.deployment.rest_url}?stream=true",
        json={"sender": sender, "message": "I want to kill myself"},
        timeout=60,
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "stream_not_supported"
    assert running.deployment.events(sender) == []


def test_messages_are_limited_per_address_across_senders_and_a_crisis_still_gets_through(
    running: Running,
) -> None:
    answers = [
        requests.post(
            running.deployment.rest_url, json={"sender": visitor(), "message": "hello"}, timeout=60
        )
        for _ in range(ADDRESS_BURST + 1)
    ]

    assert [answer.status_code for answer in answers] == [200] * ADDRESS_BURST + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["error"] == "rate_limited"
    crisis = requests.post(
        running.deployment.rest_url,
        json={"sender": visitor(), "message": "I want to kill myself"},
        timeout=60,
    )
    assert crisis.status_code == 200
    assert any(CRISIS_MARK in (reply.get("text") or "") for reply in crisis.json())


# ----------------------------------------------------------------------------- the server


def test_the_status_page_does_not_tell_the_rasa_version(running: Running) -> None:
    answer = requests.get(f"{running.url}/", timeout=30)

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert "rasa" not in answer.text.lower()


def test_every_response_of_the_rasa_server_carries_the_security_headers(
    running: Running,
) -> None:
    answers = [
        requests.get(f"{running.url}/", timeout=30),
        requests.get(f"{running.url}/no-such-page", timeout=30),
        requests.get(f"{running.url}/webhooks/rest/", timeout=30),
        requests.post(running.deployment.rest_url, data=b"[", timeout=30),
        handshake(running, NORTH),
        handshake(running, None),
    ]

    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name, answer.headers)
        policy = answer.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, answer.url


def _non_loopback_address() -> str | None:
    """This machine's address on its network, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_the_rasa_server_listens_on_loopback_only(running: Running) -> None:
    """The kernel's own list of listening sockets says where the server is bound, on any
    machine; where the machine has a network address, connecting to it is refused too."""
    listening = {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == running.port
    }
    assert listening == {"127.0.0.1"}
    address = _non_loopback_address()
    if address is not None:
        with pytest.raises(OSError):
            socket.create_connection((address, running.port), timeout=5).close()
    assert requests.get(f"{running.url}/", timeout=30).status_code == 200
