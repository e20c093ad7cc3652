"""Replies whose wording depends on where in the conversation they are sent, rendered by Rasa's
own response generator from domain.yml: the craving acknowledgement that starts a craving
reflection versus the one for a craving told inside a form, and the reply to a slip told in a
form's answer by the kind of reflection it was told in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(DOMAIN_FILE))


def rendered(domain: Domain, response: str, **slots: object) -> str:
    tracker = DialogueStateTracker.from_events(
        "p", [SlotSet(name, value) for name, value in slots.items()], domain.slots
    )
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    message = asyncio.run(nlg.generate(response, tracker, "rest"))
    assert message is not None
    return message["text"]


def test_the_craving_reflection_starts_with_its_own_acknowledgement(domain: Domain):
    assert "look at this one together" in rendered(domain, "utter_craving_ack")


def test_a_craving_told_in_a_form_keeps_the_answer_and_promises_the_offer(domain: Domain):
    text = rendered(domain, "utter_craving_ack", requested_slot="checkin_note")
    assert "urge surfing" in text and "look at this one together" not in text


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("craving", "reflection on the slip"),
        ("trigger", "reflection on the slip"),
        ("lapse", "part of what we're looking at"),
        (None, "noted it in your journal"),
    ],
)
def test_a_slip_told_in_a_form_is_answered_for_that_form(
    domain: Domain, kind: str | None, words: str
):
    assert words in rendered(domain, "utter_lapse_told_in_form", trigger_kind=kind)


def test_the_safety_question_asked_again_in_a_form_is_worded_differently(domain: Domain):
    first = rendered(domain, "utter_ask_safety_answer")
    again = rendered(domain, "utter_ask_safety_answer", reask="once")
    assert first != again and "sure I understood" in again
