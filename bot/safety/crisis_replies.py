"""Crisis replies filled in with the clinic's own numbers, the same way wherever they are sent.

The words live in domain.yml (``utter_crisis_<kind>``, with placeholders); the numbers in the
clinic's settings (:mod:`bot.safety.clinic_lines`). Both the dialogue's response generator
(:mod:`bot.chat.clinic_nlg`) and the channels' early crisis reply (:mod:`bot.chat.patient_channel`)
render through :func:`render`, so the two give the same text and a reply sent early is
recognised when the turn sends it again. Placeholders:

- ``{emergency_number}`` - the clinic's emergency number ("911", "999", "112");
- ``{crisis_lines}`` - the clinic's lines for this kind, one per line ("• Poison Help: ..."),
  or nothing (the paragraph is then dropped);
- ``{care_team_note}`` - when the care team usually sees a flag.

Pure Python (PyYAML only): it runs on the Rasa server with the database down, where the
settings are the defaults file's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.safety import clinic_lines

PREFIX = "utter_crisis_"
_PLACEHOLDER = re.compile(r"\{(emergency_number|crisis_lines|care_team_note)\}")
_BLANK_PARAGRAPHS = re.compile(r"\n{3,}")


def kind_of(response: str) -> str | None:
    """``"overdose"`` for ``utter_crisis_overdose``; None for other responses."""
    return response[len(PREFIX) :] if response.startswith(PREFIX) else None


def values(kind: str, settings: Mapping[str, Any] | None) -> dict[str, str]:
    """What the placeholders of a ``kind`` reply stand for, for these clinic settings."""
    complete = clinic_lines.complete_settings(settings)
    line_kind = kind if kind in clinic_lines.LINE_KINDS else "suicide"
    lines = clinic_lines.lines_for(line_kind, complete)
    return {
        "emergency_number": complete["emergency_number"],
        "crisis_lines": "\n".join(f"• {clinic_lines.line_text(line)}" for line in lines),
        "care_team_note": clinic_lines.care_team_note(complete),
    }


def render(template: str, kind: str, settings: Mapping[str, Any] | None) -> str:
    """``template`` with its placeholders filled in; empty paragraphs left out."""
    filled = values(kind, settings)
    text = _PLACEHOLDER.sub(lambda found: filled[found.group(1)], template)
    return _BLANK_PARAGRAPHS.sub("\n\n", text).strip()
