"""The tracker store on DATABASE_URL, built the way Rasa builds it from endpoints.yml, and a
real conversation through a trained model that ends up in it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pg_server
import pytest
import yaml
from rasa.core.agent import Agent
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import encryption
from bot.chat.tracker_store import DatabaseUrlTrackerStore, TrackerStoreConfigError, engine_url
from bot.nlu.spacy_model import save_pipeline

DETECTION = {
    "level": "urgent",
    "kind": "overdose",
    "category": "overdose",
    "pattern": "overdose.too_much_substance",
    "source": "detector",
}


@pytest.fixture
def endpoints(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> AvailableEndpoints:
    """The project's own endpoints.yml, read by Rasa's reader (which expands the action
    server's secret from the environment, as it does for `rasa run`)."""
    monkeypatch.setenv("COMPANION_ACTION_SECRET", "test-secret")
    found = AvailableEndpoints.read_endpoints(str(project_root / "endpoints.yml"))
    assert found.action.headers == {"X-Companion-Action-Secret": "test-secret"}
    return found


@pytest.fixture
def domain(project_root: Path) -> Domain:
    return Domain.load(project_root / "domain.yml")


def _conversation(sender: str, domain: Domain) -> DialogueStateTracker:
    parse_data = {
        "intent": {"name": "crisis", "confidence": 1.0},
        "entities": [],
        "text": "I took too many pills",
        "crisis_detection": DETECTION,
    }
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered("I took too many pills", parse_data["intent"], [], parse_data),
            BotUttered("Are you safe right now?"),
        ],
        slots=domain.slots,
    )


async def _save_then_retrieve(
    endpoints: AvailableEndpoints, domain: Domain, sender: str
) -> DialogueStateTracker:
    writer = TrackerStore.create(endpoints.tracker_store, domain=domain)
    assert isinstance(writer, DatabaseUrlTrackerStore)
    await writer.save(_conversation(sender, domain))
    writer.engine.dispose()
    reader = TrackerStore.create(endpoints.tracker_store, domain=domain)  # a fresh connection
    tracker = await reader.retrieve(sender)
    reader.engine.dispose()
    return tracker


@pytest.mark.slow
def test_sqlite_file_from_database_url(
    endpoints: AvailableEndpoints, domain: Domain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "not" / "yet" / "there" / "companion.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")

    tracker = asyncio.run(_save_then_retrieve(endpoints, domain, "patient-1"))

    assert tracker is not None
    assert tracker.latest_message.text == "I took too many pills"
    assert tracker.latest_message.intent["name"] == "crisis"
    assert tracker.latest_message.parse_data["crisis_detection"] == DETECTION
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT type_name, intent_name FROM events WHERE sender_id = ? ORDER BY id",
            ("patient-1",),
        ).fetchall()
    assert rows == [("action", None), ("user", "crisis"), ("bot", None)]


def test_endpoints_yml_names_only_the_class(project_root: Path) -> None:
    config = yaml.safe_load((project_root / "endpoints.yml").read_text())["tracker_store"]
    assert config == {"type": "bot.chat.tracker_store.DatabaseUrlTrackerStore"}


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "sqlite:///elsewhere.db"},
        {"db": "rasa.db"},
        {"dialect": "postgresql", "username": "rasa"},
    ],
    ids=["url", "db", "dialect"],
)
def test_competing_connection_settings_stop_the_server(
    settings: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa swallows ImportError/AttributeError into an in-memory store; this must not."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'companion.db'}")
    config = EndpointConfig(type="bot.chat.tracker_store.DatabaseUrlTrackerStore", **settings)
    with pytest.raises(TrackerStoreConfigError, match="DATABASE_URL"):
        TrackerStore.create(config)


