"""Patients' records as the therapist dashboard reads them, always within one clinic.

Every function takes the viewer's clinic and finds nothing outside it: a patient of another
clinic is ``None`` here exactly like a patient who does not exist, so the pages built on
this package cannot tell the two apart either.

The conversations come from Rasa's tracker store, the ``events`` table in the same
database, where each event's ``data`` is sealed (:mod:`bot.encryption`; rows from before
encryption are read as they are; a row that cannot be opened is an error, not a silent gap
in what the therapist reads). Rasa creates and owns that table (see
:data:`bot.storage.models.FOREIGN_TABLES`; declared once in :mod:`bot.storage.rasa_events`),
and it is only ever read here. A database where Rasa never ran has no such table: then there
are simply no transcripts.

Everything returned is a frozen dataclass detached from the database session. Patient text
is returned as plain strings; turning it into HTML is the templates' job (autoescaped).

The modules, lowest first:

- :mod:`.views`: the frozen dataclasses, the filters, labels and formatting helpers;
- :mod:`.transcripts`: conversations read from the ``events`` table, filtered, and the
  message that raised a flag found in them;
- :mod:`.entries`: journal entries as shown (labelled fields, the safety plan) and the
  chart's data;
- :mod:`.flag_actions`: what the care team did about a flag (the clinic's actions, checking
  an acknowledgement, undoing it), and the follow-ups still to do;
- :mod:`.unanswered`: the questions the assistant could not answer, from the ``events`` table;
  :mod:`.button_titles`: a pressed button's payload read back as its title;
- :mod:`.digest`: what happened since the last session, and which period that is;
- :mod:`.queries`: the patients list (search, filters), the scope check, one patient's
  record, acknowledging a flag, the JSON export;
- :mod:`.chart`: the mood and craving chart as SVG; :mod:`.exports`: the record as CSV, JSON
  and PDF (import them as ``from bot.records import chart, exports``).

The names below are the package's API (``from bot import records; records.load_record(…)``).
Each is imported from its module when first used, so that importing :mod:`.exports` (which
the command line does at start-up) does not pull in the database layer; :mod:`.views` and
:mod:`.queries` need SQLAlchemy, ``exports`` only when it writes a PDF.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The package's API: each name by the module that holds it.
_MODULES: dict[str, tuple[str, ...]] = {
    "views": (
        "CONVERSATION",
        "FILTER_KINDS",
        "FORMATS",
        "PAGE_SIZE",
        "QUIET_DAYS",
        "Acknowledgement",
        "ChartData",
        "ChartLapse",
        "ChartPoint",
        "Conversation",
        "Digest",
        "DigestPeriod",
        "Entry",
        "Field",
        "Filters",
        "Flag",
        "FlagMessage",
        "FollowUp",
        "Message",
        "PatientFilters",
        "PatientPage",
        "PatientRecord",
        "PatientRef",
        "PatientSummary",
        "PlanStep",
        "SafetyPlan",
        "Segment",
        "format_age",
        "format_day",
        "format_time",
        "formats_for",
        "display_name",
        "page_of",
        "short_id",
    ),
    "flag_actions": (
        "ActionError",
        "check_acknowledgement",
        "clinic_actions",
        "complete_follow_up",
        "open_follow_ups",
        "undo_acknowledgement",
    ),
    "queries": (
        "acknowledge_flag",
        "export_data",
        "find_patient",
        "flag_of",
        "has_assigned",
        "list_patients",
        "load_record",
    ),
    "transcripts": ("read_conversations",),
    "digest": ("SESSION_DATE_SOURCES", "digest_period"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
