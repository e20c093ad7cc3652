"""No patient text in any log: the whole assistant, run as ``make run`` runs it, at INFO.

The Rasa server, the action server and the web app are started with the runner's own
commands and their default log level, with every process's stdout and stderr kept in a
file. Three patients then talk to the assistant over REST with their tokens - a check-in
with a free-text note and its read-back from the journal, a slip logged with its triggers
and an urge-surfing exercise, and a crisis message - and a therapist searches the
dashboard for their words. Afterwards every log is searched for each distinctive thing a
patient wrote, the therapist's search term and the patients' tokens: none may be there.

Logs outlive databases: they are rotated into archives, shipped to log services and read
by operators who never see the dashboard. What a patient says belongs in the database
only, where access is controlled and audited.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from consent_support import agree_over_rest

from bot import encryption, runner, settings
from bot.clinics import patients, registry, therapists
from bot.storage import db

MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"
TOKEN_SECRET = "logs-test-token-key-0123456789abcdef0123456789"
NORTH = "https://north.example"
CRISIS_MARK = "Nobody is reading this chat live"  # in every utter_crisis_<kind>, no other reply
THERAPIST = ("dr.lindqvist@north.example", "north-therapist-password-42")
#: Variables that would change the servers' log levels from their defaults.
LOG_LEVEL_VARIABLES = ("LOG_LEVEL", "LOG_LEVEL_LIBRARIES", "SANIC_LOG_LEVEL", "UVICORN_LOG_LEVEL")

# Each sentence names something nobody else would write, so finding it in a log can only
# mean the patient's words were logged.
CHECKIN_NOTE = "Quarrelled with Ignatius about the greenhouse keys again"
TRIGGER_TEXT = "Bartholomew sent photos from the lakeside cabin"
COPING_TEXT = "I phoned Philomena and walked to the old lighthouse"
SENSATION = "a tight knot beside my left collarbone"
CHANGE = "it loosened like a wet rope drying"
CRISIS_TEXT = "I want to kill myself since Ignatius emptied the marmalade jar"
SEARCH_TERM = "greenhouse keys"
#: Words of the sentences above that appear nowhere in the assistant's own texts or code.
DISTINCTIVE_WORDS = (
    "Ignatius",
    "greenhouse",
    "Bartholomew",
    "lakeside",
    "Philomena",
    "lighthouse",
    "collarbone",
    "marmalade",
    "wet rope",
)


@dataclass
class Run:
    """What happened, and everything the three servers wrote."""

    directory: Path
    logs: dict[str, str] = field(default_factory=dict)
    replies: dict[str, list[str]] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    senders: dict[str, str] = field(default_factory=dict)
    search_page: str = ""


def start_with_output_in(service: runner.Service, directory: Path) -> None:
    """Start ``service`` like :meth:`runner.Service.start` - same command, directory and
    environment, minus any log-level override - with its stdout and stderr in files."""
    stem = service.name.replace(" ", "-")
    environment = {
        variable: value
        for variable, value in os.environ.items()
        if variable not in LOG_LEVEL_VARIABLES
    }
    with (
        (directory / f"{stem}.stdout").open("wb") as stdout,
        (directory / f"{stem}.stderr").open("wb") as stderr,
    ):
        service.process = subprocess.Popen(
            service.command,
            cwd=settings.PROJECT_ROOT,
            env={**environment, **service.env},
            start_new_session=True,
            stdout=stdout,
            stderr=stderr,
        )


class Chat:
    """One patient on the REST channel, with the token their clinic gave them."""

    def __init__(self, rest_url: str, token: str, run: Run, name: str) -> None:
        self.rest_url, self.token, self.name = rest_url, token, name
        self.run = run
        run.replies[name] = []
        agree_over_rest(rest_url, token=token)

    def say(self, message: str) -> str:
        response = requests.post(
            self.rest_url,
            json={"message": message},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        response.raise_for_status()
        reply = "\n".join(m.get("text", "") for m in response.json())
        self.run.replies[self.name].append(reply)
        return reply


def converse(run: Run, rest_url: str, web_url: str) -> None:
    """The three conversations and the therapist's search."""
    checkin = patients.invite("north", timedelta(days=1))
    slip = patients.invite("north", timedelta(days=1))
    run.tokens += [checkin.token, slip.token]
    run.senders.update(checkin=checkin.sender_id, slip=slip.sender_id)

    first = Chat(rest_url, checkin.token, run, "checkin")
    first.say("quick check-in please")
    first.say("6")
    first.say("2")
    first.say(CHECKIN_NOTE)
    first.say("show my journal")
    first.say("show entry 1")

    second = Chat(rest_url, slip.token, run, "slip")
    second.say("I slipped and drank last night")
    for text in ["8", "people, feelings", "lonely and tired", TRIGGER_TEXT, COPING_TEXT, "yes"]:
        second.say(text)
    for text in ["7", SENSATION, CHANGE, "4"]:
        second.say(text)

    # The third patient comes through the web app's demo page, as a visitor would.
    demo_origin = web_url
    session = requests.post(
        f"{web_url}/api/clinics/demo/anonymous-session",
        headers={"Origin": demo_origin},
        timeout=30,
    )
    session.raise_for_status()
    anonymous = session.json()["token"]
    run.tokens.append(anonymous)
    third = Chat(rest_url, anonymous, run, "crisis")
    third.say("hello")
    third.say(CRISIS_TEXT)

    # A patient opening their own data link puts the token in a URL.
    requests.get(f"{web_url}/api/my-data/{checkin.token}", timeout=30)

    http = requests.Session()
    login = http.get(f"{web_url}/therapist/login", timeout=30)
    csrf = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = http.post(
        f"{web_url}/therapist/login",
        data={"email": THERAPIST[0], "password": THERAPIST[1], "csrf_token": csrf},
        timeout=30,
        allow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    page = http.get(
        f"{web_url}/therapist/patients/{checkin.sender_id}",
        params={"q": SEARCH_TERM, "kind": "checkin"},
        timeout=30,
    )
    page.raise_for_status()
    run.search_page = page.text


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    directory: Path = tmp_path_factory.mktemp("logs-private")
    rasa_port, action_port, web_port = (runner.free_port() for _ in range(3))
    env = {
        "DATABASE_URL": f"sqlite:///{directory / 'companion.db'}",
        "COMPANION_TOKEN_SECRET": TOKEN_SECRET,
        "COMPANION_VAR_DIR": str(directory / "var"),
        encryption.ENV_KEYS_FILE: str(directory / "data.keys"),
        "COMPANION_PUBLIC_WEB_URL": f"http://127.0.0.1:{web_port}",
        "COMPANION_PUBLIC_RASA_URL": f"http://127.0.0.1:{rasa_port}",
    }
    result = Run(directory=directory)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        db.reset_engines()
        db.upgrade()
        registry.create("north", "North clinic", origins=[NORTH])
        therapists.create("north", *THERAPIST)
        services = runner.services(
            rasa_port,
            action_port,
            model=MODEL,
            endpoints=runner.write_endpoints(directory / "endpoints.yml", action_port),
            web_port=web_port,
        )
        try:
            for service in services:
                service.env.update(env)
                start_with_output_in(service, directory)
            for service in services:
                runner.wait_until_ready(service)
            converse(
                result,
                rest_url=f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                web_url=f"http://127.0.0.1:{web_port}",
            )
        finally:
            runner.stop_all(services)  # before reading: buffered output is written on exit
        result.logs = {
            path.name: path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(directory.glob("*.std*"))
        }
        yield result
        db.reset_engines()


def test_the_conversations_really_happened(run: Run) -> None:
    """The patients' words reached the journal and the replies: the logs had the chance."""
    checkin = run.replies["checkin"]
    assert CHECKIN_NOTE in checkin[-1]  # "show entry 1" reads the note back
    assert any(CRISIS_MARK in reply for reply in run.replies["crisis"])
    assert "not a failure" in run.replies["slip"][0]
    assert SEARCH_TERM in run.search_page  # the search box shows it: the search ran
    from bot.journal import entries as journal

    [entry] = journal.recent_entries(run.senders["slip"])
    assert TRIGGER_TEXT in str(entry.fields) and SENSATION in str(entry.fields)


def test_every_process_logged_at_its_normal_level(run: Run) -> None:
    assert set(run.logs) == {
        f"{name}.{stream}"
        for name in ("action-server", "Rasa-server", "web-app")
        for stream in ("stdout", "stderr")
    }
    everything = "\n".join(run.logs.values())
    assert "INFO" in run.logs["web-app.stderr"] + run.logs["web-app.stdout"]
    assert '"POST /api/clinics/demo/anonymous-session HTTP/1.1" 200' in everything
    assert "INFO" in run.logs["Rasa-server.stdout"] + run.logs["Rasa-server.stderr"]
    assert "DEBUG" not in everything


@pytest.mark.parametrize(
    "secret",
    [
        CHECKIN_NOTE,
        TRIGGER_TEXT,
        COPING_TEXT,
        SENSATION,
        CHANGE,
        CRISIS_TEXT,
        SEARCH_TERM,
        *DISTINCTIVE_WORDS,
    ],
)
def test_no_log_holds_what_a_patient_wrote(run: Run, secret: str) -> None:
    found = {name: secret.lower() in text.lower() for name, text in run.logs.items()}
    assert not any(found.values()), found


def test_no_log_holds_a_patient_token(run: Run) -> None:
    for token in run.tokens:
        signature = token.rsplit(".", 1)[-1]
        for name, text in run.logs.items():
            assert token not in text, name
            assert signature not in text, name
    assert '"GET /api/my-data/… HTTP/1.1"' in run.logs["web-app.stdout"]
