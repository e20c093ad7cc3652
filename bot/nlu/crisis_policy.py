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
  never cleared, and the form asks for the first one still empty); with no form paused, what
  the asked message starts when only the classifier's guess made it ask ("i'm craving" ->
  the craving flow; learnt from the rules at training, :func:`flows_of_intents`).
- the first ordinary message after an urgent reply: ``utter_still_here`` ("Are you safe right
  now? I'm still here.") once, instead of a menu or a fallback. "Yes" to it ->
  ``utter_glad_safe``; "no" -> the urgent reply again.
- for a few more turns after that, or after the direct safety question (:data:`SUPPORTIVE_TURNS`),
  an "ok", an "idk", a "help" or a feeling outside a form gets ``utter_supportive`` (short and
  warm: the safety plan, the care team, or just talking), never the menu or "I didn't
  understand". A request ("make a safety plan") is answered. Warm replies of their own (to a
  thanks, a vent) do not end these turns; a reply to another question does.

The answer to the direct safety question is read from its words as well as its intent
(:func:`read_safety_reply`), because people rarely answer with a bare button: "nah im ok just
tired", "no. honestly its like a 6 today", "i'm fine lets keep going". Erring towards help:

- risk the detector finds in the answer, or a yes or a not-sure anywhere in it: urgent;
- a no ("no", "nah", "i'm fine", "not really" …) without either: thanks, and the paused form
  again with its answers untouched (a rating said with the no, "no, like a 6", is taken by the
  form's validation on the action server: :mod:`actions.forms`);
- a request of its own ("are you a real person?"): answered as usual;
- anything else, when only the classifier's guess asked: the person has gone on with something
  else ("6", "the music was so loud"), so a short kind line (``utter_safety_noted``) and what
  they were doing, with a rating they gave taken as the paused question's answer;
- anything else after a question the detector's reading asked: one re-ask in other words
  (``utter_ask_safety_again``; the same text is never sent twice in a row), and if that is
  unclear too, a kind line (``utter_safety_carry_on``) and the paused form again.

One more reading of words at this level, because no rule can: right after an answer about the
treatment outside a form (``action_answer_question`` and its follow-ups), "tell me more" in any
words gets the longer answer (``action_more_detail``) and "that's not what I asked" the
next-best topic (``action_not_what_i_asked``), whatever intent the classifier gave them
("continue_form", "skip", "nlu_fallback" …). Never over a risk signal: the crisis sequences are
decided first, and a message with risk is never a follow-up. It lives in this policy because it
is the one that reads the tracker before the rules and abstains otherwise.

Otherwise the policy abstains (all zeros) and the other policies decide.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.content import FOLDER, load_mapping
from bot.journal.reply_reading import (
    asks_for_more_after_an_answer,
    asks_only_for_more,
    says_wrong_answer_after_an_answer,
)
from bot.safety.assessment import WORDING_SOURCE, assess
from bot.safety.detector import default_matcher, mentions_risk_words
from bot.safety.risk_checks import (
    SAFETY_NO,
    SAFETY_UNSURE,
    SAFETY_YES,
    parse_safety_answer,
    says_nothing,
)

CRISIS_INTENT = "crisis"
CRISIS_PREFIX = "utter_crisis_"
RECENT_RESPONSE = "utter_crisis_recent"
DEFAULT_KIND = "suicide"
ASK_RESPONSE = "utter_ask_safety"
#: Forms whose answers are about risk itself (a safety plan's warning signs, means kept away,
#: people to call) or are the published answers of a validated measure (PHQ-9 item 9 asks
#: about thoughts of death and has its own safety question, actions/measures.py): there the
#: classifier's guess alone (or the wording model's) reads the topic, not the person, and
#: acting on it would break the form at every step. The detector's rules still read every
#: answer.
GUESSES_NOT_ASKED_IN = frozenset({"safety_plan_form", "measure_form"})
#: Journal forms, whose answers are full of hard feelings and talk of using. Measured on the
#: held-out conversations (tests/conversations/), the classifier's guess alone asked the safety
#: question of 1 answer in 20 there, at a confidence of 0.5 to 1.0 on grateful, venting and
#: reflective answers alike, and each ask broke the reflection; the wording model's urgent
#: guess broke 2 answers in 120 (a trigger, a way of coping). There a model's guess counts only
#: when the answer also speaks of living, dying, ending or hurting
#: (:func:`bot.safety.detector.mentions_risk_words`). The detector's rules still read every
#: answer, a mood of 2 or lower still brings the direct question, and in a conversation that
#: had an urgent reply in the last hours a guess is urgent.
GUESSES_NEED_RISK_WORDS_IN = frozenset(
    {"integration_form", "checkin_form", "trigger_form", "urge_surfing_form", "lapse_check_form"}
)
SAFETY_THANKS = "utter_safety_thanks"
#: The direct question asked once more, in other words, when the answer was unclear.
ASK_AGAIN_RESPONSE = "utter_ask_safety_again"
#: After a second unclear answer: a kind line (and the paused form again), no third ask.
CARRY_ON_RESPONSE = "utter_safety_carry_on"
#: After a reply that goes on with something else, when only a classifier's guess asked.
NOTED_RESPONSE = "utter_safety_noted"
ASK_RESPONSES = frozenset({ASK_RESPONSE, ASK_AGAIN_RESPONSE})
STILL_HERE = "utter_still_here"
GLAD_SAFE = "utter_glad_safe"
RISK_FLAG_ACTION = "action_record_risk_flag"
DEACTIVATE_LOOP_ACTION = "action_deactivate_loop"
YES_INTENTS = frozenset({"affirm", "unsure"})
NO_INTENTS = frozenset({"deny"})
#: Intent -> the actions it starts (learnt from the rules: :func:`flows_of_intents`).
Flows = dict[str, list[str]]
#: Where the policy keeps its flows in the model.
FLOWS_FILE = "flows.json"
#: Intents never carried on after the safety question: they answer it, or are the risk itself.
_NOT_CARRIED_ON = frozenset({CRISIS_INTENT, *YES_INTENTS, *NO_INTENTS})
#: Requests of their own: after the direct question they are answered as usual unless their
#: words say yes or not sure ("yes. can i talk to someone?" is urgent). Every other intent
#: (feelings, "ok", a number, the fallback …) is read as an answer to the question.
ANSWERED_AS_USUAL = frozenset(
    {
        "bot_challenge",
        "psychoeducation",
        "more_detail",
        "not_what_i_asked",
        "start_integration",
        "start_checkin",
        "report_craving",
        "report_lapse",
        "report_trigger",
        "start_urge_surfing",
        "coping_menu",
        "show_journal",
        "keep_entry",
        "discard_entry",
        "export_my_data",
        "erase_my_data",
        "make_safety_plan",
        "show_safety_plan",
        "contact_care_team",
        "leave_care_team_message",
        "stop",
    }
)
#: The word lists of the safety answer beyond check_answers.yml (not-an-answer words,
#: softeners, nos in other words, "not ok"), kept as data.
SAFETY_WORDS_FILE = FOLDER / "safety_answer_words.yml"
_SAFETY_WORDS = load_mapping(SAFETY_WORDS_FILE, text_lists=True)


def _alternation(phrases: list[str]) -> str:
    """Phrases as a regex alternation, longest first; an apostrophe in one is optional."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    return "|".join(re.escape(p).replace("'", "'?") for p in ordered)


#: Words that only soften what follows ("nah im ok, kind of tired"), dropped before reading an
#: answer: the safety answers' word list counts "kind of" as a yes.
_SOFTENERS = re.compile(rf"(?<![\w'])(?:{_alternation(_SAFETY_WORDS['softeners'])})(?![\w'])")
#: A no in words the safety answers' list leaves out, because there they can be part of a yes.
_MORE_NOS = re.compile(rf"(?<![\w'])(?:{_alternation(_SAFETY_WORDS['more_nos'])})(?![\w'])")
#: "i'm not ok" is no "no": the list's "i'm not" means "i'm not having those thoughts".
_NOT_WELL = re.compile(
    rf"(?<![\w'])(?:{'|'.join(map(re.escape, _SAFETY_WORDS['not_well_negations']))}) "
    rf"(?:(?:{_alternation(_SAFETY_WORDS['not_well_between'])}) )?"
    rf"(?:{_alternation(_SAFETY_WORDS['not_well_words'])})(?![\w'])"
)
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
        "help",
    }
)


#: How many messages after an urgent reply (or the direct question) stay in the supportive mode:
#: long enough for the "ok", "idk" and "help" that follow a crisis reply, which read as a
#: person still shaken, not as one asking for the menu.
SUPPORTIVE_TURNS = 6
SUPPORTIVE = "utter_supportive"
#: Messages that get the supportive reply in those turns: the check-in's, except greetings,
#: thanks, goodbyes and venting, which have warm replies of their own ("Just talk" is a vent).
#: "help" or "i dont know what to do" then asks for support, not for the menu.
SUPPORTIVE_INTENTS = CHECK_IN_INTENTS - {"thank", "goodbye", "greet", "vent"}
#: Form commands that, with nothing paused, would get "nothing in progress" and a menu.
SUPPORTIVE_WITH_NOTHING_PAUSED = frozenset({"continue_form", "skip", "stop"})

#: Answers about the treatment outside a form (data/psychoeducation.yml, actions/psychoeducation.py).
PSYCHOEDUCATION_ANSWERS = frozenset(
    {"action_answer_question", "action_more_detail", "action_not_what_i_asked"}
)
MORE_DETAIL_ACTION = "action_more_detail"
OTHER_ANSWER_ACTION = "action_not_what_i_asked"
#: Intents that keep their own answer right after one about the treatment: a new question.
_NOT_FOLLOW_UPS = frozenset({CRISIS_INTENT, "psychoeducation"})


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

    def detector_risk(self) -> dict[str, Any]:
        """The detector's own finding in the message (not a classifier guess), or ``{}``.

        Read again from the text when the message carries no assessment (a conversation
        replayed from a story): the answer to the safety question must never be taken as a
        "no" past a risk the detector sees in it.
        """
        value = (self.user.parse_data or {}).get("crisis_detection")
        if isinstance(value, dict) and value.get("level"):
            found = value
        else:
            match = default_matcher().detect(self.user.text or "")
            found = assess(match).as_dict() if match is not None else {}
        if found.get("source") == "classifier" or found.get("level") in (None, "none"):
            return {}
        return found


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


def flows_of_intents(trackers: list[TrackerWithCachedStates]) -> Flows:
    """What each intent starts, from the rules that need nothing but the intent: the actions
    of "- intent: report_craving / - action: utter_craving_ack / - action: trigger_form", up
    to listening or the form. Rules with conditions (a slot, an active form) or that start a
    conversation are left out, and so are the intents of yes, no and crisis, which mean
    something else after the safety question."""
    flows: Flows = {}
    for tracker in trackers:
        if not tracker.is_rule_tracker:
            continue
        events = [
            event
            for event in tracker.events
            if not (
                isinstance(event, ActionExecuted)
                and event.action_name in (RULE_SNIPPET_ACTION_NAME, ACTION_LISTEN_NAME)
            )
        ]
        if not events or not isinstance(events[0], UserUttered):
            continue  # a condition (slot, form) or a conversation start comes first
        intent = events[0].intent_name
        actions: list[str] = []
        for event in events[1:]:
            if isinstance(event, UserUttered):
                break
            if isinstance(event, ActionExecuted) and event.action_name:
                actions.append(event.action_name)
        if intent and actions and intent not in _NOT_CARRIED_ON and intent not in flows:
            flows[intent] = actions
    return flows


def crisis_sequence(
    tracker: DialogueStateTracker, known: set[str], flows: Flows | None = None
) -> list[str] | None:
    """The actions this turn must run, in order, or None when this policy has no say.

    ``known`` are the domain's action names: a reply kind without its response falls back to
    the suicide reply, which lists every line. ``flows``: what each intent starts
    (:func:`flows_of_intents`), for carrying on after a "no" to the safety question.
    """
    turns = _turns(tracker)
    if not turns:
        return None
    turn, before = turns[-1], turns[:-1]
    previous = before[-1] if before else None
    asked = previous is not None and bool(ASK_RESPONSES.intersection(previous.actions))

    def reply(kind: str | None) -> str:
        name = f"{CRISIS_PREFIX}{kind or DEFAULT_KIND}"
        return name if name in known else f"{CRISIS_PREFIX}{DEFAULT_KIND}"

    # The form active when the message came (the sequence itself may have closed it since).
    close = [DEACTIVATE_LOOP_ACTION] if turn.active_loop else []

    def urgent(kind: str | None) -> list[str]:
        return [reply(kind), RISK_FLAG_ACTION, *close]

    wording_guess = turn.detection.get("source") == WORDING_SOURCE
    if turn.intent == CRISIS_INTENT or turn.detection.get("level") == "ask" or wording_guess:
        level = turn.detection.get("level") or "ask"
        kind = turn.detection.get("kind")
        guess = turn.detection.get("source") == "classifier"
        if wording_guess and (
            turn.active_loop in GUESSES_NOT_ASKED_IN
            or turn.active_loop in GUESSES_NEED_RISK_WORDS_IN
            and not _elevated(tracker, turn.user.timestamp)
            and not mentions_risk_words(turn.user.text or "")
        ):
            return None  # the form takes the answer; the lexicon has read it already
        if level == "ask" and _elevated(tracker, turn.user.timestamp):
            level = "urgent"
        elif level == "ask" and asked and not guess:
            # Risk in the answer to the question itself: asking again would only repeat it.
            level = "urgent"
        elif (
            level == "ask"
            and guess
            and (
                turn.active_loop in GUESSES_NOT_ASKED_IN
                or turn.active_loop in GUESSES_NEED_RISK_WORDS_IN
                and not mentions_risk_words(turn.user.text or "")
            )
        ):
            return None  # the form takes the answer; the detector has read it already
        if level in ("urgent", "recent"):
            return urgent(kind if level == "urgent" else "recent")
        if not asked:
            return [*close, ASK_RESPONSE]
        # A classifier's guess on the answer to the question: its words decide, below.

    if asked and previous is not None:
        return _answer_to_safety_question(turn, before, known, urgent, flows or {})

    if previous is not None and STILL_HERE in previous.actions:
        if turn.intent == "affirm":
            return [GLAD_SAFE]
        if turn.intent == "deny":
            earlier = next(
                (_urgent_reply(t.actions) for t in reversed(before) if _urgent_reply(t.actions)),
                None,
            )
            return urgent(earlier[len(CRISIS_PREFIX) :] if earlier else DEFAULT_KIND)
        # Anything else after "are you safe?" is one of the supportive turns (below).

    if previous is not None and _urgent_reply(previous.actions) and turn.intent in CHECK_IN_INTENTS:
        return [STILL_HERE]
    if (
        turn.active_loop is None
        and _supportive_intent(turn.intent, tracker)
        and _supportive_chain(before[-SUPPORTIVE_TURNS:])
    ):
        return [SUPPORTIVE]
    return None


def read_safety_reply(text: str) -> str | None:
    """What a typed reply to "are you having thoughts of ending your life?" says: ``"yes"``,
    ``"unsure"``, ``"no"``, or ``None`` when it says none of them.

    The safety answers' word list (:func:`bot.safety.risk_checks.parse_safety_answer`) decides, erring
    towards help (a yes or a not-sure anywhere wins: "no... well maybe" is not sure), after
    the softeners that turn a no into a yes there are dropped ("nah im ok, kind of tired"), with
    the few nos it leaves out ("i'm fine lets keep going"). "i'm not ok" is not sure, not a no;
    a bare "ok" says nothing.
    """
    if says_nothing(text):
        return None
    lowered = text.casefold().replace("\u2019", "'")
    if _NOT_WELL.search(lowered):
        return SAFETY_UNSURE
    answer = parse_safety_answer(_SOFTENERS.sub(" ", lowered))
    if answer is None and _MORE_NOS.search(lowered):
        return SAFETY_NO
    return answer


def _reading(turn: _Turn) -> str | None:
    """The answer: a button by its intent; typed words by what they say, and when they say
    neither yes nor no, by the classifier's not sure or no, or its yes unless the reply is
    only an "ok" (:func:`bot.safety.risk_checks.says_nothing`: "ok thanks" is no yes to this
    question)."""
    text = turn.user.text or ""
    if not text.startswith("/"):
        answer = read_safety_reply(text)
        if answer is not None:
            return answer
        if says_nothing(text):
            return None
    if turn.intent == "unsure":
        return SAFETY_UNSURE
    if turn.intent in YES_INTENTS:
        return SAFETY_YES
    if turn.intent in NO_INTENTS:
        return SAFETY_NO
    return None


def _answer_to_safety_question(
    turn: _Turn,
    before: list[_Turn],
    known: set[str],
    urgent: Callable[[str | None], list[str]],
    flows: Flows,
) -> list[str] | None:
    """The sequence for the message that answers the direct safety question (or its re-ask).

    After a no (or a second unclear answer) the person carries on with what they were doing:
    the form the question paused, or, when the question came on a message of their own that a
    classifier's guess alone made ask ("i'm craving hard tonight", read as maybe a crisis), the
    flow that message starts, as if it had been answered straight away."""
    risk = turn.detector_risk()
    if risk:
        level = risk.get("level")
        return urgent("recent" if level == "recent" else risk.get("kind") or DEFAULT_KIND)
    answer = _reading(turn)
    if answer in (SAFETY_YES, SAFETY_UNSURE):
        return urgent(DEFAULT_KIND)
    if (turn.intent or "").split("/")[0] in ANSWERED_AS_USUAL:
        return None
    paused = _paused_by_question(before)
    resume = [paused] if paused is not None and paused in known else []
    if not resume:
        resume = _flow_of_the_asked_message(before, flows, known)
    if answer == SAFETY_NO:
        return [SAFETY_THANKS, *resume]
    if (
        ASK_AGAIN_RESPONSE not in before[-1].actions
        and _asked_on_a_guess(before)
        and turn.detection.get("level") in (None, "none")
        and not says_nothing(turn.user.text or "")
        and NOTED_RESPONSE in known
    ):
        # Only a classifier's guess asked, and the reply goes on with something else ("6",
        # "the music was intense"): the person has moved on, and asking again would be the
        # second false alarm in a row. A kind line, and what they were doing. (A bare "ok"
        # says nothing either way and is asked again.)
        return [NOTED_RESPONSE, *resume]
    if ASK_AGAIN_RESPONSE not in before[-1].actions and ASK_AGAIN_RESPONSE in known:
        return [ASK_AGAIN_RESPONSE]
    return [CARRY_ON_RESPONSE, *resume]


def _asked_on_a_guess(before: list[_Turn]) -> bool:
    """Whether the direct question now being answered was asked on a classifier's guess alone
    (not on anything the detector read)."""
    for earlier in reversed(before):
        if ASK_RESPONSE in earlier.actions:
            return earlier.detection.get("source") == "classifier"
        if ASK_AGAIN_RESPONSE not in earlier.actions:
            return False
    return False


def _flow_of_the_asked_message(before: list[_Turn], flows: Flows, known: set[str]) -> list[str]:
    """What the message the safety question interrupted starts (its intent's flow), when only
    the classifier's guess made that message ask and no form was active; else nothing."""
    for earlier in reversed(before):
        if ASK_RESPONSE in earlier.actions:
            if earlier.active_loop or earlier.detection.get("source") != "classifier":
                return []
            flow = flows.get(earlier.intent or "", [])
            return list(flow) if flow and set(flow) <= known else []
        if ASK_AGAIN_RESPONSE not in earlier.actions:
            return []
    return []


def _paused_by_question(before: list[_Turn]) -> str | None:
    """The form the direct question paused: the one active when the turn that asked it came
    (back past a re-ask), if that turn closed it."""
    for earlier in reversed(before):
        if ASK_RESPONSE in earlier.actions:
            return earlier.active_loop if DEACTIVATE_LOOP_ACTION in earlier.actions else None
        if ASK_AGAIN_RESPONSE not in earlier.actions:
            return None
    return None


def _supportive_intent(intent: str | None, tracker: DialogueStateTracker) -> bool:
    """Whether the message gets the supportive reply in the turns after a crisis reply."""
    if intent in SUPPORTIVE_INTENTS:
        return True
    return intent in SUPPORTIVE_WITH_NOTHING_PAUSED and tracker.get_slot("paused_form") is None


#: Replies that keep the supportive mode going: the crisis replies and the ones that follow
#: them, and the warm replies of their own to a thanks, an "ok", a feeling or a vent.
_SUPPORTIVE_CHAIN = frozenset(
    {
        *ASK_RESPONSES,
        SAFETY_THANKS,
        CARRY_ON_RESPONSE,
        NOTED_RESPONSE,
        STILL_HERE,
        GLAD_SAFE,
        SUPPORTIVE,
        "utter_welcome",
        "utter_im_here",
        "utter_share_feeling",
        "utter_gratitude",
        "vent_form",
        "utter_vent_ack",
        "action_end_vent",
    }
)


def _supportive_chain(recent: list[_Turn]) -> bool:
    """Whether the last turns, up to the newest, are a crisis reply and what followed it.

    Any other reply in between ends the mode: after "delete my data" a "no" answers that
    question, not the crisis reply three messages before.
    """
    for earlier in reversed(recent):
        if _urgent_reply(earlier.actions) or ASK_RESPONSES.intersection(earlier.actions):
            return True
        if not _SUPPORTIVE_CHAIN.intersection(earlier.actions):
            return False
    return False


def follow_up_sequence(tracker: DialogueStateTracker, known: set[str]) -> list[str] | None:
    """The answer to "tell me more" or "that's not what I asked" said in any words right after
    an answer about the treatment outside a form; None for anything else.

    Read from the words (:func:`bot.journal.reply_reading.says_wrong_answer_after_an_answer`,
    :func:`~bot.journal.reply_reading.asks_for_more_after_an_answer`: "why is that?", "like
    what", and "go on" unless a form is paused) because the classifier files them under
    whatever is nearest ("go on" as continue_form, "no i meant something else" as skip). A
    button (``/more_detail``) and a new question keep their own rules, and a message with any
    risk signal is never a follow-up.
    """
    turns = _turns(tracker)
    if len(turns) < 2:
        return None
    turn, previous = turns[-1], turns[-2]
    text = turn.user.text or ""
    if (
        turn.active_loop is not None
        or not PSYCHOEDUCATION_ANSWERS.intersection(previous.actions)
        or text.startswith("/")
        or turn.intent == CRISIS_INTENT
        or turn.detection.get("level") not in (None, "none")
    ):
        return None
    if says_wrong_answer_after_an_answer(text):
        # Also when it names what was meant ("no, i meant the side effects"), which the
        # action then answers.
        action = OTHER_ANSWER_ACTION
    elif asks_only_for_more(text):
        action = MORE_DETAIL_ACTION  # a bare "why?", whatever topic the classifier guessed
    elif (turn.intent or "").split("/")[0] in _NOT_FOLLOW_UPS:
        return None
    elif asks_for_more_after_an_answer(
        text, form_paused=tracker.get_slot("paused_form") is not None
    ):
        action = MORE_DETAIL_ACTION
    else:
        return None
    return [action] if action in known else None


def next_crisis_action(
    tracker: DialogueStateTracker, known: set[str], flows: Flows | None = None
) -> str | None:
    """The next action of this turn's sequence; None when the sequence is done (the last
    step is listening, or a resumed form taking over) or this is not such a turn."""
    sequence = crisis_sequence(tracker, known, flows)
    if sequence is None:
        sequence = follow_up_sequence(tracker, known)
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

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        flows: Flows | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, **kwargs)
        self._flows: Flows = dict(flows or {})

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """The sequences are fixed; what is learnt is what each intent starts (from the
        rules), so that a "no" to the safety question can carry on with it."""
        self._flows = flows_of_intents(training_trackers)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as path:
            (path / FLOWS_FILE).write_text(json.dumps(self._flows, sort_keys=True))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CrisisPolicy:
        """The policy with the flows it learnt; without them (a model trained before they
        were learnt) it works as before and only resumes paused forms."""
        flows: Flows = {}
        try:
            with model_storage.read_from(resource) as path:
                flows = json.loads((path / FLOWS_FILE).read_text())
        except (ValueError, OSError):
            pass
        return cls(config, model_storage, resource, execution_context, flows=flows)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Full confidence for the next step; zeros when this policy has no say."""
        probabilities = self._default_predictions(domain)
        action = next_crisis_action(tracker, set(domain.action_names_or_texts), self._flows)
        if action is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # is_no_user_prediction puts this prediction in the same class as the form's
        # happy path, where the higher priority decides.
        return self._prediction(probabilities, is_no_user_prediction=True)
