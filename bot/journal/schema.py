"""What a journal entry holds: each kind of entry, declared once.

A kind (:class:`Kind`) lists its fields (:class:`Field`) in the order its form asks for them.
A field says how it is labelled, whether it is a 0 to 10 rating, and which slot of the form
answers it. Everything else is derived here from those declarations: the field keys
(:data:`FIELD_KEYS`), the labels (:data:`LABELS`, :data:`STAFF_LABELS`), the ratings
(:data:`RATING_KEYS`), the kinds and their names (:data:`KINDS`, :data:`KIND_LABELS`,
:data:`KIND_TITLES`) and each journal form's questions (:data:`FORMS`). The entry an action
saves is built from the same declarations (:mod:`bot.journal.drafts`).

Adding a question to a form is one :class:`Field` in its kind below, and in ``domain.yml``
the slot, its place in the form's ``required_slots`` and its ``utter_ask_<slot>``
(``tests/app/journal/test_schema.py`` checks that the two agree). The form's validation
action then checks the answer as a text or a 0 to 10 rating
(:class:`actions.forms.JournalFormValidation`), and the entry saved keeps it. A new kind
also needs a migration: the database accepts only the kinds it knows
(``bot/storage/models.py``).

Entries may lack any field (a skipped question is simply absent); exports and the dashboard
list fields in the order declared here.

Standard library only: the Rasa side imports the kernel too, without the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Fields kept in the entry's own columns (``journal_entries.session_date``, ``mood`` and
#: ``craving``: the chart reads them) rather than in its ``fields``.
COLUMNS: tuple[str, ...] = ("session_date", "mood", "craving")

#: A field's ``slot`` when it is the slot of the same name.
_SAME_AS_KEY = "<key>"


@dataclass(frozen=True)
class Field:
    """One thing an entry holds."""

    #: Its key in the entry's ``fields`` (or, for :data:`COLUMNS`, the entry's column).
    key: str
    #: How the patient reads it: in the chat, and in their copy of their data.
    label: str
    #: The form slot whose answer it keeps; the slot of the same name unless given. ``None``
    #: when no question asks for it: the action sets it (a trigger entry's kind, a slip's
    #: details) or another form fills its ``parts``.
    slot: str | None = _SAME_AS_KEY
    #: A 0 to 10 rating (shown as "6/10").
    rating: bool = False
    #: Kept as read from the answer (a date, a list of categories) rather than as typed: the
    #: readers are :data:`bot.journal.drafts.READERS`.
    parsed: bool = False
    #: The dashboard's label, where the care team reads it otherwise ("in their words").
    staff_label: str = ""
    #: Labels of the values it takes, where it takes one of a few.
    values: Mapping[str, str] = field(default_factory=dict)
    #: Fields of its own, kept as one dict under ``key``, asked by ``form``.
    parts: tuple[Field, ...] = ()
    #: The form that asks for the ``parts``.
    form: str | None = None

    def __post_init__(self) -> None:
        if self.slot == _SAME_AS_KEY:
            object.__setattr__(self, "slot", self.key)

    @property
    def column(self) -> bool:
        """Kept in the entry's column of that name, not in its ``fields``."""
        return self.key in COLUMNS


@dataclass(frozen=True)
class Kind:
    """A kind of journal entry and the form that asks its questions."""

    #: As stored in ``journal_entries.kind``.
    name: str
    #: One entry, as the patient's copy of their data names it.
    title: str
    #: The kind filter's label on the dashboard.
    label: str
    form: str
    fields: tuple[Field, ...]


INTEGRATION = Kind(
    "integration",
    title="Session reflection",
    label="Session reflections",
    form="integration_form",
    fields=(
        Field("session_date", "Session date", parsed=True),
        Field("stood_out", "What stood out"),
        Field("feelings", "Feelings and sensations"),
        Field("insight", "About alcohol or drugs"),
        Field("intention", "Intention"),
        Field("small_step", "Small step"),
        Field("mood", "Mood", rating=True),
        Field("craving", "Craving", rating=True),
    ),
)

