"""Reading replies that are not answers: "idk", "what do you mean?", questions, slips, cravings."""

from __future__ import annotations

import pytest

from bot.journal.reply_reading import (
    Reading,
    asks_for_a_person,
    asks_for_more,
    asks_for_more_after_an_answer,
    asks_what_it_means,
    is_command_shaped,
    is_unsure,
    looks_like_question,
    read_form_reply,
    reports_use,
    says_resisted,
    says_wrong_answer,
    says_wrong_answer_after_an_answer,
    tells_craving,
    tells_of_a_person,
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


# --------------------------------------------------------------------------- asking for a person
# Everyday ways of asking for a human, as typed on a phone: the classifier files many of them
# as out_of_scope, greet, help or share_reflection, so the words alone must carry them.

ASKING_FOR_A_PERSON = [
    "i need to talk to someone not a bot",
    "can someone call me",
    "how do i get hold of my therapist",
    "is there a number i can call",
    "put me through to my counselor",
    "put me thru to someone pls",
    "i want a real human",
    "an actual person please",
    "real human pls",
    "human please",
    "can i talk to my case manager",
    "can my case manager call me",
    "i need my nurse",
    "need to speak w my doc",
    "get me my counselor",
    "can i get a call back",
    "pls have someone call me",
    "can someone reach out to me",
    "can i have someone from my team call",
    "get my therapist on the phone",
    "how can i get in contact with the clinic",
    "can you have my therapist call me",
    "is anyone there from the clinic",
    "not a bot pls",
    "call me please",
    "number to call?",
    "my therapist pls",
    "i need help from a real person",
    "hey can i speak to someone at the clinic",
    "i need someone to call me back",
    "youre a bot. i want a human",
    "who do i contact about my dose",
    "any chance my nurse could ring me today",
    "i'd really like a human to look at this",
    "hello? anyone from the clinic?",
    # appointments, availability, who reads the chat, and not wanting a bot
    "how do i schedule with my counselor",
    "i need an appt soon",
    "when is my next appointment?",
    "is my doctor available this afternoon",
    "does anyone read these messages",
    "i dont wanna talk to a bot anymore",
    "ur a bot, i want a real person",
    "who else can i call about this",
    "whos on call this weekend",
    "i need professional help, not an app",
    "can you book me in for next week",
    "whats the fastest way to reach the clinic",
    "does my care team know im struggling",
    "after hours number?",
    "i want someone to check in on me",
]


@pytest.mark.parametrize("text", ASKING_FOR_A_PERSON)
def test_everyday_requests_for_a_person(text):
    assert asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "talked to my counselor today it went well",
        "i wish i had someone to talk to",
        "i dont really have anyone i can call",
        "nobody to talk to tonight",
        "you're not a real person are you",
        "youre not a bot right",
        "is there an actual human here",
        "i'll call my therapist tomorrow",
        "i'll ask my therapist to call me back",
        "gonna text my therapist later",
        "i want to talk to my therapist more openly",
        "reach out to someone when i feel low",
        "i need to call my mom",
        "can you call my mum for me",
        "i feel like a real person again",
        "my nurse called me yesterday",
        "do i need a doctor to stop drinking",
        "whats the best phone to buy",
        "people",
        "my therapist",
        "my therapist can call me whenever i need",
        "my doctor can call in a prescription",
        "i want to talk about my session",
        "got a call from someone i used to buy from",
        "i had an appointment with my doctor yesterday",
        "my next session is on friday",
        "is anyone there for me? i feel so alone",
        "i had a conversation with someone at the meeting",
        "i got help from my therapist last year",
        "i dont need professional help",
        "i had to reschedule last week",
        "my mom likes to check on me",
    ],
)
def test_telling_about_people_is_not_asking_for_one(text):
    assert not asks_for_a_person(text)


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("i'll text my nurse next time", True),
        ("talked to my counselor today it went well", True),
        ("i wish i had someone to talk to", True),
        ("reach out to someone instead of using", True),
        ("can i talk to my therapist", False),  # a request
        ("i need to call my mom", False),  # nobody of the care team
        ("the session was good", False),
    ],
)
def test_reaching_a_person_told_of_not_asked_for(text: str, told: bool) -> None:
    assert tells_of_a_person(text) is told


# --------------------------------------------------------------------------- nothing to say
# Non-answers to the open questions (the intention above all): a kind skip, never an answer.


@pytest.mark.parametrize(
    "text",
    [
        "nothing really",
        "not sure yet",
        "no intention rn",
        "dunno",
        "nah",
        "um nah",
        "i don't have one",
        "i dont really have one yet",
        "nothing rn",
        "not really",
        "no intentions atm",
        "nah not really",
        "still thinking about it",
        "can't remember",
        "cant remember the date",
        "not sure when",
        "no idea when tbh",
        "i forget",
        "havent decided yet",
        "idk really",
        "nah nothing rn",
        "nothing i can think of",
    ],
)
def test_nothing_to_say_is_unsure(text):
    assert is_unsure(text)
    assert read_form_reply(text, "share_reflection") is Reading.UNSURE


