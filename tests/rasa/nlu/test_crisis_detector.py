"""The crisis detector's Rasa component (bot/nlu/crisis_detector.py): it overrides the
classifier's intent with the detector's verdict (tests/rasa/safety/test_detector.py), keeps a
classifier's guess as a question, and is registered last in config.yml's pipeline."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.crisis_detector import CrisisDetector


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> CrisisDetector:
    storage = LocalModelStorage(tmp_path_factory.mktemp("model_storage"))
    return CrisisDetector.load(
        CrisisDetector.get_default_config(),
        storage,
        Resource("crisis_detector"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def _classified(text: str, ranking: list[tuple[str, float]]) -> Message:
    """A message as DIET and the FallbackClassifier leave it."""
    message = Message(data={"text": text})
    message.set("intent", {"name": ranking[0][0], "confidence": ranking[0][1]}, add_to_output=True)
    message.set(
        "intent_ranking", [{"name": n, "confidence": c} for n, c in ranking], add_to_output=True
    )
    return message


def test_component_overrides_intent_and_ranking(detector: CrisisDetector) -> None:
    message = _classified("i want to die", [("inform", 0.62), ("crisis", 0.21), ("greet", 0.1)])
    detector.process([message])
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("intent_ranking") == [
        {"name": "crisis", "confidence": 1.0},
        {"name": "inform", "confidence": 0.62},
        {"name": "greet", "confidence": 0.1},
    ]
    assert message.get("crisis_detection") == {
        "level": "urgent",
        "kind": "suicide",
        "category": "suicide",
        "pattern": "suicide.want_to_die",
        "source": "detector",
        "classifier_confidence": None,
    }
    output = message.as_dict(only_output_properties=True)
    assert output["crisis_detection"]["source"] == "detector"
    assert output["intent"]["name"] == "crisis"


def test_component_overrides_low_confidence_fallback(detector: CrisisDetector) -> None:
    message = _classified(
        "cant wake him up hes blue",
        [("nlu_fallback", 0.45), ("mood_rating", 0.31), ("greet", 0.29)],
    )
    detector.process([message])
    assert message.get("intent")["name"] == "crisis"
    assert [entry["name"] for entry in message.get("intent_ranking")] == [
        "crisis",
        "nlu_fallback",
        "mood_rating",
        "greet",
    ]
    assert message.get("crisis_detection")["category"] == "medical_emergency"


def test_component_leaves_an_unsure_crisis_guess_to_the_fallback(detector: CrisisDetector) -> None:
    """A crisis guess the FallbackClassifier replaced is not a risk signal on its own: it would
    ask ordinary messages about suicidal thoughts. The detector answers for what it knows."""
    message = _classified(
        "i dont know anymore, its all too much lately",
        [("nlu_fallback", 0.45), ("crisis", 0.38), ("share_reflection", 0.3)],
    )
    before = copy.deepcopy(message.as_dict())
    detector.process([message])
    assert message.as_dict() == before


def test_component_leaves_an_unsure_non_crisis_guess_as_fallback(detector: CrisisDetector) -> None:
    message = _classified(
        "purple elephants",
        [("nlu_fallback", 0.45), ("greet", 0.3), ("crisis", 0.2)],
    )
    detector.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    assert "crisis_detection" not in message.as_dict(only_output_properties=True)


def test_component_keeps_a_classifier_guess_as_an_ask_on_the_next_best_intent(
    detector: CrisisDetector,
) -> None:
    """The classifier alone only asks; the message keeps its next-best intent, so that in a
    form it is still stored as the answer it probably is."""
    message = _classified(
        "please I need help right now", [("crisis", 0.83), ("help", 0.1), ("greet", 0.05)]
    )
    detector.process([message])
    assert message.get("intent") == {"name": "help", "confidence": 0.1}
    assert [e["name"] for e in message.get("intent_ranking")] == ["help", "greet"]
    assert message.get("crisis_detection") == {
        "level": "ask",
        "kind": "suicide",
        "category": None,
        "pattern": None,
        "source": "classifier",
        "classifier_confidence": 0.83,
    }


def test_component_records_detector_category_when_both_agree(detector: CrisisDetector) -> None:
    message = _classified("I took too many pills", [("crisis", 0.9)])
    detector.process([message])
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("crisis_detection") == {
        "level": "urgent",
        "kind": "overdose",
        "category": "overdose",
        "pattern": "overdose.too_much_substance",
        "source": "detector",
        "classifier_confidence": 0.9,
    }


def _with_wording(message: Message, category: str, probability: float, urgent: bool) -> Message:
    """The message as the wording model leaves it (bot/nlu/risk_wording_classifier.py)."""
    wording = {"category": category, "probability": probability, "urgent": urgent}
    message.set("risk_wording", wording, add_to_output=True)
    return message


def test_component_records_the_wording_models_urgent_guess(detector: CrisisDetector) -> None:
    """No rule reads it; the wording model is sure: an urgent assessment of its kind."""
    message = _with_wording(
        _classified("he wont answer me and the bathroom has gone quiet", [("inform", 0.6)]),
        "medical_emergency",
        0.93,
        urgent=True,
    )
    detector.process([message])
    # The message keeps its intent (a form still reads its answer); the policy answers first.
    assert message.get("intent") == {"name": "inform", "confidence": 0.6}
    assert message.get("crisis_detection") == {
        "level": "urgent",
        "kind": "medical",
        "category": "medical_emergency",
        "pattern": None,
        "source": "wording model",
        "classifier_confidence": None,
    }


@pytest.mark.parametrize(
    ("text", "probability", "urgent"),
    [
        # below its threshold: nothing to act on
        ("long day, going to bed early", 0.6, False),
        # figurative words stay quiet whatever the wording model says
        ("this craving is killing me", 0.95, True),
    ],
)
def test_component_leaves_a_wording_guess_it_must_not_act_on(
    detector: CrisisDetector, text: str, probability: float, urgent: bool
) -> None:
    message = _with_wording(_classified(text, [("inform", 0.7)]), "suicide", probability, urgent)
    detector.process([message])
    assert message.get("intent") == {"name": "inform", "confidence": 0.7}
    assert "crisis_detection" not in message.as_dict(only_output_properties=True)


def test_component_drops_a_classifier_guess_on_words_the_lexicon_explained(
    detector: CrisisDetector,
) -> None:
    message = _classified("this craving is killing me", [("crisis", 0.9), ("report_craving", 0.08)])
    detector.process([message])
    assert message.get("intent") == {"name": "report_craving", "confidence": 0.08}
    assert "crisis_detection" not in message.as_dict(only_output_properties=True)


@pytest.mark.parametrize("text", ["this craving is killing me", "I'm dying to know", "7", ""])
def test_component_leaves_non_crisis_alone(detector: CrisisDetector, text: str) -> None:
    message = _classified(text, [("inform", 0.7), ("greet", 0.2)])
    before = copy.deepcopy(message.as_dict())
    detector.process([message])
    assert message.as_dict() == before
    assert "crisis_detection" not in message.as_dict(only_output_properties=True)


def test_component_handles_a_message_without_text_or_intent(detector: CrisisDetector) -> None:
    message = Message(data={})
    detector.process([message])
    assert message.get("intent") is None


def test_component_is_registered_and_last_in_config(project_root: Path) -> None:
    registered = DefaultV1Recipe._from_registry("bot.nlu.crisis_detector.CrisisDetector")
    assert registered.clazz is CrisisDetector
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert not registered.is_trainable

    pipeline = [
        step["name"]
        for step in yaml.safe_load((project_root / "config.yml").read_text())["pipeline"]
    ]
    assert pipeline[-1] == "bot.nlu.crisis_detector.CrisisDetector"
    assert pipeline.index("FallbackClassifier") < pipeline.index(
        "bot.nlu.crisis_detector.CrisisDetector"
    )
    intents = yaml.safe_load((project_root / "domain.yml").read_text())["intents"]
    assert "crisis" in [
        intent if isinstance(intent, str) else next(iter(intent)) for intent in intents
    ]
