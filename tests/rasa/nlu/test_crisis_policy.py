"""The crisis policy's sequences (bot/nlu/crisis_policy.py) on real Rasa trackers: by level
and kind, the direct safety question answered both ways (buttons and typed words), a paused
form resumed, one re-ask in other words, the elevated state, the one check-in and the
supportive turns after an urgent reply, and "tell me more" after an answer about the
treatment."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.crisis_policy import (
    ELEVATED_SECONDS,
    SUPPORTIVE_TURNS,
    next_crisis_action,
    read_safety_reply,
)

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
    "utter_ask_safety_again",
    "utter_safety_carry_on",
    "utter_safety_noted",
    "action_answer_question",
    "action_more_detail",
    "action_not_what_i_asked",
    "utter_craving_ack",
    "trigger_form",
}


def user(
    intent: str,
    level: str | None = None,
    kind: str | None = None,
    at: float | None = None,
    text: str = "text",
    source: str | None = None,
):
    parse: dict[str, Any] = {}
    if level:
        parse["crisis_detection"] = {"level": level, "kind": kind, "source": source}
    return UserUttered(
        text, intent={"name": intent, "confidence": 1.0}, parse_data=parse, timestamp=at
    )


def says(text: str, intent: str) -> UserUttered:
    """A typed message the classifier read as ``intent`` and the detector found nothing in."""
    return user(intent, text=text)


def act(name: str, at: float | None = None) -> ActionExecuted:
    return ActionExecuted(name, timestamp=at)


def run(events: list[Event], flows: dict[str, list[str]] | None = None) -> list[str]:
    """Every action the policy predicts for the last user message, until it abstains or listens."""
    events = list(events)
    predicted: list[str] = []
    for _ in range(8):
        tracker = DialogueStateTracker.from_events("p", events)
        action = next_crisis_action(tracker, KNOWN, flows)
        if action is None:
            return predicted
        predicted.append(action)
        if action == ACTION_LISTEN_NAME:
            return predicted
        events.append(act(action))
        if action == "action_deactivate_loop":
            events.append(ActiveLoop(None))
        elif action.endswith("_form"):
            events.append(ActiveLoop(action))
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


# --------------------------------------------------------------------------- typed answers to the question


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("nah im ok just tired", "share_feeling"),
        ("no. honestly its like a 6 today", "show_entry"),
        ("i'm fine lets keep going", "continue_form"),
        ("no i just meant work is hard", "vent"),
        ("nah im ok, kind of tired", "nlu_fallback"),
        ("not really", "affirm"),
    ],
)
def test_a_typed_no_resumes_the_paused_form(text: str, intent: str):
    assert run([*asked_in_form(), says(text, intent)]) == [
        "utter_safety_thanks",
        "integration_form",
    ]


def test_a_typed_no_outside_a_form_is_thanked():
    asked = [user("crisis", "ask", "suicide"), act("utter_ask_safety"), act(ACTION_LISTEN_NAME)]
    assert run([*asked, says("nah im ok just tired", "share_feeling")]) == [
        "utter_safety_thanks",
        ACTION_LISTEN_NAME,
    ]


FLOWS = {"report_craving": ["utter_craving_ack", "trigger_form"]}


def asked_on(intent: str, source: str) -> list[Event]:
    """The safety question asked on a message of ``intent`` outside a form."""
    return [
        user(intent, "ask", "suicide", source=source),
        act("utter_ask_safety"),
        act(ACTION_LISTEN_NAME),
    ]


def test_a_no_carries_on_with_what_a_guessed_message_starts():
    """The classifier's guess alone asked about "i'm craving so hard tonight": after a no, the
    craving is taken up as if there had been no question."""
    assert run([*asked_on("report_craving", "classifier"), says("no", "deny")], FLOWS) == [
        "utter_safety_thanks",
        "utter_craving_ack",
        "trigger_form",
    ]


def test_after_two_unclear_answers_the_guessed_message_is_taken_up_too():
    again = [says("hmm", "nlu_fallback"), act("utter_ask_safety_again"), act(ACTION_LISTEN_NAME)]
    conversation = [*asked_on("report_craving", "classifier"), *again, says("eh", "nlu_fallback")]
    assert run(conversation, FLOWS) == [
        "utter_safety_carry_on",
        "utter_craving_ack",
        "trigger_form",
    ]


def guessed_in_form() -> list[Event]:
    """The safety question asked on a classifier's guess alone, pausing the reflection."""
    return [
        *IN_FORM,
        user("share_feeling", "ask", "suicide", source="classifier"),
        act("action_deactivate_loop"),
        ActiveLoop(None),
        act("utter_ask_safety"),
        act(ACTION_LISTEN_NAME),
    ]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("6", "nlu_fallback"),
        ("like a 4 i guess", "share_feeling"),
        ("the music", "share_reflection"),
    ],
)
def test_going_on_with_something_else_after_a_guessed_ask_resumes_without_asking_again(
    text: str, intent: str
):
    """Only the classifier's guess asked, and the person went on with their reflection: no
    second ask (a rating given is the paused question's answer: actions/forms.py)."""
    assert run([*guessed_in_form(), says(text, intent)]) == [
        "utter_safety_noted",
        "integration_form",
    ]


