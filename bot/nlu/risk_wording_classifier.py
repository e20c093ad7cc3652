"""Rasa NLU component: the wording model (:mod:`bot.safety.wording_model`) trained with the
assistant and read on every message, before :class:`bot.nlu.crisis_detector.CrisisDetector`.

It is trained at ``rasa train`` from the lexicon's wordings and the assistant's own
non-crisis training examples, and kept in the model archive; the server does not train or
download anything at start. Rasa caches a trained component by its inputs: the wordings
files are not Rasa training data, so :meth:`RiskWordingClassifier.fingerprint_addon` adds
their contents, the lexicon's category files (whose levels decide the labels) and the wording
model's code to the key.

What it records, under the message key ``risk_wording``::

    {"category": "suicide", "probability": 0.91, "urgent": true}

``urgent`` is the urgent probability against the configured ``urgent_threshold``, for a
message of at least ``min_words`` words. The decision is not made here: the crisis detector
passes an urgent guess to :func:`bot.safety.assessment.assess`, which weighs it against the
lexicon.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import joblib
import sklearn
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

from bot.safety import wording_model
from bot.safety.categories import LEXICON_PATH

logger = logging.getLogger(__name__)

WORDING_KEY = "risk_wording"
CRISIS_INTENT = "crisis"
_MODEL_FILE = "wording_model.joblib"


def ordinary_messages(training_data: TrainingData) -> list[str]:
    """The assistant's training examples of every intent but ``crisis``: what patients say
    that is not danger, in the assistant's own domain (cravings, hard days, sessions)."""
    return [
        str(example.get(TEXT))
        for example in training_data.intent_examples
        if example.get(INTENT) != CRISIS_INTENT and example.get(TEXT)
    ]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class RiskWordingClassifier(GraphComponent):
    """Reads each message with the wording model and records its urgent guess."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Pipeline | None = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Chosen on the development sets (tests/safety_dev/choose_threshold.py), see
        # config.yml.
        return {"urgent_threshold": 0.85, "min_words": 5}

    @staticmethod
    def supported_languages() -> list[str]:
        return ["en"]

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa checks these both as module and as distribution names, which only "joblib"
        # is; scikit-learn's version goes into the cache key in fingerprint_addon.
        return ["joblib"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The wordings, the lexicon's category files and the model's own code: a change to
        any of them retrains."""
        digest = hashlib.sha256(sklearn.__version__.encode())
        digest.update(Path(wording_model.__file__).read_bytes())
        for folder in (wording_model.WORDINGS_PATH, LEXICON_PATH):
            for path in sorted(folder.glob("*.yml")):
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RiskWordingClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts, labels = wording_model.training_examples(ordinary_messages(training_data))
        self._model = wording_model.train(texts, labels)
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / _MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RiskWordingClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / _MODEL_FILE)
        except (ValueError, FileNotFoundError):
            # Never trained (a model built before this component existed): the lexicon and
            # the classifier still answer for every message.
            logger.warning("The wording model is missing from this model; it reads nothing.")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            return messages
        texts = [str(message.get(TEXT) or "") for message in messages]
        try:
            guesses = wording_model.read(self._model, texts)
        except Exception:
            # The lexicon decides alone rather than a reply being lost.
            logger.exception("The wording model failed; the lexicon decides alone.")
            return messages
        threshold = float(self.component_config["urgent_threshold"])
        min_words = int(self.component_config["min_words"])
        for message, text, guess in zip(messages, texts, guesses, strict=True):
            # A fragment ("and again") carries too little for a statistical reader; the
            # lexicon reads short statements ("he choked me", "took all my pills").
            long_enough = len(text.split()) >= min_words
            message.set(
                WORDING_KEY,
                {
                    "category": guess.category,
                    "probability": guess.probability,
                    "urgent": long_enough and guess.probability >= threshold,
                },
                add_to_output=True,
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def urgent_guess(message_wording: dict[str, Any] | None) -> str | None:
    """The category of an urgent guess recorded on a message, else None."""
    if message_wording and message_wording.get("urgent"):
        return str(message_wording.get("category"))
    return None
