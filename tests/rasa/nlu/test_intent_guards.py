"""The intent guards: commands inside sentences, slips told in passing, everyday cravings."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.intent_guards import GUARD_KEY, IntentGuards


def classified(text: str, *ranking: tuple[str, float]) -> Message:
    """A message as DIET and the FallbackClassifier leave it, best intent first."""
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={"text": text, "intent": dict(entries[0]), "intent_ranking": entries})


@pytest.fixture
def guards() -> IntentGuards:
    return IntentGuards({**IntentGuards.get_default_config()})


def test_a_long_answer_containing_stop_is_not_a_stop(guards):
    message = classified(
        "i want to stop letting my dad's voice run my life",
        ("stop", 0.7),
        ("share_reflection", 0.2),
        ("vent", 0.1),
    )
    guards.process([message])
    assert message.get("intent")["name"] == "share_reflection"
    assert message.get(GUARD_KEY) == {"from": "stop", "rule": "not_a_command"}


def test_a_real_stop_stays(guards):
    message = classified("ok can we stop now", ("stop", 0.9), ("deny", 0.1))
    guards.process([message])
    assert message.get("intent")["name"] == "stop"
    assert message.get(GUARD_KEY) is None


def test_a_slip_read_as_a_craving_becomes_a_lapse(guards):
    message = classified(
        "i had a couple drinks last night after. feel like an idiot",
        ("report_craving", 0.6),
        ("report_lapse", 0.3),
    )
    guards.process([message])
    assert message.get("intent") == {"name": "report_lapse", "confidence": 0.3}
    assert message.get("intent_ranking")[0]["name"] == "report_lapse"


def test_a_craving_the_classifier_missed(guards):
    message = classified(
        "on the phone w my mom and it was bad. now i really want a drink",
        ("nlu_fallback", 0.45),
        ("vent", 0.4),
    )
    guards.process([message])
    assert message.get("intent")["name"] == "report_craving"


def test_a_specific_reading_is_kept(guards):
    message = classified(
        "how does ketamine help with cravings", ("psychoeducation", 0.8), ("report_craving", 0.1)
    )
    guards.process([message])
    assert message.get("intent")["name"] == "psychoeducation"
    assert message.get(GUARD_KEY) is None


def test_button_payloads_are_left_alone(guards):
    message = classified("/stop", ("stop", 1.0))
    guards.process([message])
    assert message.get("intent")["name"] == "stop"


@pytest.mark.parametrize(
    ("text", "intent", "becomes"),
    [
        ("can i talk to my therapist?", "start_checkin", "contact_care_team"),
        ("no, i want to talk to a real person", "bot_challenge", "contact_care_team"),
        ("how do i reach someone at the clinic", "help", "contact_care_team"),
        ("tell me more", "continue_form", "more_detail"),
        ("thats not what i asked", "deny", "not_what_i_asked"),
    ],
)
def test_requests_the_classifier_filed_elsewhere(guards, text, intent, becomes):
    message = classified(text, (intent, 0.6), ("share_reflection", 0.2))
    guards.process([message])
    assert message.get("intent")["name"] == becomes


def test_telling_about_the_therapist_is_not_a_request(guards):
    message = classified("my therapist said i should journal more", ("share_reflection", 0.8))
    guards.process([message])
    assert message.get("intent")["name"] == "share_reflection"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("i need to talk to someone not a bot", "out_of_scope"),
        ("hey can someone call me", "greet"),
        ("how do i get hold of my therapist", "help"),
        ("is there a number i can call", "share_reflection"),
        ("put me through to my counselor pls", "nlu_fallback"),
        ("real human pls", "bot_challenge"),
        ("can i speak to someone at the clinic about my dose", "psychoeducation"),
        ("stop. i want an actual person", "stop"),
        ("get my case manager on the phone", "report_trigger"),
    ],
)
def test_a_request_for_a_person_is_one_whatever_the_classifier_read(guards, text, intent):
    message = classified(text, (intent, 0.7), ("contact_care_team", 0.2))
    guards.process([message])
    assert message.get("intent") == {"name": "contact_care_team", "confidence": 0.2}
    assert message.get(GUARD_KEY) == {"from": intent, "rule": "person"}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Risk is the crisis detector's and policy's: a crisis reading is never replaced.
        ("i cant do this anymore, can someone call me", "crisis"),
        # A "no" may answer "are you safe right now?", which the crisis policy reads by intent.
        ("no i need to talk to someone", "deny"),
        # A slip's safety check comes first.
        ("i drank last night, can i talk to my counselor", "report_lapse"),
        ("can you tell my therapist i need to reschedule", "leave_care_team_message"),
    ],
)
def test_a_request_for_a_person_keeps_crisis_and_safety_readings(guards, text, intent):
    message = classified(text, (intent, 0.7), ("contact_care_team", 0.2))
    guards.process([message])
    assert message.get("intent")["name"] == intent
    assert message.get(GUARD_KEY) is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("talked to my counselor today it went well", "share_reflection"),
        ("i wish i had someone to talk to", "share_feeling"),
        ("you're not a real person are you", "bot_challenge"),
        ("i'll call my therapist tomorrow about it", "share_reflection"),
    ],
)
def test_telling_about_people_keeps_its_reading(guards, text, intent):
    message = classified(text, (intent, 0.8), ("contact_care_team", 0.1))
    guards.process([message])
    assert message.get("intent")["name"] == intent


@pytest.mark.parametrize(
    ("text", "next_best"),
    [
        ("talk to someone instead of drinking", "share_reflection"),
        ("i dont have anyone to call tonight", "share_feeling"),
        ("gonna call my therapist when i get home", "share_reflection"),
    ],
)
def test_a_plan_or_a_lack_read_as_a_request_for_the_care_team_is_not_one(guards, text, next_best):
    message = classified(
        text, ("contact_care_team", 0.7), ("leave_care_team_message", 0.2), (next_best, 0.1)
    )
    guards.process([message])
    assert message.get("intent")["name"] == next_best
    assert message.get(GUARD_KEY) == {"from": "contact_care_team", "rule": "person_told"}


def test_a_request_read_as_one_stays_one(guards):
    message = classified("can i talk to my therapist", ("contact_care_team", 0.9), ("vent", 0.1))
    guards.process([message])
    assert message.get("intent")["name"] == "contact_care_team"
    assert message.get(GUARD_KEY) is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hey. all i can think about is getting high", "greet"),
        ("help im jonesing so bad", "help"),
        ("could really use a drink rn", "out_of_scope"),
        ("itching to use after that call", "vent"),
    ],
)
def test_a_craving_in_everyday_words_is_a_craving(guards, text, intent):
    message = classified(text, (intent, 0.6), ("report_craving", 0.3))
    guards.process([message])
    assert message.get("intent")["name"] == "report_craving"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("30 days and then i drank on saturday", "milestone"),
        ("relapsed over the weekend", "share_feeling"),
        ("slipped on tuesday, feel awful", "vent"),
    ],
)
def test_a_slip_in_any_tense_is_a_slip(guards, text, intent):
    message = classified(text, (intent, 0.6), ("report_lapse", 0.3))
    guards.process([message])
    assert message.get("intent")["name"] == "report_lapse"


def test_a_craving_resisted_is_no_slip(guards):
    message = classified(
        "i didn't drink even though i wanted to", ("report_lapse", 0.6), ("report_craving", 0.3)
    )
    guards.process([message])
    assert message.get("intent") == {"name": "report_craving", "confidence": 0.3}
    assert message.get(GUARD_KEY) == {"from": "report_lapse", "rule": "resisted"}


@pytest.mark.parametrize(
    "text", ["drinking water and resting", "my dad drank a lot when i was a kid", "i drank"]
)
def test_no_craving_resisted_and_no_slip_of_ones_own_keep_their_reading(guards, text):
    message = classified(text, ("share_reflection", 0.6), ("report_lapse", 0.3))
    guards.process([message])
    expected = "report_lapse" if text == "i drank" else "share_reflection"
    assert message.get("intent")["name"] == expected
