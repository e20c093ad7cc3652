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
from typing import Any

from bot.content import FOLDER, load_mapping

WORDS_FILE = FOLDER / "reply_words.yml"

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
#: A question back read by its shape alone ("wait what counts as a trigger") is short.
MAX_ASK_BACK_WORDS = 14
#: Yes-or-no openings that need a subject after them to ask ("do i …", not "do some breathing").
_OPENERS_NEEDING_A_SUBJECT = frozenset({"do", "did", "am"})
#: Subjects of a question ("what date do u need", "do i write …").
_SUBJECTS = frozenset({"i", "you", "u", "ya", "we", "it", "they", "people", "this", "that"})
#: Auxiliaries that open a yes-or-no question; the others of ``question_auxiliaries`` follow a
#: question word only ("what counts", "what kind").
_YES_NO_OPENERS = frozenset(
    {"do", "does", "did", "is", "are", "am", "should", "can", "could", "would", "will", "isnt"}
    | {"doesnt", "shall", "may", "r"}
)
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
    """The words of a reply: no "?" and no dashes or other marks standing alone."""
    return [word for word in plain(text).split() if any(c.isalnum() for c in word)]


def _phrases(items: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of the phrases as whole words, longest first."""
    ordered = sorted({plain(item) for item in items if plain(item)}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, item.split())) for item in ordered)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])")


def _alternatives_of(items: Iterable[str]) -> str:
    """A regex alternation of phrases in plain text, longest first, any spacing between words."""
    ordered = sorted({plain(item) for item in items if plain(item)}, key=len, reverse=True)
    return "(?:" + "|".join(r"\s+".join(map(re.escape, item.split())) for item in ordered) + ")"


@cache
def _unsure() -> frozenset[str]:
    return frozenset(plain(p) for p in _words()["unsure_replies"])


@cache
def _unsure_phrase() -> re.Pattern[str]:
    return _phrases(_words()["unsure_phrases"])


@cache
def _unknown_objects() -> re.Pattern[str]:
    """Words after "no idea" or "not sure" that keep it an "I don't know": "no idea what to
    put", "not sure when"."""
    return re.compile(rf"\s*{_phrases(_words()['unsure_objects']).pattern}")


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
    # Fillers taken off one end only as well: "nothing rn" is a reply of its own, and so is
    # "nah nothing rn", while "nothing" alone is an answer (to the HALT question).
    kept_end = " ".join(_strip_fillers([*words, "."])[:-1])
    kept_start = " ".join(_strip_fillers(["."] + words)[1:])
    if {core, " ".join(words), kept_end, kept_start} & _unsure():
        return True
    if not core:
        # Nothing but fillers, one of which says it: "um nah", "nah lol".
        return any(word in _unsure() for word in words)
    match = _unsure_phrase().search(core)
    # "not sure why but it helped" answers; the phrase must end the reply or be followed by
    # what the person does not know ("no idea what to say").
    return match is not None and (
        match.end() == len(core) or _unknown_objects().match(core[match.end() :]) is not None
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
    return _clarify().match(" ".join(words)) is not None or unsure_of_the_question(text)


@cache
def _clarify_unsure_leads() -> re.Pattern[str]:
    return _phrases(_words()["clarify_unsure_leads"])


def unsure_of_the_question(text: str) -> bool:
    """Whether an "I don't know" is about the question, not the answer: "idk what you mean",
    "not sure what you're asking" ask to explain; "idk what to put" stays an "I don't know"."""
    words = _strip_fillers([w for w in _words_of(text) if w != "wait"])
    if not words or len(words) > MAX_CLARIFY_WORDS + 2:
        return False
    joined = " ".join(words)
    lead = _clarify_unsure_leads().match(joined)
    return lead is not None and _clarify().match(joined[lead.end() :].strip()) is not None


#: "trigger like what?", "halt?": a question about the question's topic is a few words.
MAX_TOPIC_QUESTION_WORDS = 6


@cache
def _topic_question_words() -> tuple[frozenset[str], frozenset[str]]:
    """The question's topic words (each word of ``question_form_topics``) and the other words
    a short question about them is made of (``topic_question_glue``)."""
    words = _words()
    topics = frozenset(w for item in words["question_form_topics"] for w in plain(item).split())
    return topics, frozenset(plain(w) for w in words["topic_question_glue"])


def asks_about_the_topic(text: str) -> bool:
    """Whether a short reply asks about the question's topic rather than answering it: "trigger
    like what?", "a trigger for what", "huh what halt", "halt?", and a choice offered back,
    "like a place or a person?". Every word is a topic word or a word of asking; a reply with
    any other word ("work was the trigger", "like my mom") is an answer, unless it offers a
    choice in that way ("like i was floating?" is an answer said with doubt)."""
    words = _words_of(text)
    if not 0 < len(words) <= MAX_TOPIC_QUESTION_WORDS:
        return False
    asked = "?" in text or any(w in ("what", "which", "whats") for w in words)
    if words[0] == "like" and text.rstrip().endswith("?") and "or" in words[2:-1]:
        return True
    topics, glue = _topic_question_words()
    return (
        asked
        and any(word in topics for word in words)
        and all(word in topics or word in glue for word in words)
    )


def is_bare_acknowledgement(text: str) -> bool:
    """Whether a whole reply only acknowledges ("ok", "yeah sure", "thanks!"): no answer to an
    open question (``bare_acknowledgements``)."""
    return " ".join(_words_of(text)) in {plain(p) for p in _words()["bare_acknowledgements"]}


def only_question_marks(text: str) -> bool:
    """ "??", "?!": a reply of question marks alone asks what was meant."""
    stripped = re.sub(r"\s+", "", text)
    return bool(stripped) and "?" in stripped and not re.search(r"\w", stripped)


def interjection_asked(text: str) -> bool:
    """ "eh?", "sorry?", "um what?": a word or two of filler asked as a question is a "what?",
    not an "I don't know" (a question mark is what tells them apart)."""
    words = _words_of(text)
    if "?" not in text or not words or len(words) > 2:
        return False
    said = _clarify_whole() | frozenset(plain(w) for w in _words()["asked_interjections"])
    return all(word in said for word in words)


@cache
def _ask_back_words() -> tuple[re.Pattern[str], frozenset[str], frozenset[str], frozenset[str]]:
    words = _words()
    return (
        _phrases(words["question_interrupters"]),
        frozenset(plain(w) for w in words["question_heads"]),
        frozenset(plain(w) for w in words["question_auxiliaries"]),
        frozenset(plain(w) for w in words["question_head_pairs"]),
    )


@cache
def _ask_back_topics() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], frozenset[str]]:
    words = _words()
    return (
        _phrases(words["question_form_topics"]),
        _phrases(words["question_size_words"]),
        _phrases(words["question_treatment_topics"]),
        frozenset(plain(w) for w in words["question_addressed"]),
    )


