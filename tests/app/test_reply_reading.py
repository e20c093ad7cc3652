"""Reading replies that are not answers: "idk", "what do you mean?", questions, slips, cravings."""

from __future__ import annotations

import pytest

from bot.reply_reading import (
    Reading,
    asks_for_a_person,
    asks_for_more,
    asks_what_it_means,
    is_command_shaped,
    is_unsure,
    looks_like_question,
    read_form_reply,
    reports_use,
    says_wrong_answer,
    tells_craving,
)


@pytest.mark.parametrize(
    "text",
    [
        "idk",
        "IDK lol",
        "um not sure tbh",
        "no idea",
        "i literally said idk",
        "dunno",
        "I don’t know",
    ],
)
def test_short_i_dont_know_is_unsure(text):
    assert is_unsure(text)


@pytest.mark.parametrize(
    "text",
    [
        "not sure why but i felt my chest open up",
        "i dont know how to explain it but it was like floating",
        "sure",
        "",
    ],
)
def test_a_real_answer_is_not_unsure(text):
    assert not is_unsure(text)


@pytest.mark.parametrize(
    "text",
    [
        "what do you mean?",
        "wdym",
        "huh?",
        "sorry what do u mean by insight",
        "why do you need to know",
    ],
)
def test_asking_what_the_question_means(text):
    assert asks_what_it_means(text)


@pytest.mark.parametrize(
    "text", ["i know what you mean, it was scary", "what stood out was my dad", "whatever"]
)
def test_an_answer_mentioning_meaning_is_not_a_clarification(text):
    assert not asks_what_it_means(text)


def test_question_shapes():
    assert looks_like_question("wait is it normal to feel spaced out for days")
    assert looks_like_question("will i get addicted to ketamine tho?")
    assert not looks_like_question("my dad's face and feeling calm for once")


@pytest.mark.parametrize(
    ("text", "intent", "reading"),
    [
        ("wait, is it normal to feel spaced out…?", "psychoeducation", Reading.QUESTION),
        ("Why do I always push people away?", "share_reflection", Reading.ANSWER),
        ("you didnt answer my question lol", "share_feeling", Reading.UNANSWERED),
        ("i literally said idk", "skip", Reading.UNSURE),
        ("what do you mean", "nlu_fallback", Reading.CLARIFY),
        ("warm hands and a heavy chest", "psychoeducation", Reading.ANSWER),
    ],
)
def test_read_form_reply(text, intent, reading):
    assert read_form_reply(text, intent) is reading


@pytest.mark.parametrize("text", ["stop", "can we stop", "skip this one", "ok stop now please"])
def test_commands(text):
    assert is_command_shaped(text)


@pytest.mark.parametrize(
    "text",
    [
        "i want to stop letting my dad's voice run my life",
        "stop drinking before the wedding",
        "skip the bar on friday and go to the gym instead",
        "keep going to my meetings",
    ],
)
def test_a_command_word_with_an_object_is_not_a_command(text):
    assert not is_command_shaped(text)


@pytest.mark.parametrize(
    "text",
    [
        "i had a couple drinks last night after. feel like an idiot",
        "i didnt though. i drank",
        "used on friday",
        "picked up again",
        "took some of my moms pills yesterday",
        "did a couple lines at the party sat",
        "bought some ket and used it",
        "relapsed 2 days ago",
        "got wasted at my cousins wedding",
    ],
)
def test_slips_in_any_tense(text):
    assert reports_use(text)


@pytest.mark.parametrize(
    "text",
    [
        "i almost drank but went home",
        "i didnt drink",
        "if i used again id lose my kids",
        "i used to drink every day",
        "i used my coping skills and called my sponsor",
        "never drank at work",
        "i really want a drink",
    ],
)
def test_no_slip(text):
    assert not reports_use(text)


@pytest.mark.parametrize(
    "text",
    [
        "talked to my mom and it was bad. now i really want a drink",
        "white knuckling it tonight",
        "could really use a drink rn",
        "cravings are bad today",
    ],
)
def test_everyday_craving(text):
    assert tells_craving(text)


@pytest.mark.parametrize("text", ["no cravings today", "i didnt even want a drink", "fine thanks"])
def test_no_craving(text):
    assert not tells_craving(text)


@pytest.mark.parametrize(
    "text",
    [
        "can i talk to my therapist?",
        "how do i reach someone at the clinic",
        "no, i want to talk to a real person",
        "who can i call about this",
        "can someone from the clinic call me",
        "is there a number i can ring",
    ],
)
def test_requests_for_a_person(text):
    assert asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    ["my therapist said i should journal more", "are you a real person?", "i talked to my mom"],
)
def test_telling_or_asking_about_the_assistant_is_not_a_request(text):
    assert not asks_for_a_person(text)


def test_answers_that_open_with_a_question_word_stay_answers():
    assert read_form_reply("when i got home i cried", "nlu_fallback") is Reading.ANSWER
    assert read_form_reply("do more yoga", "nlu_fallback") is Reading.ANSWER
    assert read_form_reply("how long does the effect last", "psychoeducation") is Reading.QUESTION
    assert read_form_reply("what does that even count as?", "out_of_scope") is Reading.CLARIFY


def test_more_and_wrong_answer():
    assert asks_for_more("tell me more pls")
    assert says_wrong_answer("thats not what i asked lol")
    assert not asks_for_more("i want to tell my mom more about my recovery and my plans for it")