#: An urge-surfing exercise: a dict under ``urge_surfing`` in the trigger entry it followed.
URGE_SURFING = Field(
    "urge_surfing",
    "Urge surfing",
    slot=None,
    form="urge_surfing_form",
    parts=(
        Field("before", "Urge before", slot="surf_before", rating=True),
        Field("location", "Where you felt it", slot="surf_location"),
        Field("change", "What you noticed", slot="surf_change"),
        Field("after", "Urge after", slot="surf_after", rating=True),
    ),
)

TRIGGER = Kind(
    "trigger",
    title="Craving or trigger reflection",
    label="Cravings and triggers",
    form="trigger_form",
    fields=(
        # What the reflection is about: the action sets it from how the form was started.
        Field(
            "trigger_kind",
            "Kind",
            slot=None,
            values={"craving": "Craving", "lapse": "Slip", "trigger": "Trigger"},
        ),
        # A slip's details, read from how the person first told of it
        # (bot/journal/lapse_details.py): what it was on, the day, and their words for when.
        Field("substances", "Substances", slot=None),
        Field("lapse_date", "Day of the slip", slot=None),
        Field("lapse_when", "When, in your words", slot=None, staff_label="When, in their words"),
        Field("craving", "Craving", slot="trigger_craving", rating=True),
        Field(
            "trigger_types",
            "What set it off",
            slot="trigger_type",
            parsed=True,
            staff_label="Trigger types",
        ),
        Field("trigger_types_text", "What set it off", slot="trigger_type"),
        Field("halt", "HALT check", parsed=True, staff_label="HALT states"),
        Field("halt_text", "HALT check", slot="halt", staff_label="HALT check, in their words"),
        Field("context", "What was happening", slot="trigger_context"),
        Field("coping", "What you did or could do", slot="coping_response"),
        URGE_SURFING,
    ),
)

CHECKIN = Kind(
    "checkin",
    title="Check-in",
    label="Check-ins",
    form="checkin_form",
    fields=(
        Field("mood", "Mood", slot="checkin_mood", rating=True),
        Field("craving", "Craving", slot="checkin_craving", rating=True),
        Field("note", "Note", slot="checkin_note"),
    ),
)

#: The Stanley-Brown safety plan (Stanley & Brown, 2012), in the order of its seven steps;
#: each step's slot is its key with ``plan_`` before it.
SAFETY_PLAN = Kind(
    "safety_plan",
    title="Safety plan",
    label="Safety plans",
    form="safety_plan_form",
    fields=tuple(
        Field(key, label, slot=f"plan_{key}")
        for key, label in (
            ("warning_signs", "Warning signs"),
            ("coping_alone", "Things I can do on my own"),
            ("distractions", "People and places that distract me"),
            ("people_to_ask", "People I can ask for help"),
            ("professionals", "Professionals and services"),
            ("safer_surroundings", "Making my surroundings safer"),
            ("reasons_for_living", "My reasons for living"),
        )
    ),
)

#: Every kind of entry, in the order the dashboard lists them.
SCHEMA: tuple[Kind, ...] = (INTEGRATION, TRIGGER, CHECKIN, SAFETY_PLAN)

#: Required slots of the journal forms that are no answer of the entry's own: the safety
#: question asked after a low mood (actions/risk.py) steers the form and is neither saved nor
#: given back; the answer to a question the care team wrote (actions/care_team_questions.py)
#: is kept with that question (bot/journal/care_team_questions.py), not in the entry's fields.
NOT_STORED: frozenset[str] = frozenset({"safety_answer", "care_team_answer"})


# --------------------------------------------------------------------------- derived


def kind(name: str) -> Kind:
    """The kind called ``name``; ``KeyError`` for any other."""
    for declared in SCHEMA:
        if declared.name == name:
            return declared
    raise KeyError(name)


