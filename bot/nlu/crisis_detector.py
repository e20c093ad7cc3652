"""Rasa NLU component that turns every crisis message into the ``crisis`` intent.

It runs last in the pipeline (after DIET and the FallbackClassifier, see config.yml) so that
its decision overrides both: a crisis message reaches the crisis rule however unsure, or
wrong, the classifier is. The decision comes from the deterministic matcher in
``bot.safety.detector``; nothing here is trained, so changes to the lexicon take effect when
the server restarts, without retraining.

What it records, under the message key ``crisis_detection``::

    {"category": "overdose", "pattern": "overdose.too_much_substance", "source": "detector"}

``source`` is ``"classifier"`` when the classifier had already chosen ``crisis`` (category and
pattern are then the detector's, or None if it found nothing). The key is registered as an
output property, so it survives into the parse result and from there into the tracker's
``latest_message`` and the tracker store.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.safety.detector import CrisisMatch, CrisisMatcher, default_matcher

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"
FALLBACK_INTENT = "nlu_fallback"
DETECTION_KEY = "crisis_detection"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisDetector(GraphComponent, IntentClassifier):
    """Sets the intent to ``crisis`` (confidence 1.0) whenever the crisis matcher fires."""

    def __init__(self, config: dict[str, Any], matcher: CrisisMatcher) -> None:
        self.component_config = config
        self._matcher = matcher

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @staticmethod
    def supported_languages() -> list[str]:
        return ["en"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy", "yaml"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisDetector:
        """Build the component; the matcher is compiled once per process and shared."""
        return cls(config, default_matcher())

    def process(self, messages: list[Message]) -> list[Message]:
        """Mark crisis messages; leave every other message exactly as the classifier left it."""
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        try:
            match = self._matcher.detect(text)
        except Exception:
            # Never let a detector fault take the whole reply down (the user would get
            # nothing at all); the classifier's own decision, which may be crisis, stands.
            logger.exception("Crisis detection failed; keeping the classifier's intent.")
            match = None
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) == CRISIS_INTENT:
            message.set(DETECTION_KEY, _detection(match, source="classifier"), add_to_output=True)
            return
        ranking = message.get(INTENT_RANKING_KEY) or []
        if match is not None:
            logger.debug(
                "Crisis detected: category=%s pattern=%s", match.category, match.pattern_id
            )
            _set_crisis(message, ranking, confidence=1.0, detection=_detection(match, "detector"))
        elif (
            intent.get(INTENT_NAME_KEY) == FALLBACK_INTENT and _best_guess(ranking) == CRISIS_INTENT
        ):
            # The classifier's best guess was crisis but it was unsure, so the
            # FallbackClassifier replaced it. An unsure crisis is still a crisis.
            confidence = next(
                e.get(PREDICTED_CONFIDENCE_KEY, 0.0)
                for e in ranking
                if e.get(INTENT_NAME_KEY) == CRISIS_INTENT
            )
            _set_crisis(message, ranking, confidence, _detection(None, "classifier_unsure"))


def _best_guess(ranking: list[dict[str, Any]]) -> str | None:
    """The classifier's top intent, ignoring the fallback entry."""
    for entry in ranking:
        if entry.get(INTENT_NAME_KEY) != FALLBACK_INTENT:
            return entry.get(INTENT_NAME_KEY)
    return None


def _set_crisis(
    message: Message,
    ranking: list[dict[str, Any]],
    confidence: float,
    detection: dict[str, Any],
) -> None:
    crisis = {INTENT_NAME_KEY: CRISIS_INTENT, PREDICTED_CONFIDENCE_KEY: confidence}
    others = [e for e in ranking if e.get(INTENT_NAME_KEY) != CRISIS_INTENT]
    message.set(INTENT, crisis, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(crisis), *others], add_to_output=True)
    message.set(DETECTION_KEY, detection, add_to_output=True)


def _detection(match: CrisisMatch | None, source: str) -> dict[str, Any]:
    return {
        "category": match.category if match else None,
        "pattern": match.pattern_id if match else None,
        "source": source,
    }
