"""Issue 12, "conversations that listen": replies inside a form written as patients write.

The wordings here were written apart from the word lists (bot/content/reply_words.yml) and
before the rules that read them; the "held back" ones were written at the same time and not
looked at while the rules were made, then checked. Four kinds must not be stored as answers
or must be read right: a question back (about the question or the treatment), a complaint
that the assistant missed the point, a request to reach a person, and a rating in words. The
other direction is guarded too: answers that merely contain a question word are stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from action_support import form_turn, responses, run, slot_events
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ValidateCheckinForm
from actions.integration import ValidateIntegrationForm
from actions.triggers import ValidateTriggerForm
from bot.journal.parsing import parse_rating, read_rating_words
from bot.journal.reply_reading import Reading, asks_back, asks_for_a_person, read_form_reply

#: Readings a classifier trained on few such wordings gives them (none is a question intent).
UNSPECIFIC = ("nlu_fallback", "share_reflection", "out_of_scope", "share_feeling", "help")

#: (a) Questions back about the question asked: (the form question, the reply).
ABOUT_THE_QUESTION = [
    ("insight", "wait what do u mean by insight"),
    ("small_step", "like what kind of step do you mean"),
    ("small_step", "does the step have to be something big"),
    ("trigger_type", "hold on what counts as a trigger"),
    ("checkin_craving", "how am i meant to rate that"),
    ("halt", "um what is halt"),
    ("trigger_context", "hmm what should i put for context"),
    ("checkin_note", "so like do i write the whole thing or just a word"),
    ("intention", "idk what you want here"),
    ("intention", "not sure what you mean by intention"),
    ("session_date", "what date do u need exactly"),
    ("insight", "whats the difference between insight and what stood out"),
    ("checkin_mood", "is 10 the worst or the best"),
    ("feelings", "should it be about today or the whole week"),
]
#: (a) Questions back about the treatment.
ABOUT_THE_TREATMENT = [
    ("feelings", "is it normal to still feel kinda floaty after the session"),
    ("stood_out", "wait can ketamine make cravings worse"),
]
#: (b) "You missed my point", "what?".
COMPLAINTS = [
    "you didnt answer my question",
    "thats not what i asked",
    "huh?",
    "??",
    "what",
    "come again",
    "huh",
    "what?",
    "sorry what",
    "i dont get it",
    "you ignored what i said",
    "that doesnt answer anything",
    "i asked something else",
    "say that again",
    "wdym",
]
#: (c) Asking to reach a person, in everyday words.
PERSON_REQUESTS = [
    "can i text my counsellor",
    "is there an actual person i could speak with",
    "i wanna talk to somebody at the clinic",
    "how do i reach dr patel",
    "could someone ring me back",
    "i need to speak to my nurse",
    "connect me with a staff member",
    "who do i call at the clinic",
    "id prefer a real human tbh",
    "can my therapist read this",
    "please tell my care team i missed my dose",
    "can i get a message to my doctor",
    "i need to talk to a real person",
    "is anyone from the clinic around",
    "how can i contact my case worker",
]
#: (d) Ratings as numbers in words and hedges: read as that number.
RATINGS = [
    ("around 3ish", 3),
    ("better than yesterday maybe 5", 5),
    ("prob a 4", 4),
    ("7ish", 7),
    ("bout a five", 5),
    ("like an eight", 8),
    ("not great maybe 3", 3),
    ("low-ish, 2", 2),
    ("6 or so", 6),
    ("eh 5 i guess", 5),
    ("a solid 8", 8),
]
#: (d) Ranges and words: read as a proposal the next ask offers ("which is closer?").
RATING_PROPOSALS = [
    ("like a 6 maybe 7", "mood"),
    ("somewhere between 2 and 3", "mood"),
    ("pretty low", "mood"),
    ("medium", "mood"),
    ("kinda high", "intensity"),
    ("really strong", "intensity"),
]
#: Answers that contain a question word, or open with one: stored as written.
MUST_STORE = [
    "what stood out was how calm i felt",
    "how close i am with my sister",
    "why i drink, i think",
    "i wonder if i can keep this up",
    "what i really want is to be there for my kids",
    "how much i missed my dad",
    "when i get bored in the evening",
    "who i was before the drinking",
    "where i go after work, the bar is on the way",
    "what matters most is my health",
    "how scared i was",
    "whether i can forgive myself",
    "walk to the park when i feel it coming",
    "call my sponsor when things get hard",
    "which friends actually support me",
    "how i talk to myself when i mess up",
]

#: Written with the lists above, not looked at while the rules were made.
HELD_BACK_QUESTIONS = [
    ("coping_response", "hmm so what am i supposed to write for coping"),
    ("triggers", "um does a trigger have to be a person"),
]
HELD_BACK_TREATMENT = [("feelings", "wait is feeling numb after ketamine a normal thing")]
HELD_BACK_COMPLAINTS = ["u didnt really answer that", "eh?", "pardon", "sorry?"]
HELD_BACK_PERSON = [
    "can i speak with someone from my treatment team",
    "how do i get in touch with my counselor",
    "could the clinic phone me",
]
HELD_BACK_RATINGS = [("maybe like a 4 or 5", "mood"), ("fairly high tbh", "intensity")]
HELD_BACK_RATING_NUMBERS = [("probably around 6ish", 6)]
HELD_BACK_STORE = [
    "how much better i sleep now",
    "what my body was telling me",
    "when im alone at night",
]


@pytest.mark.parametrize("intent", UNSPECIFIC)
@pytest.mark.parametrize(("slot", "text"), ABOUT_THE_QUESTION + HELD_BACK_QUESTIONS)
def test_a_question_about_the_question_is_clarified(slot: str, text: str, intent: str) -> None:
    assert read_form_reply(text, intent) is Reading.CLARIFY


@pytest.mark.parametrize("intent", (*UNSPECIFIC, "psychoeducation"))
@pytest.mark.parametrize(("slot", "text"), ABOUT_THE_TREATMENT + HELD_BACK_TREATMENT)
def test_a_question_about_the_treatment_is_answered(slot: str, text: str, intent: str) -> None:
    assert read_form_reply(text, intent) is Reading.QUESTION


@pytest.mark.parametrize("intent", UNSPECIFIC)
@pytest.mark.parametrize("text", COMPLAINTS + HELD_BACK_COMPLAINTS)
def test_a_complaint_or_a_what_is_not_an_answer(text: str, intent: str) -> None:
    assert read_form_reply(text, intent) in {Reading.UNANSWERED, Reading.CLARIFY}


@pytest.mark.parametrize("text", PERSON_REQUESTS + HELD_BACK_PERSON)
def test_a_request_for_a_person_in_everyday_words(text: str) -> None:
    assert asks_for_a_person(text)


@pytest.mark.parametrize(("text", "value"), RATINGS + HELD_BACK_RATING_NUMBERS)
def test_a_hedged_rating_is_that_number(text: str, value: int) -> None:
    assert read_form_reply(text, "share_reflection") is Reading.ANSWER
    assert parse_rating(text) == value


@pytest.mark.parametrize(("text", "scale"), RATING_PROPOSALS + HELD_BACK_RATINGS)
def test_a_range_or_a_word_is_read_as_a_rating(text: str, scale: str) -> None:
    assert read_form_reply(text, "share_reflection") is Reading.ANSWER
    assert read_rating_words(text, scale) is not None


@pytest.mark.parametrize("intent", (*UNSPECIFIC, "psychoeducation", "not_what_i_asked"))
@pytest.mark.parametrize("text", MUST_STORE + HELD_BACK_STORE)
def test_an_answer_with_a_question_word_is_stored(text: str, intent: str) -> None:
    if intent == "not_what_i_asked":
        assert asks_back(text, intent) is None
    else:
        assert read_form_reply(text, intent) is Reading.ANSWER
    assert not asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "why do i always push people away",  # a question about one's life, as an insight
        "do some breathing and call my sponsor",
        "is this ever going to end",
        "can't sleep, keep thinking about it",
        "what if i fail again",
    ],
)
def test_a_question_about_ones_life_is_no_question_back(text: str) -> None:
    assert asks_back(text, "share_feeling") is None


# --------------------------------------------------------------------------- inside the forms


def _validated(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, form: str, slot: str, text: str
) -> dict[str, Any]:
    validator = {
        "integration_form": ValidateIntegrationForm,
        "trigger_form": ValidateTriggerForm,
        "checkin_form": ValidateCheckinForm,
    }[form]()
    tracker = form_turn(domain, form, slot, text, intent="nlu_fallback")
    return slot_events(run(validator, dispatcher, tracker, domain))


@pytest.mark.parametrize(
    ("form", "slot", "text"),
    [
        ("integration_form", "insight", "wait what do u mean by insight"),
        ("integration_form", "small_step", "does the step have to be something big"),
        ("trigger_form", "trigger_type", "hold on what counts as a trigger"),
        ("trigger_form", "trigger_context", "hmm what should i put for context"),
        ("checkin_form", "checkin_note", "not sure what you mean by intention"),
        ("checkin_form", "checkin_craving", "how am i meant to rate that"),
        ("integration_form", "intention", "??"),
    ],
)
def test_inside_a_form_a_question_back_is_explained_and_asked_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, form: str, slot: str, text: str
) -> None:
    slots = _validated(domain, dispatcher, form, slot, text)
    assert slots[slot] is None
    assert responses(dispatcher) == [f"utter_explain_{slot}"]


def test_inside_a_form_a_complaint_is_not_stored(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = _validated(
        domain, dispatcher, "integration_form", "feelings", "you ignored what i said"
    )
    assert slots["feelings"] is None
    assert responses(dispatcher) == ["utter_form_unanswered"]


@pytest.mark.parametrize("text", ["can my therapist read this", "let my nurse know i feel off"])
def test_inside_a_form_a_request_for_a_person_gets_the_care_team(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    slots = _validated(domain, dispatcher, "integration_form", "stood_out", text)
    assert slots["stood_out"] is None
    assert responses(dispatcher) == ["utter_care_team"]


@pytest.mark.parametrize(
    "text", ["what stood out was how calm i felt", "how close i am with my sister"]
)
def test_inside_a_form_an_answer_with_a_question_word_is_stored(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    slots = _validated(domain, dispatcher, "integration_form", "stood_out", text)
    assert slots["stood_out"] == text


def test_inside_a_form_a_hedged_rating_moves_on(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = _validated(
        domain, dispatcher, "checkin_form", "checkin_mood", "better than yesterday, maybe 5"
    )
    assert slots["checkin_mood"] == "5"
