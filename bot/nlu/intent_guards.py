"""Rasa NLU component that corrects readings the classifier gets wrong in everyday words.

- **A command inside a longer sentence.** "i want to stop letting my dad's voice run my life"
  is an answer, not "stop". Inside a form a ``stop`` intent ends the reflection and the
  answer is lost, so a command intent (``stop``, ``skip`` …) on a message that cannot be a
  command (:func:`bot.journal.reply_reading.is_command_shaped`) gives way to the next-best intent.
- **A slip told in passing.** "i had a couple drinks last night after. feel like an idiot"
  read as a craving is answered with praise for not acting on it. A message that reports a
  use (:func:`bot.journal.reply_reading.reports_use`) becomes ``report_lapse`` when the classifier
  chose a craving, a feeling, or nothing it was sure of.
- **A craving in everyday words.** "now i really want a drink" read as nothing becomes
  ``report_craving`` when the classifier found nothing more specific.
- **A craving resisted, read as a slip.** "i didn't drink even though i wanted to" is no slip:
  a ``report_lapse`` on a message that tells of a use denied and of wanting it, and of no use,
  becomes ``report_craving`` (:func:`bot.journal.reply_reading.says_resisted`).
- **A request for a person.** "can someone call me", "real human pls", "how do i get hold of
  my therapist" become ``contact_care_team`` whatever the classifier read, except a crisis
  (the crisis detector and policy answer it, with the clinic's numbers), a "no" (it may answer
  "are you safe right now?", where the crisis policy reads the intent), a slip (its safety
  check comes first) or a message for the care team (a more specific request).
  A plan or a lack read as such a request ("talk to someone instead of drinking", "i dont
  have anyone to call") gives way to the next-best intent: an answer or a feeling.
- **A request for more, or a complaint that the answer missed.** "tell me more", "that's not
  what i asked" in words the classifier files elsewhere become ``more_detail`` or
  ``not_what_i_asked``.

It runs after the FallbackClassifier and before the crisis detector (config.yml), so danger
still overrides everything: the guards never replace ``crisis``, and whatever they choose, the
detector makes a message it finds dangerous ``crisis`` afterwards. What they changed is recorded
under ``intent_guard``.
"""

from __future__ import annotations

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

from bot.journal.reply_reading import (
    asks_for_a_person,
    asks_for_more,
    command_intents,
    is_command_shaped,
    reports_use,
    says_resisted,
    says_wrong_answer,
    tells_craving,
    tells_of_a_person,
)

GUARD_KEY = "intent_guard"
LAPSE_INTENT = "report_lapse"
PERSON_INTENT = "contact_care_team"
MORE_INTENT = "more_detail"
WRONG_ANSWER_INTENT = "not_what_i_asked"
CRAVING_INTENT = "report_craving"
#: Requests for the care team, which a plan or a lack of someone to call is not.
_PERSON_INTENTS = frozenset({PERSON_INTENT, "leave_care_team_message"})
#: When no other reading is left for a message that is not a command.
DEFAULT_INTENT = "share_reflection"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentGuards(GraphComponent, IntentClassifier):
    """Replaces the classifier's intent in the cases above; leaves every other alone."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.component_config = config
        self._slip_over = frozenset(config["slip_over"])
        self._craving_over = frozenset(config["craving_over"])
        self._requests_over = frozenset(config["requests_over"])
        self._person_kept = frozenset(config["person_kept"])

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Which classifier readings a slip, a craving or a request in plain words may replace;
        ``person_kept``: the readings a request for a person never replaces."""
        # Readings of a message that says nothing more specific than the words the guards read.
        # Not "deny": a "no" may answer "are you safe right now?", which the crisis policy
        # reads by that intent (a no there is urgent), so no guard takes it away.
        unspecific = [
            "share_feeling",
            "vent",
            "share_reflection",
            "out_of_scope",
            "nlu_fallback",
            "greet",
            "goodbye",
            "help",
            "affirm",
            "unsure",
            "thank",
            "gratitude",
            "milestone",
            "bot_challenge",
        ]
        return {
            "slip_over": ["report_craving", "report_trigger", "start_checkin", *unspecific],
            "craving_over": unspecific,
            "person_kept": [
                "crisis",
                "deny",
                "report_lapse",
                "leave_care_team_message",
                "contact_care_team",
            ],
            "requests_over": [
                "help",
                "bot_challenge",
                "out_of_scope",
                "nlu_fallback",
                "share_feeling",
                "share_reflection",
                "vent",
                "gratitude",
                "milestone",
                "affirm",
                "deny",
                "unsure",
                "skip",
                "continue_form",
                "start_checkin",
                "thank",
            ],
        }

    @staticmethod
    def supported_languages() -> list[str]:
        return ["en"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentGuards:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if intent is None or text.startswith("/"):
            return
        if intent not in self._person_kept and asks_for_a_person(text):
            self._replace(message, intent, PERSON_INTENT, "person")
        elif intent == PERSON_INTENT and tells_of_a_person(text):
            # "talk to someone instead of drinking", "i dont have anyone to call": a plan or a
            # lack, kept as the answer or the feeling it is.
            self._replace(message, intent, _next_best(message, _PERSON_INTENTS), "person_told")
        elif intent in command_intents() and not is_command_shaped(text):
            self._replace(message, intent, _next_best(message, command_intents()), "not_a_command")
        elif intent in self._requests_over and says_wrong_answer(text):
            self._replace(message, intent, WRONG_ANSWER_INTENT, "wrong_answer")
        elif intent in self._requests_over and asks_for_more(text):
            self._replace(message, intent, MORE_INTENT, "more")
        elif intent == LAPSE_INTENT and self._resisted(text):
            self._replace(message, intent, CRAVING_INTENT, "resisted")
        elif intent in self._slip_over and reports_use(text):
            self._replace(message, intent, LAPSE_INTENT, "slip")
        elif intent in self._craving_over and tells_craving(text):
            self._replace(message, intent, CRAVING_INTENT, "craving")

    @staticmethod
    def _resisted(text: str) -> bool:
        """A craving told with the use it did not lead to: no slip, whatever the classifier read."""
        return says_resisted(text) and tells_craving(text) and not reports_use(text)

    @staticmethod
    def _replace(message: Message, original: str, replacement: str, rule: str) -> None:
        ranking = message.get(INTENT_RANKING_KEY) or []
        confidence = next(
            (
                float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
                for entry in ranking
                if entry.get(INTENT_NAME_KEY) == replacement
            ),
            0.0,
        )
        chosen = {INTENT_NAME_KEY: replacement, PREDICTED_CONFIDENCE_KEY: confidence}
        others = [e for e in ranking if e.get(INTENT_NAME_KEY) != replacement]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(chosen), *others], add_to_output=True)
        message.set(GUARD_KEY, {"from": original, "rule": rule}, add_to_output=True)


def _next_best(message: Message, excluded: frozenset[str]) -> str:
    """The classifier's best intent that is not excluded (nor the fallback's placeholder)."""
    for entry in message.get(INTENT_RANKING_KEY) or []:
        name = entry.get(INTENT_NAME_KEY)
        if name and name not in excluded and name != "nlu_fallback":
            return str(name)
    return DEFAULT_INTENT