def _without_interrupters(words: list[str]) -> list[str]:
    """The reply after its opening "wait", "hold on", "um so like", "idk" …"""
    interrupters = _ask_back_words()[0]
    text = " ".join(words)
    while True:
        match = interrupters.match(text)
        if match is None or match.end() == 0:
            return text.split()
        text = text[match.end() :].strip()


def _question_shape(core: list[str]) -> str | None:
    """How the words open a question: ``"wh"`` (a question word then an auxiliary: "what
    counts", "how am i", "what date do u need"), ``"yes_no"`` ("does it have to", "is it
    normal", "do i write"), or None (an answer's shape: "what i want", "how close i am")."""
    _, heads, auxiliaries, pairs = _ask_back_words()
    first, rest = core[0], core[1:]
    if first in heads:
        if first.endswith("s") and first != "is" and len(first) > 3:
            return "wh"  # "whats", "hows": the question word and "is" in one
        if rest and rest[0] in auxiliaries:
            return "wh"
        if len(rest) >= 2 and rest[0] in pairs and rest[1] in auxiliaries:
            return "wh"  # "how long should it be"
        if len(rest) >= 3 and rest[1] in _YES_NO_OPENERS and rest[2] in _SUBJECTS:
            return "wh"  # "what date do u need", "which one should i pick"
        return None
    if first in _YES_NO_OPENERS and rest:
        if first in _OPENERS_NEEDING_A_SUBJECT and rest[0] not in _SUBJECTS:
            return None  # "do some breathing" answers what helps
        return "yes_no"
    return None


def _answer_shaped(text: str) -> bool:
    """Whether a reply opens with a question word in an answer's shape ("what my body was
    telling me", "how close i am"): no request for the menu, whatever the classifier read."""
    core = _without_interrupters(_words_of(text))
    return bool(core) and core[0] in _ask_back_words()[1] and _question_shape(core) is None