def test_going_on_with_something_else_after_a_guessed_ask_outside_a_form_takes_it_up():
    reply = says("the session was intense", "share_reflection")
    assert run([*asked_on("report_craving", "classifier"), reply], FLOWS) == [
        "utter_safety_noted",
        "utter_craving_ack",
        "trigger_form",
    ]


def test_after_a_guessed_ask_an_ok_another_guess_or_risk_is_not_moving_on():
    assert run([*guessed_in_form(), says("ok", "affirm")]) == [
        "utter_ask_safety_again",
        ACTION_LISTEN_NAME,
    ]
    again = user("share_feeling", "ask", "suicide", text="its all too much", source="classifier")
    assert run([*guessed_in_form(), again]) == ["utter_ask_safety_again", ACTION_LISTEN_NAME]
    risk = says("i just want it to be over, im a burden", "share_feeling")
    assert run([*guessed_in_form(), risk])[0].startswith("utter_crisis_")


def test_after_the_detectors_own_ask_something_else_is_asked_once_more():
    assert run([*asked_in_form(), says("the music", "share_reflection")]) == [
        "utter_ask_safety_again",
        ACTION_LISTEN_NAME,
    ]


def test_a_no_after_the_detectors_own_ask_starts_nothing_else():
    """Risk the lexicon itself found ("i feel hopeless") is what the message was about."""
    assert run([*asked_on("report_craving", "detector"), says("no", "deny")], FLOWS) == [
        "utter_safety_thanks",
        ACTION_LISTEN_NAME,
    ]


def test_the_flows_are_what_the_rules_start_from_the_intent_alone():
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.importer import TrainingDataImporter

    from bot.nlu.crisis_policy import flows_of_intents
    from bot.settings import PROJECT_ROOT

    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_ROOT / "config.yml"),
        str(PROJECT_ROOT / "domain.yml"),
        [str(PROJECT_ROOT / "data")],
    )
    trackers = TrainingDataGenerator(
        importer.get_stories(), importer.get_domain(), augmentation_factor=0
    ).generate()

    flows = flows_of_intents(trackers)

    assert flows["report_craving"] == ["utter_craving_ack", "trigger_form"]
    assert flows["start_checkin"] == ["checkin_form"]
    assert not {"crisis", "affirm", "deny", "unsure"} & set(flows)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no... well maybe", "deny"),
        ("i dont know what to do", "help"),
        ("im not ok", "share_feeling"),
        ("sometimes", "nlu_fallback"),
        ("yes. can i talk to someone", "contact_care_team"),
        ("i do", "affirm"),
    ],
)
def test_a_typed_yes_or_not_sure_is_urgent_whatever_the_intent(text: str, intent: str):
    assert run([*asked_in_form(), says(text, intent)]) == [
        "utter_crisis_suicide",
        "action_record_risk_flag",
        ACTION_LISTEN_NAME,
    ]


def test_risk_the_detector_finds_in_the_answer_is_urgent_even_after_a_no():
    """Read again from the words when the message carries no assessment (a replayed story)."""
    reply = says("no. everyone would be better off without me", "share_feeling")
    assert run([*asked_in_form(), reply])[0] == "utter_crisis_suicide"
    stored = user("share_feeling", "ask", "suicide", text="no but it's hopeless", source="detector")
    assert run([*asked_in_form(), stored])[0] == "utter_crisis_suicide"


def test_a_classifier_guess_on_the_answer_leaves_it_to_its_words():
    guess = user(
        "share_feeling", "ask", "suicide", text="nah im ok just tired", source="classifier"
    )
    assert run([*asked_in_form(), guess]) == ["utter_safety_thanks", "integration_form"]


