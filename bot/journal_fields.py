"""The field keys of each kind of journal entry, in the order its questions are asked.

A module of its own, with nothing but the standard library behind it, so that the text
layer (:mod:`bot.journal_text`) can follow the same order as the journal service
(:mod:`bot.journal`, which re-exports these) without importing the database.
"""

from __future__ import annotations

#: The field keys each kind of entry uses, in the order the questions are asked. Entries may
#: lack any of them (a skipped question is simply absent); exports list them in this order.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "integration": ("stood_out", "feelings", "insight", "intention", "small_step"),
    "trigger": (
        "trigger_kind",
        # A slip's details, read from how the person first told of it (bot/lapse_details.py):
        # what it was on, the day, and the words they used for when.
        "substances",
        "lapse_date",
        "lapse_when",
        "trigger_types",
        "trigger_types_text",
        "halt",
        "halt_text",
        "context",
        "coping",
        "urge_surfing",
    ),
    "checkin": ("note",),
    # The Stanley-Brown safety plan, in the plan's own order.
    "safety_plan": (
        "warning_signs",
        "coping_alone",
        "distractions",
        "people_to_ask",
        "professionals",
        "safer_surroundings",
        "reasons_for_living",
    ),
}
#: Keys of the ``urge_surfing`` dict that an urge-surfing exercise adds to a trigger entry.
URGE_SURFING_KEYS: tuple[str, ...] = ("before", "location", "change", "after")
