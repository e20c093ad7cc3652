"""How a reply reads beyond its content: a question back, "I don't know", a command, a slip.

A form stores what the patient writes as the answer to the question it asked. Patients do
not always answer: they ask something back ("wait, is it normal to feel spaced out?"), ask
what the question means, say "idk", or tell a slip in passing ("i didnt though. i drank").
Storing those as answers puts words in the clinical record the patient never meant as one,
and answering a slip with praise for resisting shames the person who just told the truth.

This module reads those cases from the words alone (standard library and YAML only, so the
Rasa-side NLU component and the action server share it). The classifier's intent is a second
opinion the callers combine with it; the word lists are in ``bot/content/reply_words.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from bot.content import load_mapping

WORDS_FILE = Path(__file__).resolve().parent / "content" / "reply_words.yml"

#: An "I don't know" is a short reply; a longer one that contains "not sure" is an answer.
MAX_UNSURE_WORDS = 8
#: "What do you mean?" and its kin are short; longer replies are answers or real questions.
MAX_CLARIFY_WORDS = 10
#: Classifier readings under which a short question back is taken as one about the question.
QUESTION_ABOUT_THE_QUESTION = frozenset({"out_of_scope", "nlu_fallback", "help"})
#: "help", "what can you do?": a request for the menu is short.
MAX_HELP_WORDS = 6
#: A question to the assistant is a sentence or two, not a paragraph of reflection.
MAX_QUESTION_WORDS = 30
#: Words between a verb and what was taken: "had a couple of drinks", "took some of mom's pills".
_OBJECT_REACH = 4


class Reading(Enum):
    """What a reply inside a form is, apart from an answer."""

    ANSWER = "answer"
    UNSURE = "unsure"
    CLARIFY = "clarify"
    UNANSWERED = "unanswered"
    QUESTION = "question"
    ABOUT_ASSISTANT = "about_assistant"
    HELP = "help"
    MORE = "more"


@cache
def _words() -> dict[str, Any]:
    return load_mapping(WORDS_FILE, text_lists=True)


def plain(text: str) -> str:
    """Lower case, compatibility-folded, apostrophes dropped, words separated by one space.

    Dropping apostrophes makes "don't" and "dont" the same word, as patients type both.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = re.sub(r"['\u2019\u2018`]", "", folded)
    return " ".join(re.findall(r"[\w-]+|[?]", folded))


def _words_of(text: str) -> list[str]:
    return [word for word in plain(text).split() if word != "?"]


