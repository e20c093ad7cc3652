"""A dialogue policy that answers risk first, in every state, by level and kind.

Why a policy and not only rules: while a form is active, Rasa's RulePolicy predicts the
form again on every message, and only a *rejection* by the form lets a rule through. The
form asks the action server (``validate_<form>``) before it can reject, so with the action
server down a crisis message in the middle of a form would get no reply at all. This
policy outranks the RulePolicy (priority 7 against 6) and walks fixed sequences that need
nothing but the tracker and the domain (the ``crisis_detection`` of each message is
:mod:`bot.nlu.crisis_detector`'s):

- urgent or recent (and an ask in a conversation that disclosed risk in the last hours):
  ``utter_crisis_<kind>`` -> ``action_record_risk_flag`` -> ``action_deactivate_loop`` (if a
  form was active) -> listen. The reply is a static domain response, sent even if the
  risk-flag action on the action server fails.
- ask (a ``crisis`` message, or the classifier's guess alone on a message that keeps its own
  intent, and so its place as a form's answer): ``action_deactivate_loop`` (if a form was
  active) -> ``utter_ask_safety`` -> listen.
  The next message answers it: yes or not sure -> ``utter_crisis_suicide`` and the flag; no ->
  ``utter_safety_thanks`` and the paused form again, its answers untouched (its slots were
  never cleared, and the form asks for the first one still empty).
- the first ordinary message after an urgent reply: ``utter_still_here`` ("Are you safe right
  now? I'm still here.") once, instead of a menu or a fallback. "Yes" to it ->
  ``utter_glad_safe``; "no" -> the urgent reply again.
- for a few more turns after that, or after the direct safety question (:data:`SUPPORTIVE_TURNS`),
  an "ok", an "idk" or a feeling outside a form gets ``utter_supportive`` (short and warm: the safety plan, the care team, or just talking),
  never the menu or "I didn't understand". A request ("make a safety plan") is answered.

Otherwise the policy abstains (all zeros) and the other policies decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.safety.assessment import assess
from bot.safety.detector import default_matcher, mentions_risk_words

CRISIS_INTENT = "crisis"
CRISIS_PREFIX = "utter_crisis_"
RECENT_RESPONSE = "utter_crisis_recent"
DEFAULT_KIND = "suicide"
ASK_RESPONSE = "utter_ask_safety"
#: Forms whose answers are about risk itself (a safety plan's warning signs, means kept away,
#: people to call): there the classifier's guess alone reads the topic, not the person, and
#: asking would break the plan at every step. The detector's rules still read every answer.
GUESSES_NOT_ASKED_IN = frozenset({"safety_plan_form"})
#: Journal forms, whose answers are full of hard feelings and talk of using. Measured on the
#: held-out conversations (tests/conversations/), the classifier's guess alone asked the safety
#: question of 1 answer in 20 there, at a confidence of 0.5 to 1.0 on grateful, venting and
#: reflective answers alike, and each ask broke the reflection. There the guess asks only when
#: the answer also speaks of living, dying, ending or hurting
#: (:func:`bot.safety.detector.mentions_risk_words`). The detector's rules still read every
#: answer, a mood of 2 or lower still brings the direct question, and in a conversation that
#: had an urgent reply in the last hours a guess is urgent.
GUESSES_NEED_RISK_WORDS_IN = frozenset(
    {"integration_form", "checkin_form", "trigger_form", "urge_surfing_form", "lapse_check_form"}
)
SAFETY_THANKS = "utter_safety_thanks"
STILL_HERE = "utter_still_here"
GLAD_SAFE = "utter_glad_safe"
RISK_FLAG_ACTION = "action_record_risk_flag"
DEACTIVATE_LOOP_ACTION = "action_deactivate_loop"
YES_INTENTS = frozenset({"affirm", "unsure"})
NO_INTENTS = frozenset({"deny"})
#: How long a conversation that got an urgent reply stays elevated: an ask is then urgent.
ELEVATED_SECONDS = 6 * 3600
#: Messages that get the one check-in after an urgent reply instead of their usual answer:
#: "ok", thanks, feelings, what the model could not place. A request ("make a safety plan")
#: or a question ("are you a real person?") is answered as usual.
CHECK_IN_INTENTS = frozenset(
    {
        "affirm",
        "deny",
        "unsure",
        "thank",
        "greet",
        "goodbye",
        "nlu_fallback",
        "out_of_scope",
        "share_feeling",
        "vent",
        "gratitude",
    }
)


#: How many messages after an urgent reply stay in the supportive mode.
SUPPORTIVE_TURNS = 4
SUPPORTIVE = "utter_supportive"
#: Messages that get the supportive reply in those turns: the check-in's, except greetings,
#: thanks, goodbyes and venting, which have warm replies of their own ("Just talk" is a vent).
SUPPORTIVE_INTENTS = CHECK_IN_INTENTS - {"thank", "goodbye", "greet", "vent"}


@dataclass
class _Turn:
    """A user message, the actions that followed it, and the form active when it came."""

    user: UserUttered
    active_loop: str | None
    actions: list[str] = field(default_factory=list)

    @property
    def intent(self) -> str | None:
        return self.user.intent_name

    @property
    def detection(self) -> dict[str, Any]:
        """The NLU's risk assessment of the message; for a ``crisis`` message without one
        (a conversation replayed from a story, or stored before assessments existed), the
        same assessment made here from its text."""
        value = (self.user.parse_data or {}).get("crisis_detection")
        if isinstance(value, dict) and value.get("level"):
            return value
        if self.intent != CRISIS_INTENT:
            return {}
        match = default_matcher().detect(self.user.text or "")
        return assess(match, classifier_crisis=1.0).as_dict()


def _turns(tracker: DialogueStateTracker) -> list[_Turn]:
    turns: list[_Turn] = []
    active: str | None = None
    for event in tracker.events:
        if isinstance(event, ActiveLoop):
            active = event.name
        elif isinstance(event, UserUttered):
            turns.append(_Turn(event, active))
        elif isinstance(event, ActionExecuted) and event.action_name and turns:
            if event.action_name != ACTION_LISTEN_NAME:
                turns[-1].actions.append(event.action_name)
    return turns


def _urgent_reply(actions: list[str]) -> str | None:
    return next((a for a in actions if a.startswith(CRISIS_PREFIX) and a != RECENT_RESPONSE), None)


def _elevated(tracker: DialogueStateTracker, now: float) -> bool:
    """An urgent reply went out in this conversation in the last ELEVATED_SECONDS."""
    return any(
        isinstance(event, ActionExecuted)
        and (event.action_name or "").startswith(CRISIS_PREFIX)
        and event.action_name != RECENT_RESPONSE
        and now - event.timestamp <= ELEVATED_SECONDS
        for event in tracker.events
    )


def crisis_sequence(tracker: DialogueStateTracker, known: set[str]) -> list[str] | None:
    """The actions this turn must run, in order, or None when this policy has no say.

    ``known`` are the domain's action names: a reply kind without its response falls back to
    the suicide reply, which lists every line.
    """
    turns = _turns(tracker)
    if not turns:
        return None
    turn, before = turns[-1], turns[:-1]
    previous = before[-1] if before else None

    def reply(kind: str | None) -> str:
        name = f"{CRISIS_PREFIX}{kind or DEFAULT_KIND}"
        return name if name in known else f"{CRISIS_PREFIX}{DEFAULT_KIND}"

    # The form active when the message came (the sequence itself may have closed it since).
    close = [DEACTIVATE_LOOP_ACTION] if turn.active_loop else []

    def urgent(kind: str | None) -> list[str]:
        return [reply(kind), RISK_FLAG_ACTION, *close]

    if turn.intent == CRISIS_INTENT or turn.detection.get("level") == "ask":
        level = turn.detection.get("level") or "ask"
        kind = turn.detection.get("kind")
        if level == "ask" and _elevated(tracker, turn.user.timestamp):
            level = "urgent"
        elif (
            level == "ask"
            and turn.detection.get("source") == "classifier"
            and (
                turn.active_loop in GUESSES_NOT_ASKED_IN
                or turn.active_loop in GUESSES_NEED_RISK_WORDS_IN
                and not mentions_risk_words(turn.user.text or "")
            )
        ):
            return None  # the form takes the answer; the detector has read it already
        if level in ("urgent", "recent"):
            return urgent(kind if level == "urgent" else "recent")
        return [*close, ASK_RESPONSE]

    if previous is not None and ASK_RESPONSE in previous.actions:
        if turn.intent in YES_INTENTS:
            return urgent(DEFAULT_KIND)
        if turn.intent in NO_INTENTS:
            paused = previous.active_loop if DEACTIVATE_LOOP_ACTION in previous.actions else None
            return [SAFETY_THANKS, *([paused] if paused in known else [])]
        return None

    if previous is not None and STILL_HERE in previous.actions:
        if turn.intent == "affirm":
            return [GLAD_SAFE]
        if turn.intent == "deny":
            earlier = next(
                (_urgent_reply(t.actions) for t in reversed(before) if _urgent_reply(t.actions)),
                None,
            )
            return urgent(earlier[len(CRISIS_PREFIX) :] if earlier else DEFAULT_KIND)
        return None

    if previous is not None and _urgent_reply(previous.actions) and turn.intent in CHECK_IN_INTENTS:
        return [STILL_HERE]
    if (
        turn.active_loop is None
        and turn.intent in SUPPORTIVE_INTENTS
        and _supportive_chain(before[-SUPPORTIVE_TURNS:])
    ):
        return [SUPPORTIVE]
    return None


#: Replies that keep the supportive mode going: the crisis replies and the ones that follow them.
_SUPPORTIVE_CHAIN = frozenset({ASK_RESPONSE, SAFETY_THANKS, STILL_HERE, GLAD_SAFE, SUPPORTIVE})


def _supportive_chain(recent: list[_Turn]) -> bool:
    """Whether the last turns, up to the newest, are a crisis reply and what followed it.

    Any other reply in between ends the mode: after "delete my data" a "no" answers that
    question, not the crisis reply three messages before.
    """
    for earlier in reversed(recent):
        if _urgent_reply(earlier.actions) or ASK_RESPONSE in earlier.actions:
            return True
        if not _SUPPORTIVE_CHAIN.intersection(earlier.actions):
            return False
    return False


def next_crisis_action(tracker: DialogueStateTracker, known: set[str]) -> str | None:
    """The next action of this turn's sequence; None when the sequence is done (the last
    step is listening, or a resumed form taking over) or this is not such a turn."""
    sequence = crisis_sequence(tracker, known)
    if sequence is None:
        return None
    done: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name:
            done.append(event.action_name)
    done.reverse()
    if done == sequence[: len(done)]:
        if len(done) < len(sequence):
            return sequence[len(done)]
        # A resumed form runs on its own (it asks its next question, then the rules listen).
        return ACTION_LISTEN_NAME if sequence[-1].startswith(("utter_", "action_")) else None
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class CrisisPolicy(Policy):
    """Predicts the risk sequences with full confidence; abstains otherwise."""

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
        """Nothing to learn: the sequences are fixed."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Full confidence for the next step; zeros when this policy has no say."""
        probabilities = self._default_predictions(domain)
        action = next_crisis_action(tracker, set(domain.action_names_or_texts))
        if action is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # is_no_user_prediction puts this prediction in the same class as the form's
        # happy path, where the higher priority decides.
        return self._prediction(probabilities, is_no_user_prediction=True)
