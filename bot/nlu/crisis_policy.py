"""A dialogue policy that gives the crisis reply first, in every state.

Why a policy and not only rules: while a form is active, Rasa's RulePolicy predicts the
form again on every message, and only a *rejection* by the form lets a rule through. The
form asks the action server (``validate_<form>``) before it can reject, so with the action
server down a crisis message in the middle of a form would get no reply at all. This
policy outranks the RulePolicy (priority 7 against 6) and walks a fixed sequence that needs
nothing but the tracker and the domain:

    user: crisis  ->  utter_crisis  ->  action_record_risk_flag
                  ->  action_deactivate_loop (only if a form was active)  ->  action_listen

``utter_crisis`` is a static domain response, so it is sent even if the next step, the
risk-flag action on the action server, fails. When it is not a crisis turn the policy
abstains (all zeros), so every other prediction is left to the other policies.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

CRISIS_INTENT = "crisis"
CRISIS_RESPONSE = "utter_crisis"
RISK_FLAG_ACTION = "action_record_risk_flag"
DEACTIVATE_LOOP_ACTION = "action_deactivate_loop"


def next_crisis_action(tracker: DialogueStateTracker) -> str | None:
    """The next action of the crisis sequence, or None when this is not a crisis turn.

    Only the events since the latest user message count, so the sequence is the same in
    every conversation state.
    """
    actions_since_user: list[str] = []
    user_intent: str | None = None
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            user_intent = event.intent_name
            break
        if isinstance(event, ActionExecuted) and event.action_name:
            actions_since_user.append(event.action_name)
    if user_intent != CRISIS_INTENT:
        return None
    actions_since_user.reverse()
    # Slot extraction after a user message logs no ActionExecuted, so an empty list
    # means we are right after the crisis message.
    if not actions_since_user:
        return CRISIS_RESPONSE
    last = actions_since_user[-1]
    if last == CRISIS_RESPONSE and actions_since_user == [CRISIS_RESPONSE]:
        return RISK_FLAG_ACTION
    if last == RISK_FLAG_ACTION:
        return DEACTIVATE_LOOP_ACTION if tracker.active_loop_name else ACTION_LISTEN_NAME
    if last == DEACTIVATE_LOOP_ACTION and RISK_FLAG_ACTION in actions_since_user:
        return ACTION_LISTEN_NAME
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class CrisisPolicy(Policy):
    """Predicts the crisis sequence with full confidence; abstains otherwise."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Priority 7 outranks the RulePolicy (6), including its form 'happy path'."""
        return {"priority": 7}

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Nothing to learn: the sequence is fixed."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Full confidence for the next crisis step; zeros when this is not a crisis turn."""
        probabilities = self._default_predictions(domain)
        action = next_crisis_action(tracker)
        if action is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # is_no_user_prediction puts this prediction in the same class as the form's
        # happy path, where the higher priority decides.
        return self._prediction(probabilities, is_no_user_prediction=True)