@pytest.mark.parametrize(
    "text",
    [
        "nothing really stood out except feeling calm",
        "nothing",
        "none",
        "no",
        "nah i felt good actually",
        "i forgot how much i loved music",
        "not sure the session helped much",
        "to be kinder to myself",
    ],
)
def test_answers_that_start_like_nothing_to_say_stay_answers(text):
    assert not is_unsure(text)


# --------------------------------------------------------------------------- cravings and slips


@pytest.mark.parametrize(
    "text",
    [
        "now i really want a drink",
        "could really use a drink rn",
        "white-knuckling it",
        "itching to use",
        "all i can think about is getting high",
        "jonesing",
        "jonesin hard tonight",
        "feenin for a bump",
        "dying to get high",
        "id kill for a beer",
        "i could murder a pint",
        "my body is screaming for a drink",
        "wish i could just have one drink",
        "i want to go to the liquor store so bad",
        "tryna get drunk tonight",
        "want 2 drink",
        "i need a hit",
        "cant stop thinking about booze",
        "i really want to use again",
        "thinking of relapsing",
        "my brain wants a drink",
        "the urge is strong today",
        "i didn't drink even though i wanted to",
        "could rly go for a cold one",
        "thinking about scoring tonight",
    ],
)
def test_cravings_in_everyday_words(text):
    assert tells_craving(text)


@pytest.mark.parametrize(
    "text",
    [
        "drinking water",
        "my dad drank a lot when i was a kid",
        "i want to stop drinking",
        "i need to pick up my kids",
        "i want to use my coping skills",
        "i want a drink of water",
        "i dont even want to use",
        "my cravings have been way lower since the session",
        "i told my doctor about the cravings and she listened",
        "i need to fix my car",
        "i want to use the app more",
    ],
)
def test_no_craving_in_everyday_words(text):
    assert not tells_craving(text)


@pytest.mark.parametrize(
    "text",
    [
        "had a couple drinks last night",
        "i drank",
        "used on friday",
        "picked up again",
        "i slipped",
        "relapsed over the weekend",
        "slipped on tuesday",
        "been drinking all week",
        "i was drinking at the party",
        "went out drinking saturday",
        "ended up using again",
        "i drunk a whole bottle of wine",
        "me and my buddy got wasted friday",
        "my friend and i got high",
        "im drunk right now",
        "broke my streak last night",
        "back to day one",
        "i used a little over the weekend, dont be mad",
        "messed up again last night",
        "i was at my cousins and ended up taking some of his percs",
    ],
)
def test_more_slips_in_any_tense(text):
    assert reports_use(text)


@pytest.mark.parametrize(
    "text",
    [
        "i didn't drink even though i wanted to",
        "drinking water",
        "my dad drank a lot when i was a kid",
        "he relapsed last month",
        "everyone was drinking at the bbq",
        "my ex is drinking again",
        "i had a glass of water",
        "we drank coffee and talked",
        "i took my pills as prescribed",
        "i slipped on the ice",
        "i drank for 20 years before i got sober",
        "back when i was using i barely left my flat",
        "had my ketamine session yesterday",
        "after the day ive had i need a bottle",
        "i got high marks on my test",
    ],
)
def test_no_slip_of_the_persons_own(text):
    assert not reports_use(text)


@pytest.mark.parametrize(
    ("text", "resisted"),
    [
        ("i didn't drink even though i wanted to", True),
        ("wanted a drink so bad but i didnt give in", True),
        ("stayed sober through the whole wedding", True),
        ("i drank", False),
        ("i really want a drink", False),
    ],
)
def test_a_use_resisted(text, resisted):
    assert says_resisted(text) is resisted


@pytest.mark.parametrize(
    "text",
    [
        "why is that?",
        "like what",
        "what else",
        "how so",
        "wdym",
        "can you explain",
        "why??",
        "why do you say that",
        "in what way tho",
        "hm what does that mean for me",
        "so what does the research say",
        "source?",
        "which study was that",
        "hmm is there research on that",
        "what do u mean exactly",
    ],
)
def test_right_after_an_answer_more_requests_of_that_moment_ask_for_more(text: str) -> None:
    assert asks_for_more_after_an_answer(text, form_paused=False)
    assert asks_for_more_after_an_answer(text, form_paused=True)


@pytest.mark.parametrize("text", ["go on", "keep going", "continue", "ok and?"])
def test_go_on_asks_for_more_only_while_no_form_waits(text: str) -> None:
    assert asks_for_more_after_an_answer(text, form_paused=False)
    assert not asks_for_more_after_an_answer(text, form_paused=True)


