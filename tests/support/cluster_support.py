"""The two-server deployment for tests, and patients who talk to it.

``cluster_deployment`` starts what ``deploy/`` ships (tests/support/cluster.py: Redis, two action
servers and two Rasa servers from the systemd units, nginx from its site file) on a fresh
database of a throwaway PostgreSQL server, migrated by ``migrate.service``'s own command line.
This process plays the clinic's staff: it makes a clinic and patients' links with the
deployment's token key, and reads back what the servers stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cluster
import pg_server
import pytest
import requests
from deployment import NORTH, Deployment, Patient

from bot import encryption
from bot.clinics import patients, registry

TOKEN_SECRET = "cluster-test-token-key-0123456789abcdef0123456789"
ACTION_SECRET = "cluster-test-action-key-0123456789abcdef0123456789"
#: A server killed in the middle of a turn leaves its lock ticket in Redis until it expires;
#: shorter than the shipped 60 s so that the test does not wait that long.
LOCK_LIFETIME_SECONDS = 15

_STAFF = threading.Lock()


@dataclass
class ClusterDeployment:
    cluster: cluster.Cluster
    deployment: Deployment  # its rasa_url is the balancer's

    def patient(self) -> patients.Invite:
        """A new patient's link. as_staff() sets this process's environment, so patients
        made from several threads are made one at a time."""
        with _STAFF, self.deployment.as_staff():
            return patients.invite("north", timedelta(days=1))


class Chat:
    """A patient over REST with their token, to one server or through the balancer."""

    def __init__(self, invite: patients.Invite, ca_file: Path) -> None:
        self.sender = invite.sender_id
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {invite.token}"
        self.http.verify = str(ca_file)
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would replace ``verify``
        self.agreed = False

    def say(self, base_url: str, message: str, timeout: float = 60) -> str:
        if not self.agreed:
            # Through this server or the balancer, as the patient's first message goes.
            url = f"{base_url}/webhooks/rest/consent"
            version = self.http.get(url, timeout=timeout).json()["consent"]["version"]
            self.http.post(url, json={"version": version}, timeout=timeout).raise_for_status()
            self.agreed = True
        response = self.http.post(
            f"{base_url}/webhooks/rest/webhook", json={"message": message}, timeout=timeout
        )
        response.raise_for_status()
        return "\n".join(reply.get("text", "") for reply in response.json())


class SecurePatient(Patient):
    """The socket.io client of deployment.py, trusting the test's certificate authority."""

    def __init__(self, deployment: Deployment, ca_file: Path) -> None:
        super().__init__(deployment)
        session = requests.Session()
        session.verify = str(ca_file)
        session.trust_env = False
        self.sio.eio.http = session


@contextmanager
def cluster_deployment(workdir: Path) -> Iterator[ClusterDeployment]:
    try:
        with pg_server.running() as server:
            database_url = server.create_database()
            with _started(workdir, database_url) as running:
                yield running
    except pg_server.PostgresUnavailable as error:
        pytest.fail(str(error))


@contextmanager
def _started(workdir: Path, database_url: str) -> Iterator[ClusterDeployment]:
    keys_file = workdir / "secrets" / "data.keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(encryption.ENV_KEYS, raising=False)
        patch.setenv(encryption.ENV_KEYS_FILE, str(keys_file))
        encryption.reset()
        encryption.ensure_keys_file()
        shared = {
            "DATABASE_URL": database_url,
            "COMPANION_DATA_KEYS_FILE": str(keys_file),
            "COMPANION_TOKEN_SECRET": TOKEN_SECRET,
            "COMPANION_ACTION_SECRET": ACTION_SECRET,
            "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_SECONDS),
        }
        cluster.write_environment(workdir / "etc", shared, [5005, 5006], [5055, 5056])
        result = cluster.migrate(workdir / "etc")
        assert result.returncode == 0, result.stderr[-2000:]
        deployment = Deployment(rasa_url="", database_url=database_url, token_secret=TOKEN_SECRET)
        with deployment.as_staff():
            registry.create("north", "North clinic", origins=[NORTH])
        try:
            with cluster.started(workdir, shared) as running:
                deployment.rasa_url = running.balancer_url
                yield ClusterDeployment(cluster=running, deployment=deployment)
        finally:
            encryption.reset()


def user_turns(deployment: Deployment, sender: str) -> list[str]:
    return [data.get("text") for kind, data in deployment.events(sender) if kind == "user"]


def form_state(deployment: Deployment, sender: str) -> dict[str, Any]:
    """The active loop and requested slot as the stored events leave them."""
    state: dict[str, Any] = {"active_loop": None, "requested_slot": None}
    for kind, data in deployment.events(sender):
        if kind == "active_loop":
            state["active_loop"] = data.get("name")
        elif kind == "slot" and data.get("name") == "requested_slot":
            state["requested_slot"] = data.get("value")
    return state
