"""The crisis policy's sequences (bot/nlu/crisis_policy.py) on real Rasa trackers: by level
and kind, the direct safety question answered both ways, a paused form resumed, the
elevated state and the one check-in after an urgent reply."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.crisis_policy import ELEVATED_SECONDS, SUPPORTIVE_TURNS, next_crisis_action

KNOWN = {
    "utter_crisis_suicide",
    "utter_crisis_overdose",
    "utter_crisis_recent",
    "utter_ask_safety",
    "utter_safety_thanks",
    "utter_still_here",
    "utter_glad_safe",
    "utter_supportive",
    "action_record_risk_flag",
    "action_deactivate_loop",
    "integration_form",
}


def user(intent: str, level: str | None = None, kind: str | None = None, at: float | None = None):
    parse: dict[str, Any] = {}
    if level:
        parse["crisis_detection"] = {"level": level, "kind": kind}
    return UserUttered(
        "text", intent={"name": intent, "confidence": 1.0}, parse_data=parse, timestamp=at
    )


def act(name: str, at: float | None = None) -> ActionExecuted:
    return ActionExecuted(name, timestamp=at)


def run(events: list[Event]) -> list[str]:
    """Every action the policy predicts for the last user message, until it abstains or listens."""
    events = list(events)
    predicted: list[str] = []
    for _ in range(8):
        action = next_crisis_action(DialogueStateTracker.from_events("p", events), KNOWN)
        if action is None:
            return predicted
        predicted.append(action)
        if action == ACTION_LISTEN_NAME:
            return predicted
        events.append(act(action))
        if action == "action_deactivate_loop":
            events.append(ActiveLoop(None))
        elif action == "integration_form":
            events.append(ActiveLoop("integration_form"))
    raise AssertionError(f"no end: {predicted}")


IN_FORM = [act("integration_form"), ActiveLoop("integration_form")]


def test_urgent_gets_the_reply_of_its_kind_then_the_flag():
    assert run([user("crisis", "urgent", "overdose")]) == [
        "utter_crisis_overdose",
        "action_record_risk_flag",
        ACTION_LISTEN_NAME,
    ]


def test_urgent_in_a_form_closes_it_after_the_flag():
    assert run([*IN_FORM, user("crisis", "urgent", "suicide")]) == [
        "utter_crisis_suicide",
        "action_record_risk_flag",
        "action_deactivate_loop",
        ACTION_LISTEN_NAME,
    ]


def test_a_kind_without_a_reply_gets_the_suicide_reply_which_lists_every_line():
    assert run([user("crisis", "urgent", "unheard_of")])[0] == "utter_crisis_suicide"


def test_recent_gets_the_calm_reply():
    assert run([user("crisis", "recent", "recent")])[0] == "utter_crisis_recent"


def test_ask_pauses_the_form_and_asks():
    assert run([*IN_FORM, user("crisis", "ask", "suicide")]) == [
        "action_deactivate_loop",
        "utter_ask_safety",
        ACTION_LISTEN_NAME,
    ]


def asked_in_form() -> list[Event]:
    return [
        *IN_FORM,
        user("crisis", "ask", "suicide"),
        act("action_deactivate_loop"),
        ActiveLoop(None),
        act("utter_ask_safety"),
        act(ACTION_LISTEN_NAME),
    ]


def test_no_to_the_question_resumes_the_paused_form():
    # The form then runs on its own: it asks its next question and the rules listen.
    assert run([*asked_in_form(), user("deny")]) == ["utter_safety_thanks", "integration_form"]


@pytest.mark.parametrize("answer", ["affirm", "unsure"])
def test_yes_or_not_sure_is_urgent(answer: str):
    assert run([*asked_in_form(), user(answer)]) == [
        "utter_crisis_suicide",
        "action_record_risk_flag",
        ACTION_LISTEN_NAME,
    ]


def test_something_else_after_the_question_is_left_to_the_other_policies():
    assert run([*asked_in_form(), user("psychoeducation")]) == []


def urgent_turn(at: float) -> list[Event]:
    return [
        user("crisis", "urgent", "suicide", at=at),
        act("utter_crisis_suicide", at=at),
        act("action_record_risk_flag", at=at),
        act(ACTION_LISTEN_NAME, at=at),
    ]


def test_an_ask_in_an_elevated_conversation_is_urgent():
    now = time.time()
    events = [*urgent_turn(now - 60), user("crisis", "ask", "suicide", at=now)]
    assert run(events)[0] == "utter_crisis_suicide"


def test_an_ask_hours_after_the_last_urgent_reply_is_an_ask_again():
    now = time.time()
    events = [*urgent_turn(now - ELEVATED_SECONDS - 60), user("crisis", "ask", "suicide", at=now)]
    assert run(events)[0] == "utter_ask_safety"


def test_the_first_ordinary_message_after_an_urgent_reply_gets_one_check_in():
    now = time.time()
    events = [*urgent_turn(now), user("affirm", at=now)]
    assert run(events) == ["utter_still_here", ACTION_LISTEN_NAME]
    after = [*events, act("utter_still_here"), act(ACTION_LISTEN_NAME)]
    assert run([*after, user("affirm")]) == ["utter_glad_safe", ACTION_LISTEN_NAME]
    assert run([*after, user("deny")])[0] == "utter_crisis_suicide"
    # The check-in only once: an "ok" after its answer gets the supportive reply instead.
    done = [*after, user("affirm"), act("utter_glad_safe"), act(ACTION_LISTEN_NAME)]
    assert run([*done, user("affirm")]) == ["utter_supportive", ACTION_LISTEN_NAME]


@pytest.mark.parametrize("intent", ["affirm", "unsure", "nlu_fallback", "share_feeling", "deny"])
def test_ordinary_messages_after_an_urgent_reply_get_warmth_not_a_menu(intent):
    events = [*urgent_turn(time.time()), user("affirm"), act("utter_still_here")]
    events += [act(ACTION_LISTEN_NAME), user("affirm"), act("utter_glad_safe")]
    events += [act(ACTION_LISTEN_NAME), user(intent)]
    assert run(events) == ["utter_supportive", ACTION_LISTEN_NAME]


def test_after_the_safety_question_a_no_then_an_ok_gets_warmth():
    events = [user("crisis", "ask", "suicide"), act("utter_ask_safety"), act(ACTION_LISTEN_NAME)]
    events += [user("deny"), act("utter_safety_thanks"), act(ACTION_LISTEN_NAME)]
    assert run([*events, user("affirm")]) == ["utter_supportive", ACTION_LISTEN_NAME]


def test_inside_a_form_the_answer_is_the_forms():
    events = [user("crisis", "ask", "suicide"), act("utter_ask_safety"), act(ACTION_LISTEN_NAME)]
    events += [user("deny"), act("utter_safety_thanks"), act("integration_form")]
    events += [ActiveLoop("integration_form"), act(ACTION_LISTEN_NAME)]
    assert run([*events, user("unsure")]) == []


def test_another_question_in_between_ends_the_supportive_mode():
    events = [*urgent_turn(time.time()), user("erase_my_data"), act("utter_confirm_erase")]
    assert run([*events, act(ACTION_LISTEN_NAME), user("deny")]) == []


def test_the_supportive_turns_end():
    events = [*urgent_turn(time.time())]
    for _ in range(SUPPORTIVE_TURNS):
        events += [user("share_feeling"), act("utter_supportive"), act(ACTION_LISTEN_NAME)]
    assert run([*events, user("share_feeling")]) == []


def test_greetings_thanks_and_venting_keep_their_own_replies():
    events = [*urgent_turn(time.time()), user("affirm"), act("utter_still_here")]
    events += [act(ACTION_LISTEN_NAME), user("affirm"), act("utter_glad_safe")]
    for intent in ("thank", "goodbye", "greet", "vent", "start_checkin"):
        assert run([*events, act(ACTION_LISTEN_NAME), user(intent)]) == []


def test_a_request_after_an_urgent_reply_is_answered_as_usual():
    assert run([*urgent_turn(time.time()), user("start_checkin")]) == []


def test_no_say_on_ordinary_turns():
    assert run([user("greet")]) == []


def test_a_crisis_message_without_a_stored_assessment_is_assessed_from_its_text():
    """A conversation replayed from a story, or stored before assessments existed."""

    def bare(text: str) -> UserUttered:
        return UserUttered(text, intent={"name": "crisis", "confidence": 1.0})

    assert run([bare("i took way too many of my pills")])[0] == "utter_crisis_overdose"
    assert run([bare("everyone would be better off without me")])[0] == "utter_ask_safety"
    # The classifier alone: a question, never the emergency reply.
    assert run([bare("meh whatever")])[0] == "utter_ask_safety"


def classifier_guess(text: str) -> UserUttered:
    return UserUttered(
        text,
        intent={"name": "share_reflection", "confidence": 0.1},
        parse_data={
            "crisis_detection": {"level": "ask", "kind": "suicide", "source": "classifier"}
        },
    )


def test_a_classifier_guess_inside_a_journal_form_is_its_answer():
    """Reflections, cravings and check-ins are about hard feelings and using: the classifier's
    guess alone reads the topic there; the form keeps the answer (the detector still reads it)."""
    assert run([*IN_FORM, classifier_guess("heavy chest, then lightness")]) == []


@pytest.mark.parametrize(
    "text",
    ["i don't really see the point of being here anymore", "everyone would be better off"],
)
def test_a_classifier_guess_in_a_journal_form_that_speaks_of_life_asks(text):
    assert run([*IN_FORM, classifier_guess(text)])[-2:] == ["utter_ask_safety", ACTION_LISTEN_NAME]


def test_a_classifier_guess_in_another_form_pauses_it_and_asks():
    """The message kept its own intent (so the form could store it as the answer); the ask
    comes before the form's next question."""
    in_message = [act("care_team_message_form"), ActiveLoop("care_team_message_form")]
    assert run([*in_message, classifier_guess("tell them i cant do this anymore")]) == [
        "action_deactivate_loop",
        "utter_ask_safety",
        ACTION_LISTEN_NAME,
    ]