@pytest.mark.parametrize(
    "text",
    [
        "no more thanks",
        "i dont need anything else",
        "cant explain it really",
        "ok",
        "that helps",
        "why do i feel so flat today",
    ],
)
def test_a_no_or_a_plain_reply_after_an_answer_asks_for_nothing(text: str) -> None:
    assert not asks_for_more_after_an_answer(text, form_paused=False)


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("not my question", True),
        ("i asked about bladder damage", True),
        ("no i mean the long term", True),
        ("thats not what i asked", True),
        ("hmm that wasnt really my question", True),
        ("no, i wanted to know about driving", True),
        ("not quite what i was looking for", True),
        ("that has nothing to do with my question tho", True),
        ("no you misunderstood me", True),
        ("i meant after the session, not before", True),
        ("i didnt ask for tips", True),
        ("ok that makes sense", False),
        ("why is that?", False),
        ("tell me something else about it", False),
    ],
)
def test_right_after_an_answer_saying_it_missed(text: str, wrong: bool) -> None:
    assert says_wrong_answer_after_an_answer(text) is wrong


@pytest.mark.parametrize(
    "text",
    [
        "i was wondering how long the benefits last",
        "idk if its normal to feel this flat after",
        "curious whether the effects wear off by friday",
        "any idea why i feel numb since",
        "tell me how ketamine works on cravings",
    ],
)
def test_a_question_put_as_a_statement_is_one_when_the_classifier_reads_a_question(
    text: str,
) -> None:
    assert read_form_reply(text, "psychoeducation") is Reading.QUESTION
    # Elsewhere the same shape is an answer: "i wonder if it matters" to "what stood out?"
    assert read_form_reply(text, "share_reflection") is Reading.ANSWER
    assert read_form_reply(text, "nlu_fallback") is Reading.ANSWER


@pytest.mark.parametrize(
    "text",
    ["first i went to the kitchen and cried", "how much i missed my dad", "ok so i felt calm"],
)
def test_answers_after_a_lead_in_stay_answers(text: str) -> None:
    assert read_form_reply(text, "psychoeducation") is Reading.ANSWER
    assert read_form_reply(text, "share_reflection") is Reading.ANSWER


@pytest.mark.parametrize(
    "text",
    [
        "i want to book an appointment",
        "how do i cancel my appt",
        "pls move my session to friday",
        "can i get an earlier appointment",
        "can a person call me",
        "can you get my doctor",
        "i gotta push my appointment back",
        "need to reschedule my infusion",
        "what time does the clinic open on monday",
        "whats the number for the nurse line",
        "who is the on call doctor tonight",
        "can u pass a message to my counselor",
        "could you have dana call me",
        "please have someone check in with me later",
        "can a human read this please",
    ],
)
def test_appointments_and_callbacks_are_requests_for_the_care_team(text: str) -> None:
    assert asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "i had to cancel my session because of work",
        "i was scared to book an appointment for years but i did it",
        "my session got moved to friday",
        "i need to get through the session",
    ],
)
def test_appointments_told_about_are_no_requests(text: str) -> None:
    assert not asks_for_a_person(text)


Q, A, CLARIFY = Reading.QUESTION, Reading.ANSWER, Reading.CLARIFY


@pytest.mark.parametrize(
    ("text", "intent", "reading"),
    [
        # A question after a lead-in, read as one by the classifier too.
        ("quick q - is it ok to drink coffee after a session", "psychoeducation", Q),
        ("sorry random but can i drive the day after", "psychoeducation", Q),
        ("before i answer, how long do the effects last", "psychoeducation", Q),
        ("how come i feel so tired after", "psychoeducation", Q),
        # A question after the telling; read as a reflection, the same words stay the answer
        # they also are.
        ("i felt floaty and weird, is that normal", "psychoeducation", Q),
        ("cried a lot. how long does that last", "psychoeducation", Q),
        ("calm mostly but how long will it last", "psychoeducation", Q),
        ("i felt floaty and weird, is that normal", "share_reflection", A),
        ("cried a lot. how long does that last", "share_reflection", A),
        ("calm mostly but how long will it last", "share_reflection", A),
        # A telling in clauses is an answer whatever the classifier read.
        ("the music, and how calm i felt", "psychoeducation", A),
        ("my hands, they were tingly", "psychoeducation", A),
        ("i cried. what a relief", "psychoeducation", A),
        # A few words asking about the question are asked back ...
        ("trigger like what?", "report_craving", CLARIFY),
        ("huh what trigger", "report_craving", CLARIFY),
        ("a trigger for what", "report_craving", CLARIFY),
        ("halt?", "report_craving", CLARIFY),
        ("like a place or a person?", "report_craving", CLARIFY),
        ("which one do i pick", "report_craving", CLARIFY),
        ("can i choose more than one", "report_craving", CLARIFY),
        ("meaning what exactly", "report_craving", CLARIFY),
        ("example?", "report_craving", CLARIFY),
        # ... and answers with the topic's word in them stay answers.
        ("work was the trigger", "report_craving", A),
        ("the trigger", "report_craving", A),
        ("like i was floating?", "report_craving", A),
        ("halt", "report_craving", A),
        ("hungry and tired", "report_craving", A),
    ],
)
def test_how_a_reply_inside_a_form_reads(text: str, intent: str, reading: Reading) -> None:
    assert read_form_reply(text, intent) is reading