def asks_back(text: str, intent: str | None = None) -> Reading | None:
    """Whether a short reply asks something back instead of answering, read from its words.

    A question back opens like a question, after any "wait", "hold on", "um", "idk": a question
    word with an auxiliary ("what counts as a trigger", "how am i supposed to rate that") or a
    yes-or-no opening ("does it have to be big", "is it normal to feel spaced out"). Answers open
    with question words too, but the subject follows them ("what stood out was…", "how close i
    am with my sister", "why i drink"), so they keep their shape. A question shape is only one
    back when it is about the treatment (:attr:`Reading.QUESTION`), about the question itself
    — its words or the form's names (:attr:`Reading.CLARIFY`) — or put to the assistant
    ("should it be…", "do you want…"), or offers a choice ("is 10 the worst or the best"). "why do
    i always push people away" is none of those, and stays an answer.
    """
    words = _words_of(text)
    if not words or len(words) > MAX_ASK_BACK_WORDS:
        return None
    core = _without_interrupters(words)
    if not core:
        return None
    shape = _question_shape(core)
    if shape is None:
        return None
    form_topic, size, treatment_topic, addressed = _ask_back_topics()
    joined = " ".join(core)
    if form_topic.search(joined):
        return Reading.CLARIFY  # "does ketamine count as a trigger" asks about the question
    if treatment_topic.search(joined):
        return Reading.QUESTION
    if size.search(joined):
        # "how long should it be" asks about the answer; "how long does the effect last",
        # read by the classifier as a question about the treatment, is answered as one.
        return Reading.QUESTION if intent == "psychoeducation" else Reading.CLARIFY
    if shape == "yes_no" and (core[1] in addressed or "or" in core[2:]):
        return Reading.CLARIFY
    return None


@cache
def _clarify_whole() -> frozenset[str]:
    return frozenset(plain(p) for p in _words()["clarify_whole_replies"])


@cache
def _openers() -> re.Pattern[str]:
    return _phrases(_words()["question_openers"])


@cache
def _loose_openers() -> re.Pattern[str]:
    return _phrases(_words()["question_openers_loose"])


@cache
def _question_words() -> frozenset[str]:
    return frozenset(_words()["question_words"])


def looks_like_question(text: str, *, loosely: bool = False) -> bool:
    """Whether a reply is phrased as a question: it has a "?" or opens like one ("is it
    normal", "can i"); ``loosely``, a question word at the start is enough ("how long does
    it last"), and so is a question put as a statement ("i was wondering if …").

    Only the shape is read here; whether it is a question *to the assistant* about the
    treatment is the classifier's part (see :func:`read_form_reply`).
    """
    words = _words_of(text)
    if not words or len(words) > MAX_QUESTION_WORDS:
        return False
    if "?" in text or "\uff1f" in text:
        return True
    # After its lead-in: "sorry random but can i drive the day after", "quick q, is it ok …".
    core = _strip_fillers(_without_interrupters(words))
    if core and core[0] in _ask_back_words()[1] and _question_shape(core) is None:
        return False  # "how much i missed my dad", "why i drink": an answer's shape
    if (
        loosely
        and core
        and (core[0] in _question_words() or _loose_openers().match(" ".join(core)))
    ):
        return True
    return _openers().match(" ".join(core)) is not None


#: Where a reply's clauses part: "i felt floaty, is that normal", "ok so i cried. does that
#: happen to others".
_CLAUSE_BREAK = re.compile(r"[.,;:!\n]+|\s+(?:but|btw|also|and|so|tho|though)\s+")


def asks_after_telling(text: str) -> bool:
    """Whether a reply tells something and then asks, in a clause of its own ("i felt floaty
    and weird, is that normal", "cried a lot. how long does that last"): a question about the
    treatment after the telling, read as a question when the classifier also reads one."""
    parts = [part for part in _CLAUSE_BREAK.split(text) if _words_of(part)]
    return len(_words_of(text)) <= MAX_QUESTION_WORDS and any(
        looks_like_question(part, loosely=True) for part in parts[1:]
    )


def read_form_reply(text: str, intent: str | None) -> Reading:
    """What a reply to a form question is: an answer, or one of the ways of not answering.

    ``intent`` is the classifier's reading of the message. A question is only taken as one
    when both agree: it is phrased as a question and the classifier reads it as a question
    about the treatment (``psychoeducation``) or about the assistant ("are you a real
    person?"). "Why do I always push people away?" as an answer to "What stood out?" stays
    an answer.
    """
    short = len(_words_of(text)) <= MAX_CLARIFY_WORDS + 2
    if short and says_wrong_answer(text):
        return Reading.UNANSWERED
    if (
        only_question_marks(text)
        or unsure_of_the_question(text)
        or interjection_asked(text)
        or asks_about_the_topic(text)
    ):
        return Reading.CLARIFY
    asked = asks_back(text, intent)
    if asked is not None:
        return asked
    if intent == "not_what_i_asked":
        return Reading.UNANSWERED
    if is_unsure(text):
        return Reading.UNSURE
    if intent == "more_detail" and len(_words_of(text)) <= MAX_HELP_WORDS:
        return Reading.MORE
    if asks_what_it_means(text):
        return Reading.CLARIFY
    if intent == "psychoeducation" and (
        looks_like_question(text, loosely=True) or asks_after_telling(text)
    ):
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
    if intent == "help" and len(_words_of(text)) <= MAX_HELP_WORDS and not _answer_shaped(text):
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
    # The words between may not turn the sentence into a wish: "i've had i need a bottle".
    between = rf"(?:\s+(?!{_alternatives_of(config['not_between'])}(?![\w-]))[\w-]+)"
    verb_object = re.compile(
        rf"(?<![\w-])(?:{verb_body}){between}{{0,{_OBJECT_REACH}}}?\s+(?:{object_body})(?![\w-])"
        rf"|(?<![\w-]){used}(?![\w-])(?!\s+(?:{not_before})(?![\w-]))"
        rf"|(?<![\w-]){used}\s+{_alternatives_of(config['used_then'])}(?![\w-])"
    )
    return _phrases(config["phrases"]), verb_object, _phrases(config["not_happened"])