def field_of(kind_name: str, key: str) -> Field:
    """The field ``key`` of the kind called ``kind_name``; ``KeyError`` if it has none."""
    for one in kind(kind_name).fields:
        if one.key == key:
            return one
    raise KeyError(f"{kind_name}.{key}")


def every_field() -> list[Field]:
    """Every field of every kind, the parts of a field after it."""
    return [item for declared in SCHEMA for item in _with_parts(declared.fields)]


def _with_parts(fields: Iterable[Field]) -> list[Field]:
    return [item for one in fields for item in (one, *_with_parts(one.parts))]


def text_keys(fields: Iterable[Field]) -> tuple[str, ...]:
    """The keys of ``fields`` that keep an answer as the person typed it, in order."""
    return tuple(
        one.key
        for one in fields
        if one.slot is not None and not (one.rating or one.parsed or one.column or one.parts)
    )


def _slots(fields: Iterable[Field]) -> tuple[str, ...]:
    """The slots answering ``fields``, each once, in the order asked."""
    return tuple(dict.fromkeys(one.slot for one in fields if one.slot is not None))


def _first_label(pairs: Iterable[tuple[str | None, str]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name, label in pairs:
        if name is not None:
            labels.setdefault(name, label)
    return labels


#: The kinds as stored in ``journal_entries.kind``.
KINDS: tuple[str, ...] = tuple(declared.name for declared in SCHEMA)
KIND_LABELS: dict[str, str] = {declared.name: declared.label for declared in SCHEMA}
KIND_TITLES: dict[str, str] = {declared.name: declared.title for declared in SCHEMA}

#: The keys of each kind's ``fields``, in the order the questions are asked.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    declared.name: tuple(one.key for one in declared.fields if not one.column)
    for declared in SCHEMA
}
#: Keys of the ``urge_surfing`` dict that an urge-surfing exercise adds to a trigger entry.
URGE_SURFING_KEYS: tuple[str, ...] = tuple(part.key for part in URGE_SURFING.parts)
#: Per kind, the fields that keep an answer as typed, in the order asked.
TEXT_KEYS: dict[str, tuple[str, ...]] = {
    declared.name: text_keys(declared.fields) for declared in SCHEMA
}

#: The fields each journal form's questions fill, in the order asked.
FORMS: dict[str, tuple[Field, ...]] = {}
#: The kind of entry each journal form's answers are saved in.
FORM_KINDS: dict[str, str] = {}
for _declared in SCHEMA:
    FORMS[_declared.form] = _declared.fields
    FORM_KINDS[_declared.form] = _declared.name
    for _one in _declared.fields:
        if _one.form is not None:
            FORMS[_one.form] = _one.parts
            FORM_KINDS[_one.form] = _declared.name
del _declared, _one

#: The slots each journal form asks for (its answers), in order; the form's required slots in
#: ``domain.yml`` are these and :data:`NOT_STORED` ones.
FORM_SLOTS: dict[str, tuple[str, ...]] = {form: _slots(fields) for form, fields in FORMS.items()}

#: Labels for the person's answers, keyed by field key and by the slot that asks for it.
LABELS: dict[str, str] = {
    **_first_label((one.key, one.label) for one in every_field()),
    **_first_label((one.slot, one.label) for one in every_field()),
}
#: Labels of each field key as the dashboard shows them to the care team.
STAFF_LABELS: dict[str, str] = _first_label(
    (one.key, one.staff_label or one.label) for one in every_field()
)
#: Labels of the values of the fields that take one of a few ("lapse" is a "Slip").
VALUE_LABELS: dict[str, Mapping[str, str]] = {
    one.key: one.values for one in every_field() if one.values
}
#: Slots of 0 to 10 questions.
RATING_SLOTS: frozenset[str] = frozenset(
    one.slot for one in every_field() if one.rating and one.slot is not None
)
#: Slots and fields holding 0 to 10 ratings, shown as "6/10".
RATING_KEYS: frozenset[str] = RATING_SLOTS | {one.key for one in every_field() if one.rating}