def test_a_classifier_guess_in_a_journal_form_of_an_elevated_conversation_is_urgent():
    now = time.time()
    events = [*urgent_turn(now - 60), *IN_FORM, classifier_guess("heavy chest, then lightness")]
    assert run(events)[0] == "utter_crisis_suicide"


def test_a_classifier_guess_inside_the_safety_plan_is_its_answer_but_the_detector_still_asks():
    in_plan = [act("safety_plan_form"), ActiveLoop("safety_plan_form")]
    guess = UserUttered(
        "my partner keeps the car keys tonight",
        intent={"name": "share_reflection", "confidence": 0.4},
        parse_data={
            "crisis_detection": {"level": "ask", "kind": "suicide", "source": "classifier"}
        },
    )
    assert run([*in_plan, guess]) == []  # the other policies: the form takes it
    rule = UserUttered(
        "honestly whats the point of any of it",
        intent={"name": "share_reflection", "confidence": 0.4},
        parse_data={"crisis_detection": {"level": "ask", "kind": "suicide", "source": "detector"}},
    )
    assert run([*in_plan, rule])[-2:] == ["utter_ask_safety", ACTION_LISTEN_NAME]


def test_the_policy_reads_texts_with_one_matcher_built_once():
    """Building a matcher compiles the whole lexicon: the policy asks for one per message."""
    from bot.safety.detector import default_matcher

    assert default_matcher() is default_matcher()
