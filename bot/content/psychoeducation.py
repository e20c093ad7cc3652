"""Answers to questions about the treatment: short first, more on request, never twice the same.

Long answers (10 to 20 lines on a phone) went unread, and a question asked again got the very
same text back, which reads as the assistant not listening. So each topic has a short answer,
the response ``utter_psychoeducation/<topic>`` (data/psychoeducation.yml), and a longer one in
``bot/content/psychoeducation_more.yml``; the person asks for the longer one with "Tell me
more". When the response selector picked the wrong topic, "That's not what I asked" offers its
next-best guesses, kept from the same ranking, before asking the person to rephrase.

Pure functions over the selector's output, the slots and the conversation's events: the actions
in :mod:`actions.psychoeducation` only turn an :class:`Outcome` into messages and slot events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from bot.content import FOLDER

MORE_FILE = FOLDER / "psychoeducation_more.yml"

RETRIEVAL_INTENT = "psychoeducation"
#: Where Rasa puts the selector's result when the ResponseSelector names no retrieval intent.
DEFAULT_SELECTOR_KEY = "default"
RESPONSE_PREFIX = f"utter_{RETRIEVAL_INTENT}/"

LAST_TOPIC_SLOT = "last_topic"
OTHER_TOPICS_SLOT = "other_topics"

#: A next-best topic below this confidence is a guess too weak to offer as "what you meant".
OTHER_TOPIC_MIN_CONFIDENCE = 0.1
#: How many "That's not what I asked" in a row are answered with another topic.
MAX_OTHER_TOPICS = 2

MORE_BUTTON = {"title": "Tell me more", "payload": "/more_detail"}
NOT_WHAT_I_ASKED_BUTTON = {"title": "That's not what I asked", "payload": "/not_what_i_asked"}
CARE_TEAM_BUTTON = {"title": "Contact my care team", "payload": "/contact_care_team"}
ANSWER_BUTTONS = (MORE_BUTTON, NOT_WHAT_I_ASKED_BUTTON)

NOTHING_TO_EXPAND = (
    "Happy to tell you more once you've asked me something. I can explain how ketamine works, "
    "what a session feels like, side effects and safety after a session, what the research "
    "found, why integration matters, and ideas like urge surfing or HALT."
)
ALL_SAID = (
    "That's everything I can tell you on this one, and I'd rather not repeat myself. If I've "
    "misread your question, could you put it another way? For questions about your own "
    "treatment, your care team is the best one to ask."
)
REPHRASE = (
    "Sorry, I got that wrong. Could you put your question in other words? If it's about your "
    "own treatment, like your dose, your medicines or how you're doing, please ask your care "
    "team: they know your situation."
)


@dataclass(frozen=True)
class Selection:
    """What the response selector made of a question: its topic and the runners-up."""

    topic: str | None
    others: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """One message: a domain response by name, or a text; with buttons or none."""

    response: str | None = None
    text: str | None = None
    buttons: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What to say, and the slots to set (only the ones that change)."""

    replies: tuple[Reply, ...]
    slots: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- content


@cache
def more_texts() -> dict[str, str]:
    """Every topic's longer answer, whitespace as the chat shows it (one line break kept
    before the sources line)."""
    with MORE_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise TypeError(f"{MORE_FILE} must map each topic to its text")
    texts: dict[str, str] = {}
    for topic, text in data.items():
        if not isinstance(topic, str) or not isinstance(text, str) or not text.strip():
            raise TypeError(f"{MORE_FILE}: {topic!r} must map to a text")
        texts[topic] = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
    return texts


def topics() -> frozenset[str]:
    """The topics this assistant can answer (each has a short and a longer answer)."""
    return frozenset(more_texts())


def response_name(topic: str) -> str:
    return RESPONSE_PREFIX + topic


def topic_of(intent_response_key: Any) -> str | None:
    """``psychoeducation/side_effects`` → ``side_effects``; None for anything else."""
    if not isinstance(intent_response_key, str):
        return None
    prefix = RETRIEVAL_INTENT + "/"
    if not intent_response_key.startswith(prefix):
        return None
    return intent_response_key.removeprefix(prefix) or None


# --------------------------------------------------------------------------- reading the selector