def asked_again() -> list[Event]:
    return [
        *asked_in_form(),
        says("ok", "affirm"),
        act("utter_ask_safety_again"),
        act(ACTION_LISTEN_NAME),
    ]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("ok", "affirm"), ("ok thanks", "affirm"), ("thanks", "thank"), ("k", "nlu_fallback")],
)
def test_an_unclear_answer_is_asked_once_more_in_other_words(text: str, intent: str):
    assert run([*asked_in_form(), says(text, intent)]) == [
        "utter_ask_safety_again",
        ACTION_LISTEN_NAME,
    ]


def test_after_the_re_ask_a_no_resumes_the_form_and_a_yes_is_urgent():
    assert run([*asked_again(), says("no", "deny")]) == ["utter_safety_thanks", "integration_form"]
    assert run([*asked_again(), user("affirm")])[0] == "utter_crisis_suicide"


def test_a_second_unclear_answer_is_not_asked_a_third_time():
    assert run([*asked_again(), says("hmm whatever", "nlu_fallback")]) == [
        "utter_safety_carry_on",
        "integration_form",
    ]


def test_a_request_after_the_question_is_answered_as_usual():
    assert run([*asked_in_form(), says("are you a real person?", "bot_challenge")]) == []
    assert (
        run([*asked_in_form(), says("no. can i talk to my therapist", "contact_care_team")]) == []
    )


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("nah im ok just tired", "no"),
        ("I\u2019m fine, let's keep going", "no"),
        ("honestly no", "no"),
        ("no im not", "no"),
        ("not thinking about that", "no"),
        ("no... well maybe", "unsure"),
        ("i'm not sure", "unsure"),
        ("i'm not ok", "unsure"),
        ("no, sometimes", "yes"),
        ("ok", None),
        ("im tired", None),
    ],
)
def test_reading_a_typed_answer(text: str, answer: str | None):
    assert read_safety_reply(text) == answer


# --------------------------------------------------------------------------- the supportive turns


def still_here_turns() -> list[Event]:
    return [
        *urgent_turn(time.time()),
        user("affirm"),
        act("utter_still_here"),
        act(ACTION_LISTEN_NAME),
    ]


@pytest.mark.parametrize("intent", ["help", "nlu_fallback", "unsure", "share_feeling"])
def test_after_are_you_safe_anything_but_yes_or_no_gets_warmth(intent: str):
    assert run([*still_here_turns(), user(intent)]) == ["utter_supportive", ACTION_LISTEN_NAME]


def test_help_right_after_an_urgent_reply_gets_the_check_in_not_the_menu():
    assert run([*urgent_turn(time.time()), user("help")]) == [
        "utter_still_here",
        ACTION_LISTEN_NAME,
    ]


def test_warm_replies_of_their_own_do_not_end_the_supportive_turns():
    events = [*still_here_turns(), user("thank"), act("utter_welcome"), act(ACTION_LISTEN_NAME)]
    assert run([*events, user("nlu_fallback")]) == ["utter_supportive", ACTION_LISTEN_NAME]
    events += [user("affirm"), act("utter_im_here"), act(ACTION_LISTEN_NAME)]
    assert run([*events, user("help")]) == ["utter_supportive", ACTION_LISTEN_NAME]


def test_carry_on_with_nothing_paused_gets_warmth_but_resumes_a_paused_form():
    assert run([*still_here_turns(), user("continue_form")]) == [
        "utter_supportive",
        ACTION_LISTEN_NAME,
    ]
    paused = [SlotSet("paused_form", "checkin_form"), *still_here_turns()]
    assert run([*paused, user("continue_form")]) == []


# --------------------------------------------------------------------------- after an answer about the treatment


def answered() -> list[Event]:
    return [
        user("psychoeducation", text="how does ketamine work?"),
        act("action_answer_question"),
        act(ACTION_LISTEN_NAME),
    ]


@pytest.mark.parametrize("intent", ["continue_form", "nlu_fallback", "affirm", "more_detail"])
def test_tell_me_more_in_any_intent_gets_the_longer_answer(intent: str):
    assert run([*answered(), says("tell me more", intent)]) == [
        "action_more_detail",
        ACTION_LISTEN_NAME,
    ]


@pytest.mark.parametrize("intent", ["more_detail", "skip", "milestone", "deny"])
def test_not_what_i_asked_in_any_intent_gets_the_next_best_topic(intent: str):
    for text in ("that's not what I asked", "no i meant something else"):
        assert run([*answered(), says(text, intent)]) == [
            "action_not_what_i_asked",
            ACTION_LISTEN_NAME,
        ]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("why is that?", "nlu_fallback"), ("go on", "continue_form"), ("like what", "share_feeling")],
)
def test_follow_ups_only_that_moment_gives_a_meaning_get_the_longer_answer(text, intent):
    assert run([*answered(), says(text, intent)]) == ["action_more_detail", ACTION_LISTEN_NAME]