@pytest.mark.parametrize(
    "database_url",
    ["mysql+pymysql://user:pw@127.0.0.1:1/db", "mysql+notadriver://user:pw@127.0.0.1:1/db"],
    ids=["driver-not-installed", "unknown-driver"],
)
def test_missing_driver_is_an_error_not_an_in_memory_fallback(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    config = EndpointConfig(type="bot.chat.tracker_store.DatabaseUrlTrackerStore")
    with pytest.raises(TrackerStoreConfigError, match="cannot open the tracker store"):
        TrackerStore.create(config)


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("postgresql://u:p@db:5432/companion", "postgresql+psycopg2://u:p@db:5432/companion"),
        ("postgres://u:p@db/companion", "postgresql+psycopg2://u:p@db/companion"),
        ("postgresql+psycopg://u:p@db/companion", "postgresql+psycopg2://u:p@db/companion"),
        (
            "postgresql://u:p%40ss%2Fw@db/companion",
            "postgresql+psycopg2://u:p%40ss%2Fw@db/companion",
        ),
        ("sqlite+pysqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_engine_url(database_url: str, expected: str) -> None:
    assert engine_url(database_url).render_as_string(hide_password=False) == expected


def test_engine_url_rejects_garbage_without_echoing_it() -> None:
    with pytest.raises(TrackerStoreConfigError) as raised:
        engine_url("not a url, s3cret")
    assert "s3cret" not in str(raised.value)


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def postgres_url(postgres_server: pg_server.PostgresServer) -> str:
    """A fresh database on the session's throwaway server (tests/support/pg_server.py)."""
    return postgres_server.create_database()


def test_postgresql_from_database_url(
    postgres_url: str,
    endpoints: AvailableEndpoints,
    domain: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)

    tracker = asyncio.run(_save_then_retrieve(endpoints, domain, "patient-pg"))

    assert tracker.latest_message.parse_data["crisis_detection"] == DETECTION
    assert [event.type_name for event in tracker.events] == ["action", "user", "bot"]


# -- a trained model, end to end -----------------------------------------------------------

TINY_DOMAIN = """
version: "3.1"
intents: [greet, crisis]
responses:
  utter_greet:
    - text: "Hello."
  utter_crisis:
    - text: "CRISIS-REPLY"
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
"""

TINY_NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
  - intent: crisis
    examples: |
      - I need urgent help
      - this is an emergency
"""

TINY_RULES = """
version: "3.1"
rules:
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: crisis
    steps: [{intent: crisis}, {action: utter_crisis}]
"""


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Path:
    """A small model whose NLU pipeline ends like config.yml's: SpacyNLP on the saved lookup
    pipeline, a classifier, the FallbackClassifier, then the crisis detector."""
    import rasa.model_training

    workdir = tmp_path_factory.mktemp("tiny_assistant")
    spacy_model = save_pipeline(workdir / "spacy" / "en_lookup")
    project_pipeline = yaml.safe_load((project_root / "config.yml").read_text())["pipeline"]
    config = {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": "crisis-detector-test",
        "pipeline": [
            {"name": "SpacyNLP", "model": str(spacy_model)},
            {"name": "SpacyTokenizer"},
            {"name": "KeywordIntentClassifier"},
            {"name": "FallbackClassifier", "threshold": 0.5},
            {"name": project_pipeline[-1]["name"]},
        ],
        "policies": [{"name": "RulePolicy"}],
    }
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    (workdir / "domain.yml").write_text(TINY_DOMAIN)
    (workdir / "data").mkdir()
    (workdir / "data" / "nlu.yml").write_text(TINY_NLU)
    (workdir / "data" / "rules.yml").write_text(TINY_RULES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_CACHE_DIRECTORY", str(workdir / "cache"))
        patch.setenv("RASA_TELEMETRY_ENABLED", "false")
        result = rasa.model_training.train(
            domain=str(workdir / "domain.yml"),
            config=str(workdir / "config.yml"),
            training_files=[str(workdir / "data")],
            output=str(workdir / "models"),
            fixed_model_name="tiny",
        )
    assert result.code == 0 and result.model, result
    return Path(result.model)


@pytest.mark.slow
def test_crisis_detection_reaches_the_tracker_store(
    trained_model: Path,
    endpoints: AvailableEndpoints,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = tmp_path / "companion.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")

    async def converse() -> tuple[list, dict, dict, DialogueStateTracker]:
        agent = Agent.load(
            str(trained_model), tracker_store=TrackerStore.create(endpoints.tracker_store)
        )
        replies = await agent.handle_text(
            "honestly... I took too many pills", sender_id="patient-7"
        )
        figurative = await agent.parse_message("this craving is killing me")
        classified = await agent.parse_message("I need urgent help")
        reader = DatabaseUrlTrackerStore(domain=agent.domain)
        tracker = await reader.retrieve("patient-7")
        reader.engine.dispose()
        return replies, figurative, classified, tracker

    replies, figurative, classified, tracker = asyncio.run(converse())

    assert [reply.get("text") for reply in replies] == ["CRISIS-REPLY"]
    assert tracker.latest_message.intent == {"name": "crisis", "confidence": 1.0}
    assert tracker.latest_message.parse_data["intent_ranking"][0] == {
        "name": "crisis",
        "confidence": 1.0,
    }
    stored_detection = dict(tracker.latest_message.parse_data["crisis_detection"])
    stored_detection.pop("classifier_confidence")
    assert stored_detection == DETECTION
    with sqlite3.connect(database) as connection:
        (stored,) = connection.execute(
            "SELECT data FROM events WHERE sender_id = 'patient-7' AND type_name = 'user'"
        ).fetchone()
    assert encryption.is_sealed(stored)
    assert '"crisis_detection"' in encryption.open_value(stored)

    assert figurative["intent"]["name"] != "crisis"
    assert "crisis_detection" not in figurative

    # The classifier alone only asks: the message keeps its next-best intent.
    assert classified["intent"]["name"] != "crisis"
    detection = dict(classified["crisis_detection"])
    assert 0.0 < detection.pop("classifier_confidence") <= 1.0
    assert detection == {
        "level": "ask",
        "kind": "suicide",
        "category": None,
        "pattern": None,
        "source": "classifier",
    }