def selection(latest_message: Mapping[str, Any] | None) -> Selection:
    """The topic the response selector chose for the latest message, and the topics it ranked
    next with enough confidence to be worth offering if the first one was wrong.

    Rasa files the result under the retrieval intent's name when the ResponseSelector is
    configured with one, else under ``default``: both are read, as Rasa's own retrieval action
    does.
    """
    selectors = (latest_message or {}).get("response_selector") or {}
    result = selectors.get(RETRIEVAL_INTENT) or selectors.get(DEFAULT_SELECTOR_KEY) or {}
    chosen = topic_of((result.get("response") or {}).get("intent_response_key"))
    ranked = sorted(
        (entry for entry in result.get("ranking") or [] if isinstance(entry, Mapping)),
        key=lambda entry: _confidence(entry),
        reverse=True,
    )
    others: list[str] = []
    for entry in ranked:
        topic = topic_of(entry.get("intent_response_key"))
        if _confidence(entry) < OTHER_TOPIC_MIN_CONFIDENCE:
            break
        if topic and topic != chosen and topic in topics() and topic not in others:
            others.append(topic)
    return Selection(chosen, tuple(others[:MAX_OTHER_TOPICS]))


def _confidence(entry: Mapping[str, Any]) -> float:
    value = entry.get("confidence")
    return float(value) if isinstance(value, int | float) else 0.0


# --------------------------------------------------------------------------- the conversation


def more_already_sent(events: Iterable[Mapping[str, Any]], topic: str) -> bool:
    """Whether the longer answer of ``topic`` was sent since the conversation turned to it.

    Read backwards from the latest event: a bot message with that text means yes; reaching the
    point where ``last_topic`` was set to another topic (or cleared) means no, so the longer
    answer can be offered again when the person comes back to a topic later on.
    """
    expected = more_texts().get(topic)
    if expected is None:
        return False
    wanted = _words(expected)
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "bot" and _words(event.get("text") or "") == wanted:
            return True
        if kind == "slot" and event.get("name") == LAST_TOPIC_SLOT and event.get("value") != topic:
            return False
    return False


def _words(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- what to say


def answer_question(
    chosen: Selection, last_topic: str | None, events: Iterable[Mapping[str, Any]]
) -> Outcome:
    """A question: its short answer with the two buttons.

    Asked again straight after, the same short answer would look like the assistant did not
    listen: the longer answer goes instead, and once that is given too, a short line says so
    and points to rephrasing or the care team.
    """
    topic = chosen.topic
    if topic is None:
        return Outcome((Reply(text=REPHRASE, buttons=(CARE_TEAM_BUTTON,)),))
    slots = {LAST_TOPIC_SLOT: topic, OTHER_TOPICS_SLOT: list(chosen.others)}
    if topic == last_topic:
        return Outcome((_more_or_all_said(topic, events),), slots)
    return Outcome((short_answer(topic),), slots)


def more_detail(last_topic: str | None, events: Iterable[Mapping[str, Any]]) -> Outcome:
    """ "Tell me more": the longer answer of the topic last answered."""
    if last_topic is None or last_topic not in topics():
        return Outcome((Reply(text=NOTHING_TO_EXPAND),))
    return Outcome((_more_or_all_said(last_topic, events),))


def not_what_i_asked(
    other_topics: Sequence[str] | None,
    meant: str | None = None,
    last_topic: str | None = None,
) -> Outcome:
    """ "That's not what I asked": the topic the person now says they meant ("no, i meant the
    side effects": ``meant``, when it is not the one just answered), else the selector's
    next-best topic, else a request to rephrase.

    The topic offered is taken off the list, so asking again moves on to the next one; the
    wrong topic is forgotten, so "Tell me more" cannot expand it.
    """
    remaining = [topic for topic in other_topics or [] if topic in topics()]
    if meant is not None and meant != last_topic and meant in topics():
        rest = [topic for topic in remaining if topic != meant]
        return Outcome((short_answer(meant),), {LAST_TOPIC_SLOT: meant, OTHER_TOPICS_SLOT: rest})
    if not remaining:
        return Outcome(
            (Reply(text=REPHRASE, buttons=(CARE_TEAM_BUTTON,)),),
            {LAST_TOPIC_SLOT: None, OTHER_TOPICS_SLOT: []},
        )
    topic, *rest = remaining
    return Outcome((short_answer(topic),), {LAST_TOPIC_SLOT: topic, OTHER_TOPICS_SLOT: rest})


def short_answer(topic: str) -> Reply:
    return Reply(response=response_name(topic), buttons=ANSWER_BUTTONS)


def _more_or_all_said(topic: str, events: Iterable[Mapping[str, Any]]) -> Reply:
    more = more_texts().get(topic)
    if more is None or more_already_sent(events, topic):
        return Reply(text=ALL_SAID, buttons=(CARE_TEAM_BUTTON,))
    return Reply(text=more)
