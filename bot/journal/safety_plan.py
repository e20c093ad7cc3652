"""The patient's safety plan: built in the chat, kept in the journal, shown on request.

A Stanley–Brown safety plan (Stanley & Brown, 2012, Cogn Behav Pract 19:256) is a short
list, in the patient's own words, of what to do when a crisis builds: the warning signs,
what helps on their own, people and places that distract, people to ask for help,
professionals and services, making the surroundings safer, and reasons for living.

It is stored as a journal entry of kind ``safety_plan`` (sealed like every entry). Each
change is saved as a whole new entry, so the newest one is the current plan and older
versions stay in the record. A step the patient keeps, skips or never reaches while
changing their plan keeps its earlier answer (:func:`save_plan` merges), so stopping half
way through an update never loses the rest of the plan.

Everything here returns plain text: patient text is untrusted and is never turned into
markup. :func:`crisis_reminder` is for the crisis replies and never raises.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from bot.journal import entries as journal
from bot.journal.entries import EntryView
from bot.journal.replies import short_date
from bot.journal.schema import FIELD_KEYS, LABELS, SAFETY_PLAN

logger = logging.getLogger(__name__)

__all__ = [
    "KIND",
    "MAX_REMINDER_CHARS",
    "SLOTS",
    "STEP_KEYS",
    "crisis_reminder",
    "current_plan",
    "current_plan_entry",
    "edit_hint",
    "is_keep",
    "key_of",
    "plan_lines",
    "plan_steps",
    "plan_text",
    "saved_text",
    "save_plan",
    "slot_of",
]

#: The journal entry kind.
KIND = SAFETY_PLAN.name
#: The seven steps, in the order they are asked (the journal's field keys).
STEP_KEYS: tuple[str, ...] = FIELD_KEYS[KIND]
#: The conversation's slot for each step (``plan_`` and the step's key), in the same order.
_SLOT_OF: dict[str, str] = {step.key: str(step.slot) for step in SAFETY_PLAN.fields}
_KEY_OF: dict[str, str] = {slot: key for key, slot in _SLOT_OF.items()}
SLOTS: tuple[str, ...] = tuple(_SLOT_OF.values())

#: Longest line :func:`crisis_reminder` returns.
MAX_REMINDER_CHARS = 200

#: Whole replies that mean "keep what my plan says for this step" while changing it.
KEEP_PHRASES = frozenset(
    {
        "keep",
        "keep it",
        "keep that",
        "keep this",
        "keep this one",
        "keep that one",
        "keep it the same",
        "keep as is",
        "keep it as is",
        "keep the same",
        "same",
        "the same",
        "same as before",
        "same again",
        "still the same",
        "no change",
        "no changes",
        "unchanged",
        "leave it",
        "leave it as is",
        "leave as is",
        "that's still right",
        "thats still right",
        "still right",
        "still true",
        "keep same",
    }
)

#: Answers that name nobody and nothing: not something a crisis reply can point to.
_EMPTY_ANSWERS = frozenset(
    {
        "none",
        "no one",
        "noone",
        "nobody",
        "nothing",
        "n/a",
        "na",
        "idk",
        "i don't know",
        "i dont know",
        "dont know",
        "don't know",
        "not sure",
        "no idea",
        "-",
    }
)


def slot_of(key: str) -> str:
    """The slot that asks for step ``key``."""
    return _SLOT_OF[key]


def key_of(slot: str) -> str:
    """The step a slot asks for."""
    if slot not in _KEY_OF:
        raise ValueError(f"{slot!r} is not a safety plan slot")
    return _KEY_OF[slot]


def _phrase(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(re.findall(r"[\w'/-]+", folded)).strip("'")


def is_keep(text: str) -> bool:
    """Whether a whole reply means "keep this step as it is" ("keep", "same", "no change")."""
    return _phrase(text) in KEEP_PHRASES


def _has_words(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def plan_steps(fields: Mapping[str, Any]) -> dict[str, str]:
    """The steps of a plan that have an answer, in step order."""
    return {key: fields[key] for key in STEP_KEYS if _has_words(fields.get(key))}


# --------------------------------------------------------------------------- reading and saving


def current_plan_entry(sender_id: str) -> EntryView | None:
    """The journal entry holding the current plan (the newest one with any step answered)."""
    entry = journal.latest_entry(sender_id, KIND)
    if entry is None or not plan_steps(entry.fields):
        return None
    return entry


def current_plan(sender_id: str) -> dict[str, str] | None:
    """The patient's current safety plan as ``{step key: their words}``; ``None`` if none.

    Only steps with an answer are present, in step order. Raises if the journal cannot
    be read (callers decide what the patient is told).
    """
    entry = current_plan_entry(sender_id)
    return plan_steps(entry.fields) if entry is not None else None


def save_plan(sender_id: str, answers: Mapping[str, str], status: str = "complete") -> EntryView:
    """Save ``answers`` (step key → text) as the new current plan.

    Steps not in ``answers`` keep what the current plan says, so an update that was
    stopped or interrupted part-way never drops the steps it did not reach.
    """
    unknown = set(answers) - set(STEP_KEYS)
    if unknown:
        raise ValueError(f"not safety plan steps: {sorted(unknown)}")
    merged = {**(current_plan(sender_id) or {}), **plan_steps(answers)}
    return journal.save_entry(
        sender_id,
        KIND,
        fields={key: merged[key] for key in STEP_KEYS if key in merged},
        status=status,
    )


# --------------------------------------------------------------------------- wording


def _one_line(text: str) -> str:
    """An answer on one line: its lines joined with "; ", spacing collapsed."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "; ".join(line for line in lines if line)