def _clauses(text: str) -> list[str]:
    """Sentences and clauses: "i didnt though. i drank" is two, and so is "almost drank but
    went home"; a slip in one is not cancelled by a "didn't" in the other."""
    parts = re.split(r"[.!?;,\n]+|\s+(?:but|though|tho|and then|then)\s+", text.casefold())
    return [plain(part) for part in parts if plain(part)]


#: Stands for "{n}" (any one word) in the word lists while they are made into patterns.
_ANY_WORD = "anyoneword"

#: The person and someone else together: "me and my cousin", "my friend and i".
_TOGETHER = re.compile(
    r"(?<![\w-])(?:me|i)\s+and\s+(?:my\s+)?[\w-]+\s*$|(?<![\w-])and\s+(?:i|me)\s*$"
)


@cache
def _use_context() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Slips told with a time ("slipped on tuesday"); what makes a use no slip of the person's:
    no alcohol after it, their own medication, or someone else doing it."""
    config = _words()["use_reports"]
    timed = config["with_time"]
    with_time = re.compile(
        rf"(?<![\w-]){_alternatives_of(timed['verbs'])}\s+{_alternatives_of(timed['times'])}"
        r"(?![\w-])"
    )
    after = _alternatives_of(
        item.replace("{n}", _ANY_WORD) for item in config["not_a_use_after"]
    ).replace(_ANY_WORD, r"[\w-]+")
    right_after = _alternatives_of(config["not_a_use_right_after"])
    not_a_use_after = re.compile(
        rf"^(?:\s+[\w-]+){{0,3}}?\s+{after}(?![\w-])|^(?:\s+[\w-]+)?\s+{right_after}(?![\w-])"
    )
    own_medication = re.compile(rf"{_alternatives_of(config['own_medication'])}$")
    someone_else = re.compile(rf"^{_alternatives_of(config['someone_else'])}$")
    return with_time, not_a_use_after, own_medication, someone_else


@cache
def _adverbs() -> frozenset[str]:
    return frozenset(plain(word) for word in _words()["use_reports"]["adverbs"])


def _someone_else_did_it(before: str) -> bool:
    """Whether the word right before a use (adverbs aside) names someone other than the person:
    "my dad drank", "he relapsed", "everyone was drinking". After "and" the subject is the one
    before it ("i was at my cousins and ended up taking …"), so only the very next word counts.
    """
    if _TOGETHER.search(before):
        return False  # "me and my friend drank", "my friend and i got high"
    someone_else = _use_context()[3]
    words = [word for word in before.split() if word not in _adverbs()][-2:]
    return bool(words) and (
        someone_else.match(words[-1]) is not None or someone_else.match(" ".join(words)) is not None
    )


@cache
def _history_just_before() -> re.Pattern[str]:
    history = _alternatives_of(_words()["use_reports"]["history_just_before"])
    return re.compile(rf"(?<![\w-]){history}\s*$")


def _is_a_slip(clause: str, match: re.Match[str]) -> bool:
    _, _, not_happened = _use_patterns()
    _, not_a_use_after, own_medication, _ = _use_context()
    before, after = clause[: match.start()], clause[match.end() :]
    return not (
        not_happened.search(before)
        or _history_just_before().search(before)
        or _someone_else_did_it(before)
        or not_a_use_after.match(after)
        or own_medication.search(match.group(0))
    )


def reports_use(text: str) -> bool:
    """Whether the message says the person drank or used, in any tense.

    "i drank", "had a couple drinks last night after", "used on friday", "picked up again",
    "slipped on tuesday", "been drinking all week" — yes. "i almost drank", "i didnt drink",
    "if i used i'd lose everything", "i used to drink every day", "i used my coping skills",
    "drinking water", "my dad drank a lot", "took my pills" — no.
    """
    phrases, verb_object, _ = _use_patterns()
    with_time = _use_context()[0]
    for clause in _clauses(text):
        for pattern in (phrases, verb_object, with_time):
            for match in pattern.finditer(clause):
                if _is_a_slip(clause, match):
                    return True
    return False


@cache
def _craving() -> tuple[re.Pattern[str], ...]:
    """The craving phrases, and the shape wish + small words + what is wished for."""
    desire, glue = _alternatives_of(_words()["craving_desires"]), _words()["craving_glue"]
    target = _alternatives_of(_words()["craving_targets"])
    bare = _alternatives_of(_words()["craving_bare_targets"])
    bare_after = _alternatives_of(_words()["craving_bare_after"])
    between = rf"(?:\s+{_alternatives_of(glue)}){{0,3}}?"
    return (
        _phrases(_words()["craving_phrases"]),
        re.compile(rf"(?<![\w-]){desire}{between}\s+{target}(?![\w-])"),
        re.compile(rf"(?<![\w-]){desire}{between}\s+{bare}(?=\s+{bare_after}(?![\w-])|\s*$)"),
    )


@cache
def _craving_words() -> frozenset[str]:
    """Words of the craving lists ending in -ing, to read "jonesin", "itchin" as them."""
    lists = ("craving_phrases", "craving_desires", "craving_targets", "craving_glue")
    return frozenset(
        word
        for key in lists
        for item in _words()[key]
        for word in plain(item).split()
        if word.endswith("ing")
    )


def _full_ing(clause: str) -> str:
    """ "jonesin hard" → "jonesing hard": phone typing drops the g of a craving word."""
    words = _craving_words()
    return " ".join(w + "g" if w.endswith("in") and w + "g" in words else w for w in clause.split())


@cache
def _denials() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    not_after = _alternatives_of(_words()["craving_not_after"])
    return (
        _phrases(_words()["craving_denials"]),
        _phrases(_words()["craving_told_before"]),
        re.compile(rf"^(?:\s+[\w-]+){{0,3}}?\s+{not_after}(?![\w-])"),
    )


def _denied(before: str, after: str) -> bool:
    """Whether the words around a craving say it is none now: a denial within three words
    before ("i dont even want a drink"), a telling about it ("i told my doctor about the
    cravings") or, within four words after, its going ("my cravings have been lower")."""
    denial, told, going = _denials()
    near = " ".join(before.split()[-3:])
    return bool(denial.search(near) or told.search(near) or going.match(after))


def tells_craving(text: str) -> bool:
    """Whether the message speaks of wanting to drink or use ("could really use a drink rn",
    "all i can think about is getting high", "jonesin hard", "i didnt drink even though i
    wanted to").

    Not when the same clause denies it ("i didnt even want a drink", "no cravings today") or
    what is wanted is no alcohol ("i want a drink of water").
    """
    _, not_a_use_after, _, _ = _use_context()
    clauses = [_full_ing(clause) for clause in _clauses(text)]
    for clause in clauses:
        for pattern in _craving():
            for match in pattern.finditer(clause):
                before, after = clause[: match.start()], clause[match.end() :]
                if not _denied(before, after) and not not_a_use_after.match(after):
                    return True
    return _elided_craving(clauses)


@cache
def _elided() -> tuple[re.Pattern[str], re.Pattern[str]]:
    elided = re.compile(rf"(?<![\w-]){_alternatives_of(_words()['craving_elided'])}\s*$")
    return elided, _phrases(_words()["craving_elided_use"])


def _elided_craving(clauses: list[str]) -> bool:
    """ "i didnt drink even though i wanted to": a wish whose object is the use told before."""
    elided, use = _elided()
    return any(
        elided.search(clause) and any(use.search(other) for other in clauses[:index])
        for index, clause in enumerate(clauses)
    )


@cache
def _resisted() -> tuple[re.Pattern[str], re.Pattern[str]]:
    denial = _alternatives_of(_words()["resisted_denials"])
    uses = _alternatives_of(_words()["resisted_uses"])
    shape = re.compile(rf"(?<![\w-]){denial}(?:\s+[\w-]+){{0,2}}?\s+{uses}(?![\w-])")
    return shape, _phrases(_words()["resisted_phrases"])


def says_resisted(text: str) -> bool:
    """Whether the message tells of a use resisted: "i didnt drink even though i wanted to",
    "stayed sober", "didnt give in". A slip read into it is a misreading."""
    shape, phrases = _resisted()
    return any(shape.search(clause) or phrases.search(clause) for clause in _clauses(text))


# --------------------------------------------------------------------------- requests


@cache
def _requests(key: str) -> re.Pattern[str]:
    return _phrases(_words()[key])


@cache
def _about_the_assistant() -> tuple[re.Pattern[str], ...]:
    """Questions about what the assistant is ("are you a real person?"), not requests."""
    return tuple(re.compile(pattern) for pattern in _words()["about_the_assistant"])


def _alternatives(key: str) -> str:
    """A regex alternation of one word family of reply_words.yml."""
    return _alternatives_of(_words()[key])


#: Longest message read as a bare request: "human please", "my therapist pls", "call my nurse".
MAX_BARE_REQUEST_WORDS = 6


@cache
def _person_shapes() -> tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]:
    """The shapes of a request for a person, built from the word families in reply_words.yml.

    The first group counts in a message of any length; the second only in a short one, where
    an imperative ("talk to my nurse") or a bare person ("real human pls") is the request.
    """
    lead, soft = _alternatives("person_leads"), _alternatives("person_softeners")
    reach, det = _alternatives("person_reach"), _alternatives("person_determiners")
    role, someone = _alternatives("person_roles"), _alternatives("person_someone")
    real, polite = _alternatives("person_real"), _alternatives("person_polite")
    ask, callback = _alternatives("person_ask_words"), _alternatives("person_callback")
    callback_me = _alternatives_of(c for c in _words()["person_callback"] if "me" in c.split())
    # "my therapist", "the ketamine clinic", "someone at the clinic", "dr smith", "a real person".
    target = rf"(?:{det}\s+(?:[\w-]+\s+)?{role}|{role}|{real}|{someone})(?![\w-])"
    a_role = rf"(?:{det}\s+(?:[\w-]+\s+)?{role}|{real})(?![\w-])"
    start, end = r"(?<![\w-])", r"(?![\w-])"
    # "my therapist", "the clinic", "dr patel": a role with its determiner, or a doctor's name.
    role_of = rf"(?:{det}\s+(?:[\w-]+\s+)?{role}|(?:dr|doctor|nurse)\s+[\w-]+)"
    see, see_what = _alternatives("person_see"), _alternatives("person_see_what")
    tell = _alternatives("person_tell")
    anywhere = (
        # "can i please talk to my therapist", "how do i get hold of someone at the clinic"
        rf"{start}{lead}(?:\s+{soft}){{0,2}}\s+{reach}\s+{target}",
        # "can someone from the clinic call me", "pls have my therapist text me"
        rf"{start}{ask}\s+(?:\w+\s+)?(?:{someone}|{det}\s+(?:[\w-]+\s+)?{role})"
        rf"(?:\s+[\w-]+){{0,4}}?\s+{callback}{end}",
        # "can you have sarah call me", "could u get dr lee to text me": someone named, asked to
        # reach the patient through the clinic
        rf"{start}(?:can|could|would|will)\s+(?:you|u|ya)\s+(?:have|get|ask)\s+(?:dr\s+)?[\w-]+"
        rf"\s+(?:to\s+)?{callback_me}{end}",
        # "any chance my nurse could ring me", "someone can call me back"
        rf"{start}(?:{someone}|{det}\s+(?:[\w-]+\s+)?{role})\s+(?:could|can)\s+(?:\w+\s+)?"
        rf"{callback_me}{end}",
        # "i need a real person", "i want my therapist", "get me my counselor"
        rf"{start}{lead}(?:\s+{soft}){{0,2}}\s+{a_role}",
        # "is there someone i can talk to", "someone to speak to", "an actual person i could
        # speak with", "a nurse i can call"
        rf"{start}(?:{someone}|{a_role})\s+(?:that\s+|who\s+)?(?:i\s+can|i\s+could|to)\s+"
        rf"(?:talk|speak|call|reach|contact|text|chat|ring|message){end}",
        # "can my therapist read this", "will the clinic see what i write"
        rf"{start}(?:can|could|will|would|does|do|is)\s+{role_of}\s+(?:be\s+able\s+to\s+)?"
        rf"{see}\s+{see_what}{end}",
        # "tell my care team i missed my dose", "let my nurse know", "pass this on to my doctor"
        rf"{start}{tell}\s+{role_of}{end}",
        # "is anyone there from the clinic"
        rf"{start}(?:is|are)\s+{someone}\s+(?:there\s+|around\s+|available\s+|on\s+)?"
        rf"(?:from|at|in)\s+(?:the|my)\s+(?:[\w-]+\s+)?{role}{end}",
        # "who can i call", "who should i talk to"
        rf"{start}who\s+(?:can|do|should|could|would|am)\s+i\s+(?:supposed\s+to\s+)?"
        rf"(?:talk|speak|call|contact|reach|message|email|text|ring|phone|chat){end}",
        # "is there a number", "whats the clinics number", "whats dr kims email"
        rf"{start}(?:is\s+there|whats|what\s+is|what\s+s|do\s+you\s+have|send\s+me|give\s+me)"
        rf"\s+(?:a|the|an|any|their|your)?\s*(?:[\w-]+\s+){{0,2}}(?:phone\s+|contact\s+|direct\s+)?"
        rf"(?:number|email|contact\s+details|contact\s+info)(?!\s+of){end}",
        rf"{start}{role}s?\s+(?:phone\s+|office\s+|contact\s+)?(?:number|contact|email|hours"
        rf"|phone|details|info){end}",
        # "get my therapist on the phone"
        rf"{start}(?:get|put)\s+{a_role}\s+on\s+(?:the\s+)?(?:phone|line){end}",
        # "i need help from a real person"
        rf"{start}{lead}(?:\s+{soft}){{0,2}}\s+(?:some\s+)?(?:help|support|advice|answers?)"
        rf"\s+from\s+{target}",
    )
    short = (
        # "talk to my nurse", "contact the clinic", "call someone pls"
        rf"^(?:{polite}\s+)*{reach}\s+{target}",
        # "real human pls", "an actual person", "human please"
        rf"^(?:{polite}\s+)*{real}(?:\s+{polite})*$",
        # "anyone from the clinic?", "someone at my care team pls"
        rf"^(?:{polite}\s+)*{someone}\s+(?:from|at)\s+(?:the|my)\s+(?:[\w-]+\s+)?{role}"
        rf"(?:\s+{polite})*$",
        # "my therapist pls", "therapist now"
        rf"^(?:{det}\s+)?(?:[\w-]+\s+)?{role}(?:\s+{polite})+$",
        # "call me please", "can someone call me back"
        rf"^(?:{polite}\s+)*(?:(?:can|could)\s+(?:you|u|someone|somebody)\s+)?{callback}"
        rf"(?:\s+(?:back|{polite}))*$",
    )
    return (
        tuple(re.compile(shape) for shape in anywhere),
        tuple(re.compile(shape) for shape in short),
    )


