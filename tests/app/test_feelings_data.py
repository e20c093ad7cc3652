"""Ordinary feelings, milestones, venting and gratitude: training data, replies and rules
(data/nlu_feelings.yml, domain.yml). A listening reply, never the crisis reply or a form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FEELINGS_FILE = ROOT / "data" / "nlu_feelings.yml"
INTENTS = ("share_feeling", "milestone", "vent", "gratitude")
REPLIES = {
    "share_feeling": "utter_share_feeling",
    "milestone": "utter_milestone",
    "gratitude": "utter_gratitude",
}
#: What the listening replies may offer: a check-in, a reflection, a coping idea (or, after a
#: vent, talking a craving through). Offers only: each is a button, never started for them.
OFFERS = {"/start_checkin", "/start_integration", "/coping_menu", "/report_craving"}
#: A craving report names wanting, needing or being tempted to use, or a substance.
CRAVING_CUE = re.compile(
    r"crav|urge|want|need|wanna|tempt|itch|jones|fiend|white.knuckl|relaps|use|using|"
    r"high|fix|drink|beer|bottle|wasted|drunk|dealer|score|bump|line|pills|bars|oxy|xanax|"
    r"ket|heroin|coke|liquor|whiskey|mouth is watering|bar and|picking up|pull to|"
    r"miss the high|line of|relapsing"
)


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def feelings() -> dict[str, Any]:
    return yaml.safe_load(FEELINGS_FILE.read_text(encoding="utf-8"))


def examples(data: dict[str, Any], intent: str) -> list[str]:
    for block in data.get("nlu") or []:
        if block.get("intent") == intent:
            return [
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
    return []


def all_training_examples() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" in block:
                found.setdefault(block["intent"], []).extend(examples(data, block["intent"]))
    return found


def sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s.strip()])


@pytest.mark.parametrize("intent", INTENTS)
def test_each_intent_has_at_least_thirty_distinct_examples(
    feelings: dict[str, Any], domain: dict[str, Any], intent: str
) -> None:
    found = examples(feelings, intent)
    assert len(found) >= 30
    assert len(set(found)) == len(found)
    assert intent in domain["intents"]


def test_no_example_is_trained_as_two_intents() -> None:
    seen: dict[str, str] = {}
    for intent, found in all_training_examples().items():
        for example in found:
            key = " ".join(example.casefold().split())
            assert seen.setdefault(key, intent) == intent, (example, seen[key], intent)


def test_no_feeling_milestone_vent_or_gratitude_is_trained_as_crisis() -> None:
    trained = all_training_examples()
    crisis = {" ".join(e.casefold().split()) for e in trained["crisis"]}
    for intent in INTENTS:
        assert not crisis & {" ".join(e.casefold().split()) for e in trained[intent]}


def test_craving_reports_say_they_want_to_use_and_are_never_plain_venting() -> None:
    trained = all_training_examples()
    for example in trained["report_craving"]:
        assert CRAVING_CUE.search(example.casefold()), example
    vents = {e.casefold() for e in trained["vent"]}
    assert not vents & {e.casefold() for e in trained["report_craving"]}


@pytest.mark.parametrize("response", [*REPLIES.values(), "utter_vent_ack"])
def test_each_reply_reflects_briefly_and_offers_without_forcing(
    domain: dict[str, Any], response: str
) -> None:
    variations = domain["responses"][response]
    assert variations
    for variation in variations:
        assert sentences(variation["text"]) <= 2, variation["text"]
        payloads = {button["payload"] for button in variation["buttons"]}
        assert payloads and payloads <= OFFERS
        assert "911" not in variation["text"] and "988" not in variation["text"]


def test_a_milestone_is_celebrated(domain: dict[str, Any]) -> None:
    for variation in domain["responses"]["utter_milestone"]:
        assert "congratulations" in variation["text"].casefold()


def test_venting_is_listened_to(domain: dict[str, Any]) -> None:
    assert domain["responses"]["utter_ask_vent_heard"] == [{"text": "I'm listening — go ahead."}]
    assert domain["forms"]["vent_form"]["required_slots"] == ["vent_heard"]
    [mapping] = domain["slots"]["vent_heard"]["mappings"]
    # Whatever comes next is heard (its words are not kept), except crisis, stop and asking
    # for the care team.
    assert mapping["type"] == "from_intent" and "intent" not in mapping
    assert set(mapping["not_intent"]) == {
        "crisis",
        "stop",
        "contact_care_team",
        "leave_care_team_message",
    }


def rule_steps(feelings: dict[str, Any], first_intent: str) -> list[dict[str, Any]]:
    for rule in feelings["rules"]:
        steps = rule["steps"]
        if steps and steps[0].get("intent") == first_intent:
            return steps
    raise AssertionError(f"no rule starts with {first_intent}")


@pytest.mark.parametrize("intent", sorted(REPLIES))
def test_the_rule_for_each_feeling_only_replies(feelings: dict[str, Any], intent: str) -> None:
    assert rule_steps(feelings, intent) == [{"intent": intent}, {"action": REPLIES[intent]}]


def test_the_message_after_a_vent_gets_an_acknowledgement_not_a_form(
    feelings: dict[str, Any],
) -> None:
    assert rule_steps(feelings, "vent") == [
        {"intent": "vent"},
        {"action": "vent_form"},
        {"active_loop": "vent_form"},
    ]
    [after] = [
        rule
        for rule in feelings["rules"]
        if rule.get("condition") == [{"active_loop": "vent_form"}]
        and rule["steps"][0] == {"action": "vent_form"}
    ]
    actions = [step["action"] for step in after["steps"] if "action" in step]
    assert actions == ["vent_form", "utter_vent_ack", "action_end_vent"]
