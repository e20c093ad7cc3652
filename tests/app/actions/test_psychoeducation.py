"""Questions about the treatment, answered the way the action server answers them: the short
answer with its two buttons, the longer one on request, the next-best topic when the first was
wrong, and never the same answer twice in a row.

Trackers carry the response selector's output as Rasa puts it in the parse data
(``response_selector``); the follow-up turns carry the events the earlier actions produced, as
Rasa would have stored them.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from action_support import empty_slots, parse_data, responses, run, slot_events, texts
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.psychoeducation import ActionAnswerQuestion, ActionMoreDetail, ActionNotWhatIAsked
from bot.content import psychoeducation
from bot.content.psychoeducation import (
    ALL_SAID,
    MORE_BUTTON,
    NOT_WHAT_I_ASKED_BUTTON,
    NOTHING_TO_EXPAND,
    OTHER_TOPIC_MIN_CONFIDENCE,
    REPHRASE,
    Selection,
)
from bot.settings import PROJECT_ROOT

TRAINING_FILE = PROJECT_ROOT / "data" / "psychoeducation.yml"
RULES_FILE = PROJECT_ROOT / "data" / "rules.yml"
ANSWER_BUTTONS = [MORE_BUTTON, NOT_WHAT_I_ASKED_BUTTON]


def selector_output(
    topic: str, ranking: list[tuple[str, float]], key: str = "psychoeducation"
) -> dict[str, Any]:
    """The ``response_selector`` part of Rasa's parse data for one message."""
    return {
        "all_retrieval_intents": ["psychoeducation"],
        key: {
            "response": {
                "responses": [{"text": "…"}],
                "confidence": ranking[0][1] if ranking else 0.9,
                "intent_response_key": f"psychoeducation/{topic}",
                "utter_action": f"utter_psychoeducation/{topic}",
            },
            "ranking": [
                {
                    "id": index,
                    "confidence": confidence,
                    "intent_response_key": f"psychoeducation/{t}",
                }
                for index, (t, confidence) in enumerate(ranking)
            ],
        },
    }


def question(
    domain: dict[str, Any],
    topic: str,
    ranking: list[tuple[str, float]] | None = None,
    *,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    message: str = "a question",
) -> Tracker:
    """The tracker ``action_answer_question`` gets after a question the selector gave ``topic``."""
    selected = selector_output(topic, ranking or [(topic, 0.9)])
    return tracker(domain, message, "psychoeducation", slots, history, response_selector=selected)