def _phrases(items: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of the phrases as whole words, longest first."""
    ordered = sorted({plain(item) for item in items if plain(item)}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, item.split())) for item in ordered)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])")


@cache
def _unsure() -> frozenset[str]:
    return frozenset(plain(p) for p in _words()["unsure_replies"])


@cache
def _unsure_phrase() -> re.Pattern[str]:
    return _phrases(_words()["unsure_phrases"])


#: Words after "no idea" or "not sure" that keep it an "I don't know": "no idea what to put".
_UNKNOWN_OBJECTS = frozenset({"what", "how", "tbh", "honestly", "really", "lol", "man", "tho"})


@cache
def _fillers() -> frozenset[str]:
    return frozenset(plain(p) for p in _words()["unsure_fillers"])


def _strip_fillers(words: list[str]) -> list[str]:
    start, end = 0, len(words)
    while start < end and words[start] in _fillers():
        start += 1
    while end > start and words[end - 1] in _fillers():
        end -= 1
    return words[start:end]


def is_unsure(text: str) -> bool:
    """Whether a short reply means "I don't know" ("idk", "um not sure tbh", "no idea lol")."""
    words = _words_of(text)
    if not words or len(words) > MAX_UNSURE_WORDS:
        return False
    core = " ".join(_strip_fillers(words))
    if core in _unsure():
        return True
    match = _unsure_phrase().search(core)
    # "not sure why but it helped" answers; the phrase must end the reply or be followed by
    # what the person does not know ("no idea what to say").
    return match is not None and (
        match.end() == len(core) or core[match.end() :].split()[0] in _UNKNOWN_OBJECTS
    )


@cache
def _clarify() -> re.Pattern[str]:
    return _phrases(_words()["clarify_phrases"])


def asks_what_it_means(text: str) -> bool:
    """Whether a short reply asks what the question means or why it is asked.

    The phrase must open the reply (after fillers such as "sorry", "wait"): "what do you mean
    by insight?" asks; "i know what you mean, it was scary" answers.
    """
    words = _strip_fillers([w for w in _words_of(text) if w != "wait"])
    if not words or len(words) > MAX_CLARIFY_WORDS:
        return False
    if " ".join(words) in _clarify_whole():
        return True
    return _clarify().match(" ".join(words)) is not None


@cache
def _clarify_whole() -> frozenset[str]:
    return frozenset(plain(p) for p in _words()["clarify_whole_replies"])


@cache
def _openers() -> re.Pattern[str]:
    return _phrases(_words()["question_openers"])


@cache
def _question_words() -> frozenset[str]:
    return frozenset(_words()["question_words"])


def looks_like_question(text: str, *, loosely: bool = False) -> bool:
    """Whether a reply is phrased as a question: it has a "?" or opens like one ("is it
    normal", "can i"); ``loosely``, a question word at the start is enough ("how long does
    it last").

    Only the shape is read here; whether it is a question *to the assistant* about the
    treatment is the classifier's part (see :func:`read_form_reply`).
    """
    words = _words_of(text)
    if not words or len(words) > MAX_QUESTION_WORDS:
        return False
    if "?" in text or "\uff1f" in text:
        return True
    core = _strip_fillers(words)
    if loosely and core and core[0] in _question_words():
        return True
    return _openers().match(" ".join(core)) is not None


def read_form_reply(text: str, intent: str | None) -> Reading:
    """What a reply to a form question is: an answer, or one of the ways of not answering.

    ``intent`` is the classifier's reading of the message. A question is only taken as one
    when both agree: it is phrased as a question and the classifier reads it as a question
    about the treatment (``psychoeducation``) or about the assistant ("are you a real
    person?"). "Why do I always push people away?" as an answer to "What stood out?" stays
    an answer.
    """
    if is_unsure(text):
        return Reading.UNSURE
    short = len(_words_of(text)) <= MAX_CLARIFY_WORDS + 2
    if (short and says_wrong_answer(text)) or intent == "not_what_i_asked":
        return Reading.UNANSWERED
    if intent == "more_detail" and len(_words_of(text)) <= MAX_HELP_WORDS:
        return Reading.MORE
    if asks_what_it_means(text):
        return Reading.CLARIFY
    if intent == "psychoeducation" and looks_like_question(text, loosely=True):
        return Reading.QUESTION
    if intent == "bot_challenge" and looks_like_question(text):
        return Reading.ABOUT_ASSISTANT
    if (
        intent in QUESTION_ABOUT_THE_QUESTION
        and looks_like_question(text)
        and len(_words_of(text)) <= MAX_CLARIFY_WORDS + 2
    ):
        # A short question that is not about the treatment, the assistant or the person's
        # life is most likely about the question just asked.
        return Reading.CLARIFY
    if intent == "help" and len(_words_of(text)) <= MAX_HELP_WORDS:
        return Reading.HELP
    return Reading.ANSWER


# --------------------------------------------------------------------------- commands


@cache
def _command_config() -> dict[str, Any]:
    return _words()["commands"]


def command_intents() -> frozenset[str]:
    """Intents that are commands about the conversation itself (stop, skip, carry on …)."""
    return frozenset(_command_config()["intents"])


def is_command_shaped(text: str) -> bool:
    """Whether a message can be a command such as "stop" or "skip this one".

    Long messages are not ("i want to stop letting my dad's voice run my life" answers a
    question), nor are messages where the command word governs an object ("stop drinking",
    "skip the bar tonight"): those talk about life, not about the conversation.
    """
    words = _words_of(text)
    config = _command_config()
    if not words or len(words) > int(config["max_words"]):
        return False
    command_words = set(config["words"])
    objects = set(config["object_words"])
    for index, word in enumerate(words[:-1]):
        if word in command_words:
            following = words[index + 1]
            if following in objects or (following.endswith("ing") and len(following) > 4):
                return False
    return True


# --------------------------------------------------------------------------- slips and cravings


@cache
def _use_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Phrases that report a use, verb-plus-object uses, and what makes them not happen."""
    config = _words()["use_reports"]
    verbs = sorted({plain(v) for v in config["verbs"]}, key=len, reverse=True)
    objects = sorted({plain(o) for o in config["objects"]}, key=len, reverse=True)
    verb_body = "|".join(r"\s+".join(map(re.escape, v.split())) for v in verbs)
    object_body = "|".join(r"\s+".join(map(re.escape, o.split())) for o in objects)
    used = re.escape(plain(config["used_word"]))
    not_before = "|".join(re.escape(plain(w)) for w in config["used_not_before"])
    verb_object = re.compile(
        rf"(?<![\w-])(?:{verb_body})(?:\s+[\w-]+){{0,{_OBJECT_REACH}}}?\s+(?:{object_body})(?![\w-])"
        rf"|(?<![\w-]){used}(?![\w-])(?!\s+(?:{not_before})(?![\w-]))"
    )
    return _phrases(config["phrases"]), verb_object, _phrases(config["not_happened"])


def _clauses(text: str) -> list[str]:
    """Sentences and clauses: "i didnt though. i drank" is two, and so is "almost drank but
    went home"; a slip in one is not cancelled by a "didn't" in the other."""
    parts = re.split(r"[.!?;,\n]+|\s+(?:but|though|tho|and then|then)\s+", text.casefold())
    return [plain(part) for part in parts if plain(part)]


def reports_use(text: str) -> bool:
    """Whether the message says the person drank or used, in any tense.

    "i drank", "had a couple drinks last night after", "used on friday", "picked up again" —
    yes. "i almost drank", "i didnt drink", "if i used i'd lose everything", "i used to drink
    every day", "i used my coping skills" — no.
    """
    phrases, verb_object, not_happened = _use_patterns()
    for clause in _clauses(text):
        for pattern in (phrases, verb_object):
            for match in pattern.finditer(clause):
                if not not_happened.search(clause[: match.start()]):
                    return True
    return False


@cache
def _craving() -> re.Pattern[str]:
    return _phrases(_words()["craving_phrases"])


def tells_craving(text: str) -> bool:
    """Whether the message speaks of wanting to drink or use ("could really use a drink rn").

    Not when the same clause denies it: "i didnt even want a drink", "no cravings today".
    """
    _, _, not_happened = _use_patterns()
    for clause in _clauses(text):
        for match in _craving().finditer(clause):
            before = clause[: match.start()]
            if not not_happened.search(before) and not re.search(r"(?<![\w-])no\s*$", before):
                return True
    return False


# --------------------------------------------------------------------------- requests


@cache
def _requests(key: str) -> re.Pattern[str]:
    return _phrases(_words()[key])


#: A question about what the assistant is, not a request to reach someone.
_ABOUT_THE_ASSISTANT = re.compile(
    r"\b(are|r)\s+(you|u)\b|\bis\s+(this|it|that|there)\s+(a\s+)?(real|actual|live|human)\b"
    r"|\b(am i|are we)\s+(talking|speaking|chatting)\b|\bis a (real|actual) person\b"
)


@cache
def _person_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in _words()["person_patterns"])


def asks_for_a_person(text: str) -> bool:
    """Whether the message asks to reach a person: the therapist, the clinic, "a real person"."""
    words = plain(text)
    if _requests("person_requests").search(words):
        return True
    if _ABOUT_THE_ASSISTANT.search(words):
        return False  # "are you a real person?" asks what the assistant is (utter_iamabot)
    return any(pattern.search(words) for pattern in _person_patterns())


def asks_for_more(text: str) -> bool:
    """Whether a short message asks for more on what was just said ("tell me more")."""
    words = _words_of(text)
    return 0 < len(words) <= MAX_CLARIFY_WORDS and bool(
        _requests("more_requests").search(" ".join(words))
    )


def says_wrong_answer(text: str) -> bool:
    """Whether a short message says the answer missed the question ("that's not what i asked")."""
    words = _words_of(text)
    return 0 < len(words) <= MAX_QUESTION_WORDS and bool(
        _requests("wrong_answer_phrases").search(" ".join(words))
    )