@cache
def _not_a_request() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Words before (no one to ask, a plan), right before (a question whether one should) and
    after (when, tomorrow) that make it no request."""
    before = _phrases(_words()["person_not_a_request"])
    just_before = re.compile(rf"(?<![\w-]){_alternatives('person_plan_just_before')}\s*$")
    after = re.compile(rf"^\s*{_alternatives('person_plan_after')}(?![\w-])")
    return before, just_before, after


def _no_request_around(clause: str, match: re.Match[str]) -> bool:
    """Whether the words around a request shape make it none ("i dont really have anyone i
    can call": the shape's first word may end the phrase that says so)."""
    before, just_before, after = _not_a_request()
    ahead = clause[: match.start()]
    first_word = clause[match.start() :].split(maxsplit=1)[0]
    return bool(
        before.search(f"{ahead}{first_word}")
        or just_before.search(ahead)
        or after.match(clause[match.end() :])
    )


#: Reaching someone, after the someone: "… i can talk to", "… to speak with".
_TO_REACH = re.compile(
    r"(?<![\w-])(?:i\s+can|i\s+could|i\s+may|to)\s+(?:talk|speak|call|reach|contact|text|chat"
    r"|ring|message)(?![\w-])"
)


@cache
def _appointment_request() -> re.Pattern[str]:
    """ "can i book an appointment", "i want to move my session", "how do i cancel my appt":
    a lead that asks, a verb of booking and an appointment, a few words apart at most."""
    lead, verb = _alternatives("appointment_leads"), _alternatives("appointment_verbs")
    thing = _alternatives("appointment_things")
    return re.compile(
        rf"(?<![\w-]){lead}\s+(?:\w+\s+){{0,2}}?{verb}\s+(?:\w+\s+){{0,3}}?{thing}(?![\w-])"
    )


def asks_for_a_person(text: str) -> bool:
    """Whether the message asks to reach a person: the therapist, the clinic, "a real person",
    or an appointment booked, moved or cancelled (which only the clinic can do).

    Read clause by clause: a clause asking what the assistant is ("are you a real person?")
    is no request, and neither is a clause that tells of having no one ("i wish i had someone
    to talk to") or of a plan ("i'll call my therapist tomorrow", "talk to my counselor when i
    feel low"): those are feelings and answers, which the conversation must keep.
    """
    return _person_reading(text) == _REQUEST


def tells_of_a_person(text: str) -> bool:
    """Whether the message speaks of reaching a person only as a plan or a lack, never as a
    request: "i'd text my counselor", "reach out to my therapist when it gets bad", "i wish i
    had someone to talk to". An answer about coping, or a feeling, to be kept as one."""
    return _person_reading(text) == _TOLD


_REQUEST, _TOLD = "request", "told"


def _person_reading(text: str) -> str | None:
    """``"request"`` when a clause asks for a person; ``"told"`` when request shapes are there
    but each in words that make it none (a plan, a lack); None when no shape is there."""
    anywhere, short = _person_shapes()
    shapes = (_requests("person_requests"), _appointment_request(), *anywhere)
    if len(_words_of(text)) <= MAX_BARE_REQUEST_WORDS:
        shapes += short
    told = False
    for part in re.split(r"[.!?;,\n]+|\s+(?:but|though|tho)\s+", text):
        clause = " ".join(_words_of(part))
        if not clause:
            continue
        if any(p.search(clause) for p in _about_the_assistant()) and not _TO_REACH.search(clause):
            # "are you a real person?" asks what the assistant is (utter_iamabot); "is there a
            # real person i can talk to" asks to reach one.
            continue
        for shape in shapes:
            for match in shape.finditer(clause):
                if not _no_request_around(clause, match):
                    return _REQUEST
                told = True
        told = told or bool(_person_mention().search(clause))
    return _TOLD if told else None


@cache
def _person_mention() -> re.Pattern[str]:
    """Reaching someone of the care team (or anyone) in any form: "talked to my therapist",
    "gonna call my counselor", "reach out to someone"."""
    det = _alternatives("person_determiners")
    role, someone = _alternatives("person_roles"), _alternatives("person_someone")
    # Each verb of reaching in any tense: "talk to" -> "talk(ed|ing|s) to".
    verbs = sorted({plain(item) for item in _words()["person_reach"] if plain(item)}, key=len)
    reach = "|".join(
        r"\s+".join([re.escape(first) + r"(?:ed|ing|s)?", *map(re.escape, rest)])
        for first, *rest in (verb.split() for verb in reversed(verbs))
    )
    return re.compile(
        rf"(?<![\w-])(?:{reach})\s+(?:{det}\s+(?:[\w-]+\s+)?{role}|{someone})(?![\w-])"
    )


def asks_for_more(text: str) -> bool:
    """Whether a short message asks for more on what was just said ("tell me more")."""
    words = _words_of(text)
    return 0 < len(words) <= MAX_CLARIFY_WORDS and bool(
        _requests("more_requests").search(" ".join(words))
    )


def asks_only_for_more(text: str) -> bool:
    """Whether the whole message is a bare "why?", "how?", "source?"
    (``more_alone_after_an_answer``): after an answer about the treatment it asks for more of
    that answer, whatever topic a classifier would guess for it."""
    return " ".join(_words_of(text)) in _words()["more_alone_after_an_answer"]


def asks_for_more_after_an_answer(text: str, *, form_paused: bool) -> bool:
    """Whether a short message said right after an answer about the treatment asks for more
    of it: :func:`asks_for_more`, the requests only that moment gives a meaning ("why is
    that?", "like what", ``more_after_an_answer``), and "go on" while no form is paused
    (``go_on_after_an_answer``; with one paused it means the form), and "why?" said alone
    (``more_alone_after_an_answer``). Never with a no in it ("no more thanks",
    ``no_more_words``)."""
    words = _words_of(text)
    if not 0 < len(words) <= MAX_CLARIFY_WORDS or _requests("no_more_words").search(
        " ".join(words)
    ):
        return False
    joined = " ".join(words)
    if asks_only_for_more(text):
        return True
    return bool(
        _requests("more_requests").search(joined)
        or _requests("more_after_an_answer").search(joined)
        or (not form_paused and _requests("go_on_after_an_answer").search(joined))
    )


def says_wrong_answer_after_an_answer(text: str) -> bool:
    """Whether a short message said right after an answer about the treatment says it missed
    the question: :func:`says_wrong_answer`, or ``wrong_after_an_answer`` ("not my question",
    "i asked about …")."""
    words = _words_of(text)
    return says_wrong_answer(text) or (
        0 < len(words) <= MAX_CLARIFY_WORDS
        and bool(_requests("wrong_after_an_answer").search(" ".join(words)))
    )


@cache
def _wrong_answer_shape() -> re.Pattern[str]:
    """ "you ignored my question", "u didnt really answer", "that doesnt answer anything"."""
    subject = _alternatives("wrong_answer_subjects")
    missed, negation = _alternatives("wrong_answer_missed"), _alternatives("wrong_answer_negations")
    verb = _alternatives("wrong_answer_verbs")
    return re.compile(
        rf"(?<![\w-]){subject}\s+(?:(?:just|totally|completely|kinda|kind\s+of)\s+)?{missed}"
        rf"(?![\w-])|(?<![\w-]){subject}\s+{negation}(?:\s+(?:really|even|actually|quite|"
        rf"exactly|properly|fully))?\s+{verb}(?![\w-])"
    )


def says_wrong_answer(text: str) -> bool:
    """Whether a short message says the answer missed the question ("that's not what i asked",
    "you ignored my question", "u didnt really answer")."""
    words = _words_of(text)
    joined = " ".join(words)
    return 0 < len(words) <= MAX_QUESTION_WORDS and bool(
        _requests("wrong_answer_phrases").search(joined)
        or (len(words) <= MAX_CLARIFY_WORDS + 2 and _wrong_answer_shape().search(joined))
    )
