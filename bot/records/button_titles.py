"""What a patient's button press reads as in a transcript: the button's title.

When a patient presses a button, the widget sends its payload (``/start_integration``,
``/measure_answer{…}``, ``phq9.1.2``) and Rasa stores that as what they "said". Staff should
read what the patient saw and chose ("Reflect on a session"), so a transcript maps each
payload back to its title: first from the buttons of the assistant's messages just before
(which carry titles and payloads exactly as sent, the measures' and the answers' included),
then from the responses of ``domain.yml`` (the bot's own buttons), then by the payload's
intent. A payload found nowhere still never shows as one: its intent is written out in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import yaml

from bot import settings

DOMAIN_FILE = settings.PROJECT_ROOT / "domain.yml"
#: An intent payload: ``/intent`` with optional entities in JSON (``/intent{"a": 1}``).
_INTENT_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?:\{.*\})?$", re.S)


def offered_buttons(buttons: Iterable[Any]) -> dict[str, str]:
    """``{payload: title}`` of the buttons in one of the assistant's messages (as stored)."""
    found: dict[str, str] = {}
    for button in buttons or ():
        if not isinstance(button, dict):
            continue
        title, payload = button.get("title"), button.get("payload")
        if isinstance(title, str) and isinstance(payload, str) and title and payload:
            found.setdefault(payload, title)
    return found


@cache
def domain_buttons() -> dict[str, str]:
    """``{payload: title}`` of every button in the domain's responses (the first title given
    for a payload wins); empty when the domain cannot be read, so transcripts still show."""
    try:
        domain = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    found: dict[str, str] = {}
    for variants in (domain.get("responses") or {}).values():
        for variant in variants or ():
            if isinstance(variant, dict):
                for payload, title in offered_buttons(variant.get("buttons") or ()).items():
                    found.setdefault(payload, title)
    return found


@cache
def _intent_titles() -> dict[str, str]:
    """``{intent: title}`` from the domain's buttons, for payloads sent with other entities."""
    found: dict[str, str] = {}
    for payload, title in domain_buttons().items():
        intent = payload_intent(payload)
        if intent is not None:
            found.setdefault(intent, title)
    return found


def payload_intent(text: str) -> str | None:
    """The intent an intent payload names (``/start_integration`` → ``start_integration``)."""
    matched = _INTENT_PAYLOAD.match(text.strip())
    return matched.group("intent") if matched else None


def title_of(text: str, offered: Mapping[str, str]) -> str | None:
    """The title of the button whose payload ``text`` is, or ``None`` if it is not one.

    ``offered`` are the buttons of the assistant's messages since the patient last spoke.
    Text that is neither one of those nor an intent payload is what the patient typed.
    """
    if text in offered:
        return offered[text]
    intent = payload_intent(text)
    if intent is None:
        return None
    return (
        domain_buttons().get(text.strip())
        or _intent_titles().get(intent)
        or intent.replace("_", " ").capitalize()
    )
