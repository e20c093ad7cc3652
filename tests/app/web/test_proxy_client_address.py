"""The audit log records who really signed in from where, behind the shipped reverse proxy.

The web app runs as ``deploy/systemd/web.service`` starts it, behind nginx with
``deploy/nginx/companion.conf``. nginx passes the client's address in ``X-Forwarded-For``;
uvicorn must believe that header from nginx's address only. Clients here connect from other
loopback addresses (127.0.0.5, 127.0.0.9) than nginx's (127.0.0.1), so every address the
audit log could record is a different one.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cluster
import pytest
import requests
from requests.adapters import HTTPAdapter
from servers import environment
from sqlalchemy import select

from bot import runner
from bot.clinics import registry, therapists
from bot.storage import db
from bot.storage.models import AuditEvent

pytestmark = pytest.mark.slow

CLIENT = "127.0.0.5"  # a patient's or therapist's computer, through the proxy
STRANGER = "127.0.0.9"  # someone who reaches the web app's port without the proxy
FORGED = "203.0.113.66"
EMAIL = "ann@north.example"
PASSWORD = "correct horse battery staple 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class FromAddress(HTTPAdapter):
    """Connections that leave from a given local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str, ca_file: Path | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", FromAddress(address))
    session.mount("https://", FromAddress(address))
    if ca_file is not None:
        session.verify = str(ca_file)
    return session


@dataclass
class Deployed:
    proxy_url: str
    web_url: str
    ca_file: Path
    database_url: str


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """migrate.service, web.service and nginx with the shipped site file, on a SQLite file."""
    workdir = tmp_path_factory.mktemp("proxy")
    web_port, https_port = runner.free_port(), runner.free_port()
    database_url = f"sqlite:///{workdir / 'companion.db'}"
    shared = {
        "DATABASE_URL": database_url,
        "COMPANION_DATA_KEYS_FILE": str(workdir / "data.keys"),
        "COMPANION_WEB_PORT": str(web_port),
        "COMPANION_TOKEN_SECRET": "proxy-test-token-key-0123456789abcdef",
    }
    config_dir = workdir / "etc"
    cluster.write_environment(config_dir, shared, [5005, 5006], [5055, 5056])
    result = cluster.migrate(config_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    with environment(shared):
        db.reset_engines()
        registry.create("north", "North clinic", origins=["https://north.example"])
        therapists.create("north", EMAIL, PASSWORD)
    db.reset_engines()

    # The chat server block needs an upstream that answers; this test never uses it.
    rasa = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=rasa.serve_forever, daemon=True).start()
    rasa_port = rasa.server_address[1]
    cert, key = cluster.self_signed_certificate(workdir / "tls")
    site = cluster.render_nginx_site(
        rasa_ports=[rasa_port, rasa_port],
        web_port=web_port,
        https_port=https_port,
        cert=cert,
        key=key,
        log_dir=workdir / "nginx",
    )
    nginx = cluster.nginx_service(site, workdir / "nginx", https_port, cert)
    nginx.ready_url = f"https://localhost:{https_port}/healthz"
    web = cluster.unit_service(
        "web.service", config_dir=config_dir, ready_url=f"http://127.0.0.1:{web_port}/healthz"
    )
    try:
        for service in (web, nginx):
            service.start()
            runner.wait_until_ready(service, timeout=90)
        yield Deployed(
            proxy_url=f"https://localhost:{https_port}",
            web_url=f"http://127.0.0.1:{web_port}",
            ca_file=cert,
            database_url=database_url,
        )
    finally:
        runner.stop_all([nginx, web])
        rasa.shutdown()
        rasa.server_close()


def sign_in(
    session: requests.Session, base: str, password: str, headers: dict[str, str] | None = None
) -> int:
    form = session.get(f"{base}/therapist/login", headers=headers, timeout=30)
    token = CSRF.search(form.text).group(1)
    response = session.post(
        f"{base}/therapist/login",
        data={"email": EMAIL, "password": password, "csrf_token": token},
        headers=headers,
        timeout=30,
        allow_redirects=False,
    )
    return response.status_code


def logins(database_url: str) -> list[tuple[str, str | None]]:
    """(outcome, address) of every sign-in the audit log holds, oldest first."""
    with db.session_scope(database_url, write=False) as session:
        rows = session.execute(
            select(AuditEvent.outcome, AuditEvent.ip)
            .where(AuditEvent.action == "login")
            .order_by(AuditEvent.id)
        ).all()
    return [(outcome, ip) for outcome, ip in rows]


def test_a_sign_in_through_the_proxy_records_the_clients_address(deployed: Deployed) -> None:
    before = len(logins(deployed.database_url))

    assert sign_in(client(CLIENT, deployed.ca_file), deployed.proxy_url, PASSWORD) == 303
    # A client's own X-Forwarded-For reaches the app behind nginx's; still the real address.
    forged = {"X-Forwarded-For": FORGED}
    refused = sign_in(client(CLIENT, deployed.ca_file), deployed.proxy_url, "wrong", forged)
    assert refused == 400

    assert logins(deployed.database_url)[before:] == [("ok", CLIENT), ("failed", CLIENT)]


def test_a_forged_header_from_anywhere_but_the_proxy_is_ignored(deployed: Deployed) -> None:
    before = len(logins(deployed.database_url))
    direct = client(STRANGER)

    status = sign_in(direct, deployed.web_url, "wrong password", {"X-Forwarded-For": FORGED})

    assert status == 400  # a wrong password: the sign-in page again
    assert logins(deployed.database_url)[before:] == [("failed", STRANGER)]
