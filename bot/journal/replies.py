"""The bot's short plain-text replies about journal entries.

Pure functions from :class:`bot.journal.entries.EntryView` (or plain answers) to text, kept apart
from the actions so the wording can be read, tested and changed in one place.

The person's own words are echoed exactly as plain text: no markdown, no HTML, nothing
built around them that a chat widget could interpret. The wording stays warm and
shame-free — a slip is reported as something to learn from, an urge that did not drop as
something the person stayed with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.journal.lapse_details import (
    LAPSE_DATE_FIELD,
    LAPSE_WHEN_FIELD,
    SUBSTANCES_FIELD,
    lapse_date_of,
    substance_label,
)
from bot.journal.schema import (
    KIND_TITLES,
    LABELS,
    RATING_KEYS,
    TEXT_KEYS,
    URGE_SURFING,
    text_keys,
)

if TYPE_CHECKING:
    from bot.journal.entries import EntryView

#: How long the preview of an entry's first words is in the journal list.
PREVIEW_CHARS = 40

_TRIGGER_TITLES = {
    "craving": "Craving reflection",
    "lapse": "Slip reflection",
    "trigger": "Trigger reflection",
}

_STATUS_NOTES = {"partial": "unfinished", "interrupted": "interrupted"}

# Fields whose words make the preview in the journal list, per kind, in order of preference:
# the answers as typed, in the order asked, but for a trigger entry's, its context first.
_PREVIEW_FIELDS = {
    **TEXT_KEYS,
    "trigger": ("context", "trigger_types_text", "coping", "halt_text"),
}
# The urge-surfing exercise's answers as typed: where the urge was felt, what was noticed.
_SURF_TEXT_FIELDS = text_keys(URGE_SURFING.parts)


# --------------------------------------------------------------------------- small pieces


def short_date(day: date | datetime) -> str:
    """26 Nov 2026."""
    return f"{day.day} {day:%b %Y}"


def long_date(day: date) -> str:
    """Thursday 26 November 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def entry_title(entry: EntryView) -> str:
    """What kind of entry this is, in the person's terms: "Session reflection", "Check-in" …"""
    if entry.kind == "trigger":
        title = _TRIGGER_TITLES.get(str(entry.fields.get("trigger_kind")), "Trigger reflection")
        if entry.fields.get("urge_surfing"):
            title += " + urge surfing"
        return title
    return KIND_TITLES.get(entry.kind, entry.kind.capitalize())


def _is_lapse(entry: EntryView) -> bool:
    return entry.kind == "trigger" and entry.fields.get("trigger_kind") == "lapse"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first words of an answer on one line, cut at a word boundary with "…"."""
    line = _one_line(text)
    if len(line) <= limit:
        return line
    cut = line[:limit]
    if " " in cut and not line[limit].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _first_words(entry: EntryView) -> str:
    for key in _PREVIEW_FIELDS.get(entry.kind, ()):
        value = entry.fields.get(key)
        if isinstance(value, str) and value.strip():
            return preview(value)
    surf = entry.fields.get("urge_surfing")
    if isinstance(surf, Mapping):
        for key in _SURF_TEXT_FIELDS:
            value = surf.get(key)
            if isinstance(value, str) and value.strip():
                return preview(value)
    return ""


def _ratings(entry: EntryView, *, scale: bool) -> list[str]:
    suffix = "/10" if scale else ""
    parts = []
    if entry.mood is not None:
        parts.append(f"mood {entry.mood}{suffix}")
    if entry.craving is not None:
        parts.append(f"craving {entry.craving}{suffix}")
    return parts


def _quoted(text: str) -> str:
    return f"“{text}”"


def substance_names(fields: Mapping[str, Any]) -> list[str]:
    """The slip's substances as shown ("alcohol", "MDMA"); stored values of any other shape
    (an older version, a hand edit) are left out rather than shown as code."""
    stored = fields.get(SUBSTANCES_FIELD)
    if not isinstance(stored, list):
        return []
    return [substance_label(name) for name in stored if isinstance(name, str) and name.strip()]


def _joined(names: Sequence[str]) -> str:
    """ "alcohol", "alcohol and cocaine", "alcohol, cocaine and cannabis"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def lapse_summary(fields: Mapping[str, Any]) -> str | None:
    """One line on a slip's details in the person's terms: "Slip: alcohol, last night".

    The words they used for when come first; without them the stored day is shown. ``None``
    when the slip has no details (nothing was named), so callers can leave the line out.
    """
    parts = []
    names = substance_names(fields)
    if names:
        parts.append(_joined(names))
    when = fields.get(LAPSE_WHEN_FIELD)
    day = lapse_date_of(fields)
    if isinstance(when, str) and when.strip():
        parts.append(_one_line(when))
    elif day is not None:
        parts.append(f"on {short_date(day)}")
    return f"Slip: {', '.join(parts)}" if parts else None


