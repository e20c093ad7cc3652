"""What a clinic's public safety page says, built from the configuration that decides it.

Why generated and not written by hand: a page that promises patients what the assistant does in
a crisis must not drift from what it does. So the risk categories and their descriptions come
from the crisis lexicon (:mod:`bot.safety.categories`), the numbers from the clinic's crisis
settings through the very functions the crisis replies are filled in with
(:mod:`bot.safety.clinic_lines`), the flag levels from :data:`bot.storage.models.RISK_LEVELS`
and how soon the care team looks from the clinic's ``response_time``. Only the wording around
them is written, in ``bot/content/safety_page.yml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.clinics import registry
from bot.clinics.registry import ClinicView
from bot.content import FOLDER, load_mapping
from bot.safety import clinic_lines
from bot.safety.categories import lexicon_categories
from bot.storage.models import RISK_LEVELS

CONTENT_FILE = FOLDER / "safety_page.yml"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: The reply kind an ``ask`` answer of "yes" or "not sure" leads to.
ASK_LEADS_TO = "suicide"


@dataclass(frozen=True)
class RiskRow:
    """One kind of risk the assistant looks for, and what it does about it at this clinic."""

    name: str
    title: str
    level: str
    summary: str
    does: str
    #: The numbers the reply gives, in the reply's order ("Samaritans: 116 123 (free …)").
    numbers: tuple[str, ...]
    #: Whether the reply also tells the patient to call the emergency number.
    emergency: bool


@dataclass(frozen=True)
class SafetySummary:
    """Everything the page shows, as plain text (the template escapes it)."""

    clinic_name: str
    accent_color: str
    emergency_number: str
    response_time: str
    risks: tuple[RiskRow, ...]
    #: The sentence every crisis reply ends with (when the care team sees a flag).
    care_team_note: str
    #: Every line the widget's "Get help now" lists, as text.
    help_now: tuple[str, ...]
    #: ``(level, sentence)`` for every risk-flag level, most pressing first.
    flag_levels: tuple[tuple[str, str], ...]
    words: dict[str, Any]


@cache
def page_words() -> dict[str, Any]:
    """``bot/content/safety_page.yml``, read once."""
    return load_mapping(CONTENT_FILE)


def _fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its ``{name}`` placeholders filled in one pass (a clinic's name that
    itself reads like a placeholder stays as it is)."""
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), text)


def _reply_kind(level: str, reply: str) -> str:
    """The crisis reply whose numbers a category's reply gives (``ask``: the one a "yes" gets)."""
    return ASK_LEADS_TO if level == "ask" else reply


def build(clinic: ClinicView) -> SafetySummary:
    """The page of ``clinic``, from its settings as stored (defaults where it has none)."""
    words = page_words()
    settings = clinic_lines.complete_settings(clinic.crisis_settings())
    values = {
        "clinic": clinic.name,
        "emergency_number": settings["emergency_number"],
        "response_time": settings["response_time"],
    }
    filled = {
        key: _fill(value, values) if isinstance(value, str) else value
        for key, value in words.items()
    }
    risks = []
    for category in lexicon_categories():
        kind = _reply_kind(category.level, category.reply)
        lines = clinic_lines.lines_for(kind, settings) if kind in clinic_lines.LINE_KINDS else []
        risks.append(
            RiskRow(
                name=category.name,
                title=words["categories"].get(category.name, category.name),
                level=category.level,
                summary=category.summary,
                does=words["levels"][category.level],
                numbers=tuple(clinic_lines.line_text(line) for line in lines),
                emergency=category.level != "recent",
            )
        )
    return SafetySummary(
        clinic_name=clinic.name,
        accent_color=clinic.accent_color,
        emergency_number=settings["emergency_number"],
        response_time=settings["response_time"],
        risks=tuple(risks),
        care_team_note=clinic_lines.care_team_note(settings),
        help_now=tuple(
            clinic_lines.line_text(line)
            for line in registry.help_now_lines(settings["crisis_lines"])
        ),
        flag_levels=tuple((level, words["flag_levels"][level]) for level in RISK_LEVELS),
        words=filled,
    )