def plan_lines(fields: Mapping[str, Any]) -> list[str]:
    """One line per answered step: ``4. People I can ask for help: Maria 555-0101``."""
    return [
        f"{STEP_KEYS.index(key) + 1}. {LABELS[key]}: {_one_line(text)}"
        for key, text in plan_steps(fields).items()
    ]


def plan_text(entry: EntryView) -> str:
    """The plan as "show my safety plan" shows it."""
    lines = [f"Your safety plan (updated {short_date(entry.created_at)}):"]
    lines.extend(plan_lines(entry.fields))
    lines.append('To change it, say "update my safety plan".')
    return "\n".join(lines)


def saved_text(entry: EntryView) -> str:
    """Confirms a saved plan and shows it back."""
    lines = [f"Thank you. I've saved your safety plan in your journal (entry #{entry.number}):"]
    lines.extend(plan_lines(entry.fields))
    lines.append(
        'Say "show my safety plan" whenever you need it. It can help to keep a copy on your '
        "phone or on paper, and to share it with your care team and someone you trust."
    )
    return "\n".join(lines)


def edit_hint(text: str) -> str:
    """Shown under a step's question when the plan already has an answer for it."""
    return f'Right now your plan says: “{text}”\nSay "keep" to keep it, or write a new answer.'


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


_REMINDERS = (
    ("people_to_ask", "Your safety plan says you can reach out to: {}"),
    ("professionals", "Your safety plan says you can contact: {}"),
    ("coping_alone", "Your safety plan says this can help: {}"),
)


def reminder_line(plan: Mapping[str, str]) -> str | None:
    """One short line pointing at the plan's people to ask, else professionals, else
    what helps on one's own; ``None`` if the plan names none of them."""
    for key, template in _REMINDERS:
        text = _one_line(plan.get(key) or "").strip()
        if not text or _phrase(text) in _EMPTY_ANSWERS:
            continue
        budget = MAX_REMINDER_CHARS - len(template.format(""))
        text = _clip(text, budget - 1)
        if not text.endswith((".", "!", "?", "…")):
            text += "."
        return template.format(text)
    return None


def crisis_reminder(sender_id: str) -> str | None:
    """A line for the crisis replies, e.g. "Your safety plan says you can reach out to:
    Maria (555-0101)." — at most :data:`MAX_REMINDER_CHARS` characters, plain text.

    ``None`` when there is no plan, it names nobody and nothing to do, or the journal
    cannot be read: the crisis reply must go out whatever happens here, so this never raises.
    """
    try:
        plan = current_plan(sender_id)
    except Exception as error:  # noqa: BLE001 - a crisis reply never waits on the journal
        logger.error("Reading the safety plan failed: %s", type(error).__name__)
        return None
    if not plan:
        return None
    return reminder_line(plan)
