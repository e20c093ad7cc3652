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