def test_go_on_after_an_answer_with_a_form_paused_is_left_to_the_form():
    paused = [SlotSet("paused_form", "checkin_form"), *answered()]
    assert run([*paused, says("go on", "continue_form")]) == []
    assert run([*paused, says("why is that?", "nlu_fallback")]) == [
        "action_more_detail",
        ACTION_LISTEN_NAME,
    ]


def test_not_my_question_after_an_answer_gets_the_next_best_topic():
    assert run([*answered(), says("not my question", "deny")]) == [
        "action_not_what_i_asked",
        ACTION_LISTEN_NAME,
    ]


def test_not_what_i_asked_with_what_was_meant_is_a_follow_up_whatever_the_intent():
    """ "no, i meant the side effects": the action answers what was meant."""
    assert run([*answered(), says("no i meant the side effects", "psychoeducation")]) == [
        "action_not_what_i_asked",
        ACTION_LISTEN_NAME,
    ]


def test_a_bare_why_asks_for_more_whatever_topic_was_guessed():
    assert run([*answered(), says("why?", "psychoeducation")]) == [
        "action_more_detail",
        ACTION_LISTEN_NAME,
    ]


def test_follow_ups_are_read_only_right_after_an_answer_outside_a_form():
    assert run([says("tell me more", "continue_form")]) == []
    later = [*answered(), says("hi", "greet"), act("utter_greet"), act(ACTION_LISTEN_NAME)]
    assert run([*later, says("tell me more", "continue_form")]) == []
    in_form = [*answered(), *IN_FORM]
    assert run([*in_form, says("tell me more", "continue_form")]) == []


def test_buttons_and_new_questions_keep_their_own_rules():
    assert run([*answered(), says("/more_detail", "more_detail")]) == []
    assert run([*answered(), says("tell me more about side effects", "psychoeducation")]) == []


def test_a_risk_signal_is_never_a_follow_up():
    reply = user("crisis", "ask", "suicide", text="tell me more, i want it to be over")
    assert run([*answered(), reply])[-2:] == ["utter_ask_safety", ACTION_LISTEN_NAME]


def wording_guess(text: str, kind: str = "overdose") -> UserUttered:
    """A message no rule reads that the wording model calls urgent: it keeps its intent."""
    return UserUttered(
        text,
        intent={"name": "share_reflection", "confidence": 0.4},
        parse_data={
            "crisis_detection": {
                "level": "urgent",
                "kind": kind,
                "category": kind,
                "source": "wording model",
            }
        },
    )


def test_the_wording_models_urgent_guess_gets_the_reply_of_its_kind():
    actions = run([wording_guess("she went grey and i cant get her to open her eyes")])
    assert actions == ["utter_crisis_overdose", "action_record_risk_flag", ACTION_LISTEN_NAME]
    in_message = [act("care_team_message_form"), ActiveLoop("care_team_message_form")]
    actions = run([*in_message, wording_guess("she went grey and i cant wake her")])
    assert actions[:2] == ["utter_crisis_overdose", "action_record_risk_flag"]
    assert "action_deactivate_loop" in actions


def test_the_wording_models_guess_inside_the_safety_plan_or_a_measure_is_an_answer():
    for form in ("safety_plan_form", "measure_form"):
        in_form = [act(form), ActiveLoop(form)]
        assert run([*in_form, wording_guess("my partner keeps the car keys tonight")]) == []


def test_the_wording_models_guess_on_a_journal_answer_needs_words_of_life_or_harm():
    """A trigger or a way of coping, read as urgent by the wording model alone: the form
    keeps the answer; the same guess on words of dying or hurting gets the reply."""
    assert (
        run([*IN_FORM, wording_guess("fight w my dad in the car again, he grabbed the wheel")])
        == []
    )
    actions = run([*IN_FORM, wording_guess("i took everything in the cabinet and i want to die")])
    assert actions[0] == "utter_crisis_overdose"


def test_the_wording_models_guess_on_a_journal_answer_of_an_elevated_conversation_counts():
    now = time.time()
    events = [*urgent_turn(now - 60), *IN_FORM, wording_guess("he grabbed the wheel again")]
    assert run(events)[0] == "utter_crisis_overdose"
