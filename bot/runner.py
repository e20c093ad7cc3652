"""Start the Rasa server, the action server and the web app together; stop them together.

``make run`` calls this in the foreground. Each server runs in its own process group so
that Ctrl-C or SIGTERM reaches this supervisor once, and the supervisor then stops every
process it started (Sanic forks workers, so a whole group is signalled). If either server
exits on its own, the other is stopped too: a half-running assistant would be worse than
none, because the person would not know that their journal is not being saved.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot import settings

STOP_GRACE_SECONDS = 10.0
START_TIMEOUT_SECONDS = 240.0


@dataclass
class Service:
    """One server process: how to start it and how to know it is ready."""

    name: str
    command: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    #: False: only ``env`` and a minimal base (PATH, HOME, LANG), as systemd starts a unit.
    inherit_environment: bool = True

    def start(self) -> None:
        if self.inherit_environment:
            base = dict(os.environ)
        else:
            base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
            base["LANG"] = "C.UTF-8"
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.PROJECT_ROOT,
            env={**base, **self.env},
            start_new_session=True,
        )

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                return response.status < 500
        except (urllib.error.URLError, OSError):
            return False

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass


def services(
    rasa_port: int = 5005,
    action_port: int = 5055,
    model: Path | None = None,
    endpoints: Path | None = None,
    web_port: int | None = 8000,
) -> list[Service]:
    """The servers of the assistant, with the project's defaults.

    Action server, Rasa server and - unless ``web_port`` is None - the web app (widget,
    demo page, clinics' settings).
    """
    root = settings.PROJECT_ROOT
    model = model or root / "models" / "current.tar.gz"
    endpoints = endpoints or root / "endpoints.yml"
    interface = settings.rasa_interface()
    # Where this machine reaches the Rasa server: its own address, or loopback for "any".
    rasa_host = "127.0.0.1" if interface in {"0.0.0.0", "::", "[::]"} else interface
    if ":" in rasa_host and not rasa_host.startswith("["):
        rasa_host = f"[{rasa_host}]"
    # Rasa sends it (endpoints.yml reads it from the environment); the action server checks it.
    secret = {"COMPANION_ACTION_SECRET": settings.action_secret().decode()}
    found = [
        Service(
            name="action server",
            command=[
                sys.executable,
                "-m",
                "bot.action_server",
                "--actions",
                "actions",
                "--port",
                str(action_port),
            ],
            ready_url=f"http://127.0.0.1:{action_port}/health",
            env={"SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(root), **secret},
        ),
        Service(
            name="Rasa server",
            command=[
                str(root / ".venv-rasa" / "bin" / "rasa"),
                "run",
                "--model",
                str(model),
                # Loopback unless the deployment says otherwise: in demo mode anyone who can
                # reach the REST channel can read and erase demo conversations.
                "--interface",
                interface,
                "--port",
                str(rasa_port),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(root / "credentials.yml"),
            ],
            ready_url=f"http://{rasa_host}:{rasa_port}/",
            # Sanic reads a whole body before the channel can refuse it: cap it at 2 MB
            # (a chat message is at most 5,000 characters; see bot/chat/message_gate.py).
            env={"PYTHONPATH": str(root), "SANIC_REQUEST_MAX_SIZE": "2000000", **secret},
        ),
    ]
    if web_port is not None:
        found.append(
            Service(
                name="web app",
                command=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bot.web.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(web_port),
                    "--no-server-header",
                ],
                ready_url=f"http://127.0.0.1:{web_port}/healthz",
                env={"PYTHONPATH": str(root)},
            )
        )
    return found


def stop_all(running: list[Service]) -> None:
    """SIGTERM every group, wait a little, then SIGKILL what is left."""
    for service in running:
        service.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for service in running:
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.signal(signal.SIGKILL)
            service.process.wait()


def free_port() -> int:
    """A TCP port on loopback that is free right now (for tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_endpoints(path: Path, action_port: int) -> Path:
    """The project's endpoints.yml with the action server on another port (everything else,
    the tracker store and the response generator above all, as the project has it)."""
    project = (settings.PROJECT_ROOT / "endpoints.yml").read_text()
    default_url = "http://127.0.0.1:5055/webhook"
    if default_url not in project:
        raise RuntimeError(f"endpoints.yml no longer names {default_url}")
    path.write_text(project.replace(default_url, f"http://127.0.0.1:{action_port}/webhook"))
    return path


def wait_until_ready(service: Service, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Block until the service answers on its ready URL; fail fast if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = service.exited()
        if code is not None:
            raise RuntimeError(f"{service.name} exited with status {code}")
        if service.is_ready():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{service.name} not ready after {timeout:.0f}s")


@contextmanager
def started(
    *,
    rasa_port: int,
    action_port: int,
    model: Path,
    endpoints: Path,
    env: dict[str, str],
    web_port: int | None = None,
) -> Iterator[dict[str, Service]]:
    """The servers started and ready for the duration of the block (tests, benchmarks).

    Yields the services by name ("actions", "rasa" and, with ``web_port``, "web") so a
    caller can stop and restart one.
    """
    running = services(rasa_port, action_port, model=model, endpoints=endpoints, web_port=web_port)
    for service in running:
        service.env.update(env)
    try:
        for service in running:
            service.start()
        for service in running:
            wait_until_ready(service)
        yield dict(zip(("actions", "rasa", "web"), running, strict=False))
    finally:
        stop_all(running)


def run(rasa_port: int = 5005, action_port: int = 5055, web_port: int = 8000) -> int:
    """Run the servers in the foreground until a signal arrives or one of them exits."""
    from bot import encryption
    from bot.clinics.registry import ensure_demo_clinic
    from bot.storage import db

    encryption.ensure_keys_file()  # before the migrations seal with it and the servers race
    db.upgrade()
    settings.token_secret()  # created here once, before the servers race to create it
    if settings.demo_mode():
        ensure_demo_clinic()
    running = services(rasa_port=rasa_port, action_port=action_port, web_port=web_port)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    # `make run` is our parent: if make is killed (SIGTERM to make does not reach its
    # children), we are re-parented, and that is a stop request too.
    parent = os.getppid()
    for service in running:
        service.start()
    announced = False
    exit_code = 0
    try:
        while not stopping:
            if os.getppid() != parent:
                print("The process that started the assistant is gone; stopping.", file=sys.stderr)
                stopping = True
            for service in running:
                code = service.exited()
                if code is not None:
                    print(f"{service.name} exited with status {code}; stopping.", file=sys.stderr)
                    exit_code = code or 1
                    stopping = True
            if not announced and not stopping and all(s.is_ready() for s in running):
                announced = True
                print(
                    f"\nReady. Open {settings.public_web_url()}/ and click the chat button;\n"
                    f"the therapists' dashboard is {settings.public_web_url()}/therapist/ "
                    "(accounts: python -m bot therapist create).\n"
                    f"Or over REST (demo mode): POST http://localhost:{rasa_port}/webhooks/rest/webhook "
                    "with Content-Type: application/json and "
                    '{"sender": "you", "message": "hi"}\nPress Ctrl-C to stop.\n',
                    flush=True,
                )
            time.sleep(0.5)
    finally:
        stop_all(running)
    return exit_code
