"""The assistant never calls itself a therapist, counsellor or clinician: every response in
domain.yml and data/*.yml, and every text in bot/content/*.yml, read and checked.

It may say what it is not ("not a therapist or clinician") and speak of the patient's own
therapist ("your therapist can read your journal"); what it must never say is that it is one
("I'm your counsellor", "as your therapist, I ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_ROOT

ROLE = r"(?:therapist|psychotherapist|counsell?or|counselor|clinician|psychologist|psychiatrist)"
#: A first-person claim to the role: "I'm a therapist", "I am your licensed counsellor".
_CLAIM = re.compile(
    rf"\b(?:i'm|im|i am|i'll be|i will be)\s+(?:(?:like|kind of|sort of)\s+)?"
    rf"(?:(?:a|an|your|the)\s+)?(?:[\w-]+\s+){{0,2}}{ROLE}\b"
)
#: Taking the role: "(I can) be your counsellor", "acting as a therapist".
_ROLE_TAKEN = re.compile(
    rf"\b(?:be|act as|acting as|serve as|work as|working as)\s+(?:a|an|your|the)\s+"
    rf"(?:[\w-]+\s+){{0,2}}{ROLE}\b"
)
#: "As your therapist, I ...".
_AS_ROLE = re.compile(rf"\bas (?:a|an|your)\s+(?:[\w-]+\s+){{0,2}}{ROLE}\s*,?\s+i\b")
_SELF = re.compile(r"\b(?:i|i'm|im|me|my|this chat|this assistant|the assistant|the companion)\b")
_NEGATION = re.compile(r"\b(?:not|never|no|nor|neither)\b|n't\b")
_CLAUSE = re.compile(r"[.!?;:,\n()\u2014\u2013]|\s-\s")


def self_descriptions_as_role(text: str) -> list[str]:
    """The clauses of ``text`` in which the speaker claims to be a therapist, counsellor or
    clinician (without a negation in the same clause)."""
    plain = text.lower().replace("\u2019", "'")
    found = [match.group(0) for match in _AS_ROLE.finditer(plain)]
    for clause in _CLAUSE.split(plain):
        if _NEGATION.search(clause):
            continue
        if _CLAIM.search(clause) or (_ROLE_TAKEN.search(clause) and _SELF.search(clause)):
            found.append(clause.strip())
    return found


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def said_texts() -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every text the assistant may say or show."""
    for path in [PROJECT_ROOT / "domain.yml", *sorted((PROJECT_ROOT / "data").glob("*.yml"))]:
        data = _load(path)
        responses = data.get("responses") if isinstance(data, dict) else None
        for name, variants in (responses or {}).items():
            for text in _strings(variants):
                yield f"{path.name}:{name}", text
    for path in sorted((PROJECT_ROOT / "bot" / "content").glob("*.yml")):
        for text in _strings(_load(path)):
            yield path.name, text


def test_there_is_something_to_check() -> None:
    places = {where.split(":")[0] for where, _ in said_texts()}
    assert {"domain.yml", "safety_page.yml", "disclosure.yml"} <= places
    assert sum(1 for _ in said_texts()) > 500


def test_no_response_or_content_calls_the_assistant_a_therapist() -> None:
    claims = [
        (where, clause)
        for where, text in said_texts()
        for clause in self_descriptions_as_role(text)
    ]
    assert claims == []


@pytest.mark.parametrize(
    "text",
    [
        "I'm your therapist, so tell me everything.",
        "I am a licensed counsellor.",
        "Hi! I’m an AI counselor here to help.",
        "Think of me as your clinician: I can be your counselor between sessions.",
        "As your therapist, I recommend rest.",
        "This chat is here and I will be your psychologist today.",
        "I'm acting as a therapist for the clinic.",
    ],
)
def test_the_check_finds_a_claim(text: str) -> None:
    assert self_descriptions_as_role(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm an automated assistant, not a person, and not a therapist or clinician.",
        "I'm not a therapist.",
        "I'm glad you told your therapist about it.",
        "Your therapist can read your journal.",
        "I can pass a message to your care team or your counsellor.",
        "I'm an automated assistant — a computer program, not a person, and not a clinician.",
        "It is not a therapist, and nobody watches it in real time.",
    ],
)
def test_the_check_lets_what_it_is_not_and_the_patients_therapist_pass(text: str) -> None:
    assert self_descriptions_as_role(text) == []