def how_to_open(number: int) -> str:
    return f'You can read it again any time: say "show entry {number}".'


# --------------------------------------------------------------------------- after saving


def integration_summary(entry: EntryView) -> str:
    """Confirms a saved session reflection and hands back the intention and the small step."""
    opening = (
        "Thank you for taking the time to reflect. "
        f"I've saved this in your journal as entry #{entry.number}."
    )
    lines = [opening]
    if entry.session_date is not None:
        lines.append(f"Session: {long_date(entry.session_date)}.")
    intention = entry.fields.get("intention")
    if isinstance(intention, str) and intention.strip():
        lines.append(f"Your intention: {_quoted(intention)}")
    step = entry.fields.get("small_step")
    if isinstance(step, str) and step.strip():
        lines.append(f"Your small step: {_quoted(step)}")
    ratings = _ratings(entry, scale=True)
    if ratings:
        lines.append(" · ".join(ratings).capitalize() + ".")
    lines.append(how_to_open(entry.number))
    return "\n".join(lines)


def trigger_summary(entry: EntryView) -> str:
    """Confirms a saved craving, trigger or slip reflection, without any judgement."""
    kind = entry.fields.get("trigger_kind")
    if kind == "lapse":
        opening = (
            "Thank you for looking at this with me — that is how slips turn into learning. "
            f"I've saved it in your journal as entry #{entry.number}."
        )
    elif kind == "craving":
        opening = (
            "Thank you for working through this craving. "
            f"I've saved it in your journal as entry #{entry.number}."
        )
    else:
        opening = (
            "Thank you for looking at this trigger. "
            f"I've saved it in your journal as entry #{entry.number}."
        )
    lines = [opening]
    slip = lapse_summary(entry.fields) if kind == "lapse" else None
    if slip:
        lines.append(f"{slip}.")
    types = entry.fields.get("trigger_types")
    if types:
        lines.append(f"What set it off: {', '.join(types)}.")
    halt = entry.fields.get("halt")
    if halt:
        lines.append(f"HALT: {', '.join(halt)}.")
    coping = entry.fields.get("coping")
    if isinstance(coping, str) and coping.strip():
        lines.append(f"What you did or could do: {_quoted(coping)}")
    if entry.craving is not None:
        lines.append(f"Craving: {entry.craving}/10.")
    lines.append(how_to_open(entry.number))
    return "\n".join(lines)


def checkin_confirmation(entry: EntryView) -> str:
    """Confirms a saved check-in in one or two short lines."""
    ratings = _ratings(entry, scale=True)
    detail = f": {', '.join(ratings)}" if ratings else ""
    return (
        f"Check-in saved in your journal as entry #{entry.number}{detail}. "
        "Thank you for checking in with yourself."
    )


def urge_movement(before: int | None, after: int | None) -> str:
    """How the urge moved during urge surfing, said without judgement either way.

    An urge that did not drop is not a failure: noticing it without acting on it is the
    skill being practised (Bowen et al., 2014).
    """
    if before is None or after is None:
        return "You stayed with the urge and watched it. That is the practice itself."
    if after < before:
        return (
            f"Your urge went from {before} to {after} while you watched it — "
            "like a wave, it rose and started to fall."
        )
    if after == before:
        return (
            f"Your urge stayed at {after}. That happens; some waves take longer to pass. "
            "You stayed with it without acting on it, and that counts."
        )
    return (
        f"Your urge went from {before} to {after}. Sometimes an urge rises before it falls. "
        "You noticed it without acting on it, which is the skill — be gentle with yourself, "
        "and reach out to someone if it keeps building."
    )


def urge_surfing_summary(entry: EntryView, before: int | None, after: int | None) -> str:
    """The result of an urge-surfing exercise and where it was saved."""
    saved = f"I've added this to your journal in entry #{entry.number}."
    return f"{urge_movement(before, after)}\n{saved}"


