"""Rasa NLU component that marks every message with a risk signal as the ``crisis`` intent.

It runs last in the pipeline (after DIET and the FallbackClassifier, see config.yml) so that
its decision overrides both. The decision is :func:`bot.safety.assessment.assess` on the
deterministic matcher's verdict, the classifier's crisis guess and the wording model's urgent
guess (recorded by :mod:`bot.nlu.risk_wording_classifier`, which runs just before): urgent,
ask or recent (see that module). The matcher is not trained, so lexicon changes take effect
when the server restarts.

What it records, under the message key ``crisis_detection``::

    {"level": "urgent", "kind": "overdose", "category": "overdose",
     "pattern": "overdose.too_much_substance", "source": "detector"}

The dialogue policy (:mod:`bot.nlu.crisis_policy`) answers by level and kind; the key is an
output property, so it survives into the tracker's ``latest_message`` and the tracker store.
A classifier guess of ``crisis`` that the detector does not confirm becomes the classifier's
next-best intent with level ``ask`` (see :func:`_mark_classifier_guess`): the patient is asked,
never given emergency numbers on a guess, and an answer inside a form is not lost.
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

from bot.nlu.risk_wording_classifier import WORDING_KEY, urgent_guess
from bot.safety.assessment import NONE, WORDING_SOURCE, Assessment, assess
from bot.safety.detector import CrisisMatcher, default_matcher

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"
FALLBACK_INTENT = "nlu_fallback"
DETECTION_KEY = "crisis_detection"
CLASSIFIER_SOURCE = "classifier"


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
        ranking = message.get(INTENT_RANKING_KEY) or []
        confidence = _classifier_crisis(intent, ranking)
        wording = urgent_guess(message.get(WORDING_KEY))
        guessed = confidence is not None or wording is not None
        explained = match is None and guessed and self._matcher.explains_away(text)
        assessment = assess(
            match,
            classifier_crisis=confidence,
            wording=wording,
            explained=explained,
        )
        if assessment.outcome == NONE:
            if confidence is not None:
                _drop_classifier_guess(message, ranking)
            return
        logger.debug("Risk: level=%s kind=%s", assessment.outcome, assessment.kind)
        if assessment.source in (CLASSIFIER_SOURCE, WORDING_SOURCE):
            _mark_classifier_guess(message, ranking, assessment, confidence)
            return
        _set_crisis(message, ranking, assessment, confidence)


def _classifier_crisis(intent: dict[str, Any], ranking: list[dict[str, Any]]) -> float | None:
    """The classifier's confidence in ``crisis`` if it chose it, None otherwise.

    A guess the FallbackClassifier replaced for being unsure does not count: alone it can only
    lead to the direct safety question, and an unsure guess asks it of too many ordinary
    messages (venting, figurative speech, news); the detector answers for what it knows.
    """
    if intent.get(INTENT_NAME_KEY) == CRISIS_INTENT:
        return float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return None


def _drop_classifier_guess(message: Message, ranking: list[dict[str, Any]]) -> None:
    """A crisis guess of the classifier that counts for nothing (the lexicon explained its
    words away): the message takes the next-best intent,
    so that the dialogue neither asks the safety question nor loses an answer in a form."""
    others = [e for e in ranking if e.get(INTENT_NAME_KEY) != CRISIS_INTENT]
    best = dict(others[0]) if others else {INTENT_NAME_KEY: FALLBACK_INTENT}
    message.set(INTENT, best, add_to_output=True)
    message.set(INTENT_RANKING_KEY, others, add_to_output=True)


def _mark_classifier_guess(
    message: Message,
    ranking: list[dict[str, Any]],
    assessment: Assessment,
    classifier_confidence: float | None,
) -> None:
    """A model's reading without the lexicon's (the classifier's ask, the wording model's
    urgent guess): the message keeps the next-best intent, so that inside a form it is still
    the answer it probably is (a form never stores a ``crisis`` message), and carries the
    assessment for the crisis policy, which answers it before anything else happens,
    except inside the forms whose answers are about risk by design (the safety plan, the
    measures)."""
    others = [e for e in ranking if e.get(INTENT_NAME_KEY) != CRISIS_INTENT]
    best = dict(others[0]) if others else {INTENT_NAME_KEY: FALLBACK_INTENT}
    message.set(INTENT, best, add_to_output=True)
    message.set(INTENT_RANKING_KEY, others, add_to_output=True)
    detection = {**assessment.as_dict(), "classifier_confidence": classifier_confidence}
    message.set(DETECTION_KEY, detection, add_to_output=True)


def _set_crisis(
    message: Message,
    ranking: list[dict[str, Any]],
    assessment: Assessment,
    classifier_confidence: float | None,
) -> None:
    crisis = {INTENT_NAME_KEY: CRISIS_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
    others = [e for e in ranking if e.get(INTENT_NAME_KEY) != CRISIS_INTENT]
    message.set(INTENT, crisis, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(crisis), *others], add_to_output=True)
    detection = {**assessment.as_dict(), "classifier_confidence": classifier_confidence}
    message.set(DETECTION_KEY, detection, add_to_output=True)
