"""The wording model's Rasa component (bot/nlu/risk_wording_classifier.py): trained from the
lexicon's wordings and the assistant's ordinary examples, kept in real model storage, read
back, and placed just before the crisis detector."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.risk_wording_classifier import RiskWordingClassifier, ordinary_messages
from bot.safety import wording_model

ORDINARY = [
    ("hi there", "greet"),
    ("craving is about a 4 today", "inform"),
    ("had a rough day at work but i'm ok", "inform"),
    ("show my journal", "show_journal"),
    ("i want to kill myself", "crisis"),
]


def _training_data() -> TrainingData:
    return TrainingData([Message(data={"text": t, "intent": i}) for t, i in ORDINARY])


@pytest.fixture(scope="module")
def storage_and_trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[LocalModelStorage, RiskWordingClassifier]:
    storage = LocalModelStorage(tmp_path_factory.mktemp("model_storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    component = RiskWordingClassifier.create(
        RiskWordingClassifier.get_default_config(), storage, Resource("wording"), context
    )
    component.train(_training_data())
    return storage, component


def _loaded(storage: LocalModelStorage) -> RiskWordingClassifier:
    return RiskWordingClassifier.load(
        RiskWordingClassifier.get_default_config(),
        storage,
        Resource("wording"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def test_ordinary_messages_leave_out_the_crisis_intent() -> None:
    assert ordinary_messages(_training_data()) == [t for t, i in ORDINARY if i != "crisis"]


def test_a_wording_it_learnt_is_urgent_of_its_category_and_small_talk_is_not(
    storage_and_trained: tuple[LocalModelStorage, RiskWordingClassifier],
) -> None:
    storage, _ = storage_and_trained
    crisis, _ = wording_model.load_wordings()
    overdose = "swallowed all my pills tonight"
    assert (overdose, "overdose") in crisis
    messages = [Message(data={"text": overdose}), Message(data={"text": "show my journal"})]
    _loaded(storage).process(messages)
    urgent, small_talk = (message.get("risk_wording") for message in messages)
    assert urgent["category"] == "overdose" and urgent["urgent"] is True
    assert urgent["probability"] >= RiskWordingClassifier.get_default_config()["urgent_threshold"]
    assert small_talk["urgent"] is False and small_talk["probability"] < 0.5
    output = messages[0].as_dict(only_output_properties=True)
    assert output["risk_wording"] == urgent


def test_the_stored_model_reads_exactly_as_the_trained_one(
    storage_and_trained: tuple[LocalModelStorage, RiskWordingClassifier],
) -> None:
    storage, trained = storage_and_trained
    texts = ["my friend took a bunch of pills and won't wake up", "session went well", ""]
    fresh = [Message(data={"text": t}) for t in texts]
    stored = [Message(data={"text": t}) for t in texts]
    trained.process(fresh)
    _loaded(storage).process(stored)
    assert [m.get("risk_wording") for m in fresh] == [m.get("risk_wording") for m in stored]


def test_a_model_without_the_component_trained_reads_nothing(tmp_path: Path) -> None:
    component = _loaded(LocalModelStorage(tmp_path))
    message = Message(data={"text": "i took all my pills"})
    component.process([message])
    assert message.get("risk_wording") is None


def test_changed_wordings_change_the_cache_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = RiskWordingClassifier.get_default_config()
    before = RiskWordingClassifier.fingerprint_addon(config)
    copy = tmp_path / "wordings"
    shutil.copytree(wording_model.WORDINGS_PATH, copy)
    monkeypatch.setattr(wording_model, "WORDINGS_PATH", copy)
    assert RiskWordingClassifier.fingerprint_addon(config) == before
    extra = {"crisis": {"overdose": ["took the whole bottle of my moms pills"]}}
    (copy / "zz_extra.yml").write_text(yaml.safe_dump(extra))
    assert RiskWordingClassifier.fingerprint_addon(config) != before


def test_component_is_registered_trainable_and_just_before_the_detector(
    project_root: Path,
) -> None:
    name = "bot.nlu.risk_wording_classifier.RiskWordingClassifier"
    registered = DefaultV1Recipe._from_registry(name)
    assert registered.clazz is RiskWordingClassifier and registered.is_trainable
    steps = yaml.safe_load((project_root / "config.yml").read_text())["pipeline"]
    names = [step["name"] for step in steps]
    assert names.index(name) == names.index("bot.nlu.crisis_detector.CrisisDetector") - 1
    assert 0.5 < steps[names.index(name)]["urgent_threshold"] < 1.0


def test_no_held_out_safety_message_is_in_the_wording_models_training_data(
    project_root: Path,
) -> None:
    """The safety evaluation stays a fair test of the model (the count only, never a text)."""
    import importlib.util

    from rasa.shared.importers.importer import TrainingDataImporter

    spec = importlib.util.spec_from_file_location(
        "safety_evaluate", project_root / "tests" / "safety_eval" / "evaluate.py"
    )
    assert spec is not None and spec.loader is not None
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)

    def key(text: str) -> str:
        return " ".join(text.casefold().split())

    importer = TrainingDataImporter.load_from_dict(training_data_paths=[str(project_root / "data")])
    texts, _ = wording_model.training_examples(ordinary_messages(importer.get_nlu_data()))
    trained = {key(text) for text in texts}
    held_out = [key(t) for part in evaluate.load_set().values() for t in part["messages"]]
    # Plain integers, so that a failure shows counts and no held-out message.
    total, overlapping = len(held_out), sum(1 for text in held_out if text in trained)
    assert total > 400
    assert overlapping == 0, f"{overlapping} held-out messages are training data"