def tracker(
    domain: dict[str, Any],
    message: str,
    intent: str,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Tracker:
    """A tracker after ``message``, with ``history`` (earlier events) before it."""
    latest = parse_data(message, intent, **extra)
    events = [*(history or []), {"event": "user", "text": message, "parse_data": latest}]
    values = empty_slots(domain) | (slots or {})
    return Tracker("patient-a", values, latest, events, False, None, {}, "action_listen")


def as_stored(dispatcher: CollectingDispatcher, events: list[dict[str, Any]]) -> list[dict]:
    """The events Rasa stores for one action's run: its messages (a response rendered to its
    text), then its slot events."""
    bot_events = []
    for message in dispatcher.messages:
        text = message.get("text")
        if message.get("response"):
            text = f"(the text of {message['response']})"
        bot_events.append({"event": "bot", "text": text, "data": {}, "metadata": {}})
    return [*bot_events, *events]


def more_of(topic: str) -> str:
    return psychoeducation.more_texts()[topic]


# --------------------------------------------------------------------------- the selector's output


def test_selection_takes_the_topic_and_the_confident_runners_up() -> None:
    output = selector_output(
        "evidence_opioids",
        [
            ("evidence_opioids", 0.55),
            ("ketamine_misuse", 0.30),
            ("unknown_topic", 0.2),
            ("evidence_limits", 0.12),
            ("bladder_harm", OTHER_TOPIC_MIN_CONFIDENCE / 2),
        ],
    )
    chosen = psychoeducation.selection({"response_selector": output})
    assert chosen == Selection("evidence_opioids", ("ketamine_misuse", "evidence_limits"))


def test_selection_orders_runners_up_by_confidence_and_keeps_at_most_two() -> None:
    output = selector_output(
        "side_effects",
        [
            ("side_effects", 0.4),
            ("halt", 0.11),
            ("next_day_effects", 0.25),
            ("bladder_harm", 0.14),
        ],
    )
    chosen = psychoeducation.selection({"response_selector": output})
    assert chosen.others == ("next_day_effects", "bladder_harm")


def test_selection_reads_the_default_selector_key() -> None:
    """Without `retrieval_intent` in the ResponseSelector's config, Rasa files it under
    ``default``."""
    output = selector_output("halt", [("halt", 0.8), ("measures", 0.15)], key="default")
    assert psychoeducation.selection({"response_selector": output}) == Selection(
        "halt", ("measures",)
    )


@pytest.mark.parametrize(
    "latest",
    [None, {}, {"response_selector": {}}, {"response_selector": {"default": {"response": {}}}}],
)
def test_selection_without_a_result_has_no_topic(latest: dict[str, Any] | None) -> None:
    assert psychoeducation.selection(latest) == Selection(None, ())


# --------------------------------------------------------------------------- a question


def test_a_question_gets_the_short_answer_with_two_buttons(domain, dispatcher) -> None:
    ranking = [("ketamine_misuse", 0.7), ("bladder_harm", 0.2), ("evidence_opioids", 0.05)]
    events = run(
        ActionAnswerQuestion(), dispatcher, question(domain, "ketamine_misuse", ranking), domain
    )
    assert responses(dispatcher) == ["utter_psychoeducation/ketamine_misuse"]
    assert dispatcher.messages[0]["buttons"] == ANSWER_BUTTONS
    assert slot_events(events) == {
        "last_topic": "ketamine_misuse",
        "other_topics": ["bladder_harm"],
    }


def test_the_same_question_twice_gets_the_longer_answer_then_says_so(domain) -> None:
    """Never the same text twice in a row: short answer, then the longer one, then a line
    saying that is all, with the care team offered."""
    history: list[dict[str, Any]] = []
    slots: dict[str, Any] = {}
    replies = []
    for _ in range(3):
        dispatcher = CollectingDispatcher()
        turn = question(domain, "benefit_duration", slots=slots, history=history)
        events = run(ActionAnswerQuestion(), dispatcher, turn, domain)
        history = [*turn.events, *as_stored(dispatcher, events)]
        slots |= slot_events(events)
        replies.append(dispatcher.messages)
    short, longer, all_said = replies
    assert [m["response"] for m in short] == ["utter_psychoeducation/benefit_duration"]
    assert [m["text"] for m in longer] == [more_of("benefit_duration")]
    assert "Sources: Dakwar et al., 2020" in longer[0]["text"]
    assert [m["text"] for m in all_said] == [ALL_SAID]
    assert "care team" in ALL_SAID
    assert all_said[0]["buttons"][0]["payload"] == "/contact_care_team"
    assert slots["last_topic"] == "benefit_duration"


def test_coming_back_to_a_topic_later_starts_with_the_short_answer(domain, dispatcher) -> None:
    history = [
        {"event": "slot", "name": "last_topic", "value": "halt"},
        {"event": "bot", "text": more_of("halt")},
        {"event": "slot", "name": "last_topic", "value": "measures"},
    ]
    run(
        ActionAnswerQuestion(),
        dispatcher,
        question(domain, "halt", history=history, slots={"last_topic": "measures"}),
        domain,
    )
    assert responses(dispatcher) == ["utter_psychoeducation/halt"]


def test_the_longer_answer_is_offered_again_after_another_topic(domain, dispatcher) -> None:
    """The longer answer given long ago does not count once the talk moved on and came back."""
    history = [
        {"event": "slot", "name": "last_topic", "value": "halt"},
        {"event": "bot", "text": more_of("halt")},
        {"event": "slot", "name": "last_topic", "value": "measures"},
        {"event": "slot", "name": "last_topic", "value": "halt"},
        {"event": "bot", "text": "(the short answer about HALT)"},
    ]
    run(
        ActionAnswerQuestion(),
        dispatcher,
        question(domain, "halt", history=history, slots={"last_topic": "halt"}),
        domain,
    )
    assert texts(dispatcher) == more_of("halt")


def test_a_question_the_selector_could_not_place_asks_to_rephrase(domain, dispatcher) -> None:
    turn = tracker(domain, "hmm", "psychoeducation", slots={"last_topic": "halt"})
    events = run(ActionAnswerQuestion(), dispatcher, turn, domain)
    assert texts(dispatcher) == REPHRASE
    assert events == []


# --------------------------------------------------------------------------- tell me more


def test_tell_me_more_sends_the_longer_answer_of_the_last_topic(domain, dispatcher) -> None:
    turn = tracker(domain, "tell me more", "more_detail", slots={"last_topic": "naloxone"})
    events = run(ActionMoreDetail(), dispatcher, turn, domain)
    assert texts(dispatcher) == more_of("naloxone")
    assert texts(dispatcher).endswith("\nSource: SAMHSA, 2018.")
    assert events == []


def test_tell_me_more_twice_does_not_repeat_it(domain, dispatcher) -> None:
    history = [
        {"event": "slot", "name": "last_topic", "value": "naloxone"},
        {"event": "bot", "text": "(the short answer about naloxone)"},
        {"event": "bot", "text": more_of("naloxone")},
    ]
    turn = tracker(domain, "more", "more_detail", {"last_topic": "naloxone"}, history)
    run(ActionMoreDetail(), dispatcher, turn, domain)
    assert texts(dispatcher) == ALL_SAID


def test_tell_me_more_with_nothing_asked_says_what_it_can_explain(domain, dispatcher) -> None:
    run(ActionMoreDetail(), dispatcher, tracker(domain, "tell me more", "more_detail"), domain)
    assert texts(dispatcher) == NOTHING_TO_EXPAND
    assert "how ketamine works" in NOTHING_TO_EXPAND and "side effects" in NOTHING_TO_EXPAND


# --------------------------------------------------------------------------- not what I asked


def test_not_what_i_asked_offers_the_next_best_topic(domain, dispatcher) -> None:
    slots = {"last_topic": "evidence_opioids", "other_topics": ["ketamine_misuse", "bladder_harm"]}
    turn = tracker(domain, "that's not what i asked", "not_what_i_asked", slots)
    events = run(ActionNotWhatIAsked(), dispatcher, turn, domain)
    assert responses(dispatcher) == ["utter_psychoeducation/ketamine_misuse"]
    assert dispatcher.messages[0]["buttons"] == ANSWER_BUTTONS
    assert slot_events(events) == {
        "last_topic": "ketamine_misuse",
        "other_topics": ["bladder_harm"],
    }


def test_not_what_i_asked_with_no_guess_left_asks_to_rephrase(domain, dispatcher) -> None:
    slots = {"last_topic": "bladder_harm", "other_topics": []}
    turn = tracker(domain, "no that's not it", "not_what_i_asked", slots)
    events = run(ActionNotWhatIAsked(), dispatcher, turn, domain)
    assert texts(dispatcher) == REPHRASE
    assert "other words" in REPHRASE and "care team" in REPHRASE
    assert slot_events(events) == {"last_topic": None, "other_topics": []}


def test_not_what_i_asked_skips_topics_it_does_not_know(domain, dispatcher) -> None:
    slots = {"other_topics": ["retired_topic", "halt"]}
    turn = tracker(domain, "wrong answer", "not_what_i_asked", slots)
    events = run(ActionNotWhatIAsked(), dispatcher, turn, domain)
    assert responses(dispatcher) == ["utter_psychoeducation/halt"]
    assert slot_events(events)["other_topics"] == []


def test_not_what_i_asked_with_what_was_meant_answers_that(domain, dispatcher) -> None:
    slots = {"last_topic": "evidence_opioids", "other_topics": ["ketamine_misuse", "side_effects"]}
    turn = question(domain, "side_effects", slots=slots, message="no i meant the side effects")
    events = run(ActionNotWhatIAsked(), dispatcher, turn, domain)
    assert responses(dispatcher) == ["utter_psychoeducation/side_effects"]
    assert slot_events(events) == {
        "last_topic": "side_effects",
        "other_topics": ["ketamine_misuse"],
    }


def test_not_what_i_asked_naming_the_same_topic_again_moves_on(domain, dispatcher) -> None:
    slots = {"last_topic": "side_effects", "other_topics": ["bladder_harm"]}
    turn = question(
        domain, "side_effects", slots=slots, message="not what i asked about side effects"
    )
    run(ActionNotWhatIAsked(), dispatcher, turn, domain)
    assert responses(dispatcher) == ["utter_psychoeducation/bladder_harm"]


# --------------------------------------------------------------------------- wiring


def load(path: Any) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_topic_with_a_longer_answer_has_a_short_one() -> None:
    responses_in_data = load(TRAINING_FILE)["responses"]
    for topic in psychoeducation.topics():
        assert psychoeducation.response_name(topic) in responses_in_data, topic


def test_the_domain_declares_the_intents_slots_and_actions(domain) -> None:
    assert {"psychoeducation", "more_detail", "not_what_i_asked"} <= set(domain["intents"])
    names = {"action_answer_question", "action_more_detail", "action_not_what_i_asked"}
    assert names <= set(domain["actions"])
    assert {
        a().name() for a in (ActionAnswerQuestion, ActionMoreDetail, ActionNotWhatIAsked)
    } == names
    assert domain["slots"]["last_topic"]["type"] == "text"
    assert domain["slots"]["other_topics"]["type"] == "list"
    for slot in ("last_topic", "other_topics"):
        assert domain["slots"][slot]["influence_conversation"] is False
        assert domain["slots"][slot]["mappings"] == [{"type": "custom"}]


def test_rules_send_each_intent_to_its_action() -> None:
    rules = {
        rule["steps"][0]["intent"]: [step.get("action") for step in rule["steps"][1:]]
        for rule in load(TRAINING_FILE)["rules"]
    }
    assert rules == {
        "psychoeducation": ["action_answer_question"],
        "more_detail": ["action_more_detail"],
        "not_what_i_asked": ["action_not_what_i_asked"],
    }
    elsewhere = [
        rule["rule"]
        for rule in load(RULES_FILE)["rules"]
        if any(step.get("intent") == "psychoeducation" for step in rule["steps"])
    ]
    assert elsewhere == [], "the psychoeducation rule lives in data/psychoeducation.yml"