def partial_saved(entry: EntryView) -> str:
    """Confirms that a stopped form's answers were kept."""
    return (
        f"Okay, I've kept what you wrote so far in your journal (entry #{entry.number}). "
        + how_to_open(entry.number)
    )


NOTHING_TO_KEEP = "There wasn't anything written yet, so there's nothing to keep. That's fine."
DISCARDED = "Okay, I've let it go — nothing from that was saved."
JOURNAL_READ_FAILED = (
    "I'm sorry — I couldn't open your journal just now. Please try again in a few minutes."
)
WHICH_ENTRY = 'Which entry would you like to see? Say, for example, "show entry 3".'


def entry_not_found(number: int) -> str:
    return (
        f"I couldn't find entry #{number} in your journal. "
        'Say "show my journal" to see the numbers of your entries.'
    )


def session_date_noted(day: date) -> str:
    """Tells the person which session date was taken from what they said."""
    return f"I've noted the session as {long_date(day)}."


def session_date_approximate(day: date) -> str:
    """Tells the person which rough day a vague answer ("a few days ago") was taken as."""
    return f"Roughly is fine: I've noted the session as around {long_date(day)}."


def unsaved_answers(answers: Mapping[str, Any]) -> str:
    """The person's answers echoed back when they could not be saved, so nothing is lost.

    ``answers`` maps slot names (or field names) to what was collected.
    """
    if not answers:
        return ""
    lines = ["Here is what you wrote, so you can keep a copy:"]
    for key, value in answers.items():
        label = LABELS.get(key, key.replace("_", " ").capitalize())
        shown = f"{value}/10" if key in RATING_KEYS else value
        lines.append(f"{label}: {shown}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- reading the journal


def journal_line(entry: EntryView) -> str:
    """One line of the journal list.

    ``#4 · 26 Nov 2026 · Session reflection · mood 6 · craving 2 — “first words…”``
    """
    parts = [f"#{entry.number}", short_date(entry.created_at), entry_title(entry)]
    if _is_lapse(entry):
        names = substance_names(entry.fields)
        if names:
            parts.append(", ".join(names))
    note = _STATUS_NOTES.get(entry.status)
    if note:
        parts.append(note)
    parts.extend(_ratings(entry, scale=False))
    line = " · ".join(parts)
    words = _first_words(entry)
    return f"{line} — {_quoted(words)}" if words else line


def journal_list(entries: Sequence[EntryView]) -> str:
    """The journal overview: newest first, and how to open one entry."""
    if not entries:
        return (
            "Your journal is empty so far. When you reflect on a session, do a check-in or "
            "work through a craving with me, it will appear here."
        )
    lines = ["Your journal, newest first:"]
    lines.extend(journal_line(entry) for entry in entries)
    lines.append(f'To open one, say "show entry {entries[0].number}".')
    return "\n".join(lines)


def _answer_lines(fields: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    lines = []
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            lines.append(f"{LABELS[key]}: {value}")
    return lines


def full_entry(entry: EntryView) -> str:
    """One entry with everything the person wrote, verbatim."""
    heading = f"Entry #{entry.number} · {entry_title(entry)} · {short_date(entry.created_at)}"
    note = _STATUS_NOTES.get(entry.status)
    if note:
        heading += f" ({note})"
    lines = [heading]
    if entry.session_date is not None:
        lines.append(f"Session date: {long_date(entry.session_date)}")
    if entry.mood is not None:
        lines.append(f"Mood: {entry.mood}/10")
    if entry.craving is not None:
        lines.append(f"Craving: {entry.craving}/10")
    if _is_lapse(entry):
        slip = lapse_summary(entry.fields)
        if slip:
            lines.append(slip)
        day = lapse_date_of(entry.fields)
        if day is not None:
            lines.append(f"{LABELS[LAPSE_DATE_FIELD]}: {long_date(day)}")
    lines.extend(_answer_lines(entry.fields, TEXT_KEYS.get(entry.kind, ())))

    surf = entry.fields.get("urge_surfing")
    if isinstance(surf, Mapping) and surf:
        lines.append("Urge surfing:")
        before, after = surf.get("before"), surf.get("after")
        if before is not None:
            lines.append(f"Urge before: {before}/10")
        lines.extend(_answer_lines(surf, _SURF_TEXT_FIELDS))
        if after is not None:
            lines.append(f"Urge after: {after}/10")
    return "\n".join(lines)
