"""The journal's schema (bot/journal/schema.py) against what reads and writes by it: every
field labelled, the ratings exactly the fields declared ratings, the journal forms of
``domain.yml`` asking for the slots the schema knows in the same order, and the entry an
action saves from a form holding exactly the schema's fields.

The checks are functions that return what they found wrong, so that the last tests can show
each of them seeing a schema and a domain that disagree."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from action_support import turn
from rasa_sdk.executor import CollectingDispatcher

import actions.checkin
import actions.integration
import actions.safety_plan
import actions.triggers
import actions.urge_surfing
from actions.forms import FORM_NAMES, JournalFormValidation, save_finished_form
from bot.journal import drafts, schema
from bot.journal import entries as journal
from bot.journal.entries import EntryView
from bot.storage import models

#: An answer for each kind of question, as the form's validation leaves it in the slot.
RATING_ANSWER = "6"
SESSION_DATE = "2026-11-26"
TEXT_ANSWERS = {"trigger_type": "my ex, at the bar", "halt": "tired and lonely"}
#: How a slip was told, naming what it was on and when: a slip's every detail is found.
LAPSE_REPORT = "had a couple drinks last night after work"


# --------------------------------------------------------------------------- the checks


def label_problems(fields: list[schema.Field]) -> list[str]:
    """Fields without a label, and keys or slots labelled two ways."""
    problems = [f"{one.key} has no label" for one in fields if not one.label.strip()]
    seen: dict[tuple[str, str], str] = {}
    for one in fields:
        names = [("key", one.key, one.label), ("staff", one.key, one.staff_label or one.label)]
        if one.slot is not None:
            names.append(("slot", one.slot, one.label))
        for what, name, label in names:
            earlier = seen.setdefault((what, name), label)
            if earlier != label:
                problems.append(f"{what} {name} is labelled {earlier!r} and {label!r}")
    return problems


def rating_problems(fields: list[schema.Field], rating_keys: frozenset[str]) -> list[str]:
    """Rating keys that are not a rating field's key or slot, and the reverse."""
    declared = {name for one in fields if one.rating for name in (one.key, one.slot) if name}
    not_ratings = {name for one in fields if not one.rating for name in (one.key, one.slot)}
    problems = [f"{name} is shown as n/10 but no rating" for name in rating_keys - declared]
    problems += [f"rating {name} is not in RATING_KEYS" for name in declared - rating_keys]
    problems += [f"{name} is a rating and a text" for name in declared & not_ratings]
    return problems


def form_problems(form_slots: Mapping[str, tuple[str, ...]], domain: dict[str, Any]) -> list[str]:
    """Where the journal forms of the domain ask otherwise than the schema says."""
    problems = []
    for form, slots in form_slots.items():
        required = ((domain.get("forms") or {}).get(form) or {}).get("required_slots")
        if required is None:
            problems.append(f"{form} is no form of domain.yml")
            continue
        asked = [slot for slot in required if slot not in schema.NOT_STORED]
        if asked != list(slots):
            problems.append(f"{form} asks {asked} in domain.yml, {list(slots)} in the schema")
        for slot in slots:
            if slot not in domain["slots"]:
                problems.append(f"{slot} is no slot of domain.yml")
            elif (
                f"utter_ask_{slot}" not in domain["responses"]
                and f"action_ask_{slot}" not in domain["actions"]
            ):
                problems.append(f"nothing asks for {slot}")
    return problems


def full_answers(domain: dict[str, Any], form: str) -> dict[str, Any]:
    """Every question of ``form`` answered, as the form's validation leaves the slots."""
    answers: dict[str, Any] = {}
    for slot in domain["forms"][form]["required_slots"]:
        if slot in schema.NOT_STORED:
            answers[slot] = "no"
        elif slot in schema.RATING_SLOTS:
            answers[slot] = RATING_ANSWER
        elif slot == "session_date":
            answers[slot] = SESSION_DATE
        else:
            answers[slot] = TEXT_ANSWERS.get(slot, f"my answer to {slot}")
    return answers


def saved_from(form: str, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict:
    """What the journal is asked to keep when ``form`` is finished with every question
    answered, the way every save action saves it (:func:`actions.forms.save_finished_form`)."""
    saved: dict[str, Any] = {}

    def save_entry(sender_id: str, kind: str, *, fields: dict[str, Any], **columns: Any):
        saved.update(kind=kind, fields=fields, columns=columns)
        return EntryView(1, kind, "complete", models.utcnow(), None, None, None, fields)

    def update_entry_fields(sender_id: str, number: int, fields: dict[str, Any]):
        saved.update(kind="trigger", fields=fields, columns={})
        return EntryView(number, "trigger", "complete", models.utcnow(), None, None, None, {})

    monkeypatch.setattr(journal, "save_entry", save_entry)
    monkeypatch.setattr(journal, "update_entry_fields", update_entry_fields)
    monkeypatch.setattr(journal, "latest_entry", lambda sender_id, kind: None)
    extra = {
        # A slip reflection, so that the slip's details are kept too.
        "trigger_form": {"trigger_kind": "lapse", "lapse_report": LAPSE_REPORT},
        # Right after a trigger reflection: the exercise goes into that entry.
        "urge_surfing_form": {"last_trigger_entry": "1"},
    }.get(form, {})
    tracker = turn(domain, slots=full_answers(domain, form) | extra)
    dispatcher = CollectingDispatcher()
    entry, _ = save_finished_form(form, dispatcher, tracker, domain, lambda entry: "saved")
    assert entry is not None, dispatcher.messages
    return saved


def draft_problems(form: str, saved: dict[str, Any]) -> list[str]:
    """Where the entry saved from a fully answered ``form`` differs from the schema."""
    kind = schema.FORM_KINDS[form]
    if saved["kind"] != kind:
        return [f"{form} saved a {saved['kind']} entry, not a {kind} one"]
    if form == schema.URGE_SURFING.form:
        fields, expected = saved["fields"][schema.URGE_SURFING.key], schema.URGE_SURFING_KEYS
    else:
        fields = saved["fields"]
        # The fields other forms fill (an urge-surfing exercise) come later.
        later = {one.key for one in schema.kind(kind).fields if one.form not in (None, form)}
        expected = tuple(key for key in schema.FIELD_KEYS[kind] if key not in later)
    problems = []
    if tuple(fields) != expected:
        problems.append(f"{form} saved the fields {tuple(fields)}, the schema has {expected}")
    columns = [one.key for one in schema.FORMS[form] if one.column]
    empty = [key for key in columns if saved["columns"].get(key) is None]
    if empty:
        problems.append(f"{form} left the columns {empty} empty")
    return problems


# --------------------------------------------------------------------------- the schema


def test_every_field_has_one_label() -> None:
    fields = schema.every_field()
    assert label_problems(fields) == []
    for one in fields:
        assert schema.LABELS[one.key] == one.label
        assert schema.STAFF_LABELS[one.key] == (one.staff_label or one.label)
        if one.slot is not None:
            assert schema.LABELS[one.slot] == one.label


def test_the_rating_keys_are_exactly_the_fields_declared_ratings() -> None:
    assert rating_problems(schema.every_field(), schema.RATING_KEYS) == []
    assert schema.RATING_SLOTS == {
        one.slot for one in schema.every_field() if one.rating and one.slot is not None
    }
    for one in schema.every_field():
        assert not (one.rating and one.parsed), f"{one.key}: a rating is read as a rating"


def test_every_field_read_from_its_answer_has_a_reader() -> None:
    parsed = {one.key for one in schema.every_field() if one.parsed}
    assert set(drafts.READERS) == parsed


def test_the_kinds_and_columns_are_the_databases() -> None:
    assert models.KINDS == schema.KINDS
    table = models.JournalEntry.__table__.columns
    assert all(column in table for column in schema.COLUMNS)
    draft_columns = {one.name for one in dataclasses.fields(drafts.EntryDraft)}
    assert draft_columns == {"kind", "fields", *schema.COLUMNS}
    for declared in schema.SCHEMA:
        assert set(schema.FIELD_KEYS[declared.name]).isdisjoint(schema.COLUMNS)


def test_the_journal_forms_are_the_schemas() -> None:
    assert set(FORM_NAMES) == set(schema.FORMS) == set(schema.FORM_KINDS)
    for form, fields in schema.FORMS.items():
        assert fields, f"{form} asks nothing"


# --------------------------------------------------------------------------- domain.yml


def test_the_forms_in_the_domain_ask_for_the_slots_the_schema_knows(
    domain: dict[str, Any],
) -> None:
    assert form_problems(schema.FORM_SLOTS, domain) == []
    # Every slot kept out of the journal is one some journal form asks for.
    asked = {slot for form in schema.FORMS for slot in domain["forms"][form]["required_slots"]}
    assert schema.NOT_STORED <= asked


#: The ``validate_<form>`` action of each journal form.
VALIDATIONS: dict[str, type[JournalFormValidation]] = {
    "checkin_form": actions.checkin.ValidateCheckinForm,
    "integration_form": actions.integration.ValidateIntegrationForm,
    "safety_plan_form": actions.safety_plan.ValidateSafetyPlanForm,
    "trigger_form": actions.triggers.ValidateTriggerForm,
    "urge_surfing_form": actions.urge_surfing.ValidateUrgeSurfingForm,
}


def test_every_question_of_a_form_is_checked() -> None:
    assert set(VALIDATIONS) == set(schema.FORMS)
    for form, validation in VALIDATIONS.items():
        assert validation.form == form
        assert validation().name() == f"validate_{form}"
        for slot in schema.FORM_SLOTS[form]:
            assert callable(getattr(validation, f"validate_{slot}", None)), slot


# --------------------------------------------------------------------------- what is saved


@pytest.mark.parametrize("form", sorted(schema.FORMS))
def test_the_entry_a_form_saves_holds_the_schemas_fields(
    form: str, domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert draft_problems(form, saved_from(form, domain, monkeypatch)) == []


def test_the_draft_reads_each_answer_as_the_schema_says(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = saved_from("integration_form", domain, monkeypatch)
    assert saved["columns"]["mood"] == int(RATING_ANSWER)
    assert saved["columns"]["session_date"].isoformat() == SESSION_DATE
    assert saved["fields"]["stood_out"] == "my answer to stood_out"
    trigger = saved_from("trigger_form", domain, monkeypatch)["fields"]
    assert trigger["trigger_kind"] == "lapse"
    assert trigger["trigger_types"] == ["people", "places"]
    assert trigger["trigger_types_text"] == TEXT_ANSWERS["trigger_type"]
    assert set(trigger["halt"]) == {"tired", "lonely"}
    assert trigger["substances"] == ["alcohol"]
    surf = saved_from("urge_surfing_form", domain, monkeypatch)["fields"]["urge_surfing"]
    assert surf["before"] == int(RATING_ANSWER)


# --------------------------------------------------------------------------- the checks fail


def test_the_checks_see_a_schema_and_a_domain_that_disagree(
    domain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A question added to a form in domain.yml, not in the schema; and the reverse.
    asks_more = copy.deepcopy(domain)
    asks_more["forms"]["checkin_form"]["required_slots"].append("checkin_sleep")
    assert form_problems(schema.FORM_SLOTS, asks_more) != []
    knows_more = {**schema.FORM_SLOTS, "checkin_form": (*schema.FORM_SLOTS["checkin_form"], "x")}
    assert form_problems(knows_more, domain) != []
    # Two questions asked in another order.
    swapped = copy.deepcopy(domain)
    swapped["forms"]["checkin_form"]["required_slots"].reverse()
    assert form_problems(schema.FORM_SLOTS, swapped) != []

    # A field labelled twice over, a rating not declared one.
    note = schema.field_of("checkin", "note")
    relabelled = dataclasses.replace(note, label="Something else")
    assert label_problems([*schema.every_field(), relabelled]) != []
    assert label_problems([dataclasses.replace(note, label=" ")]) != []
    assert rating_problems(schema.every_field(), schema.RATING_KEYS | {"note"}) != []
    assert rating_problems(schema.every_field(), schema.RATING_KEYS - {"mood"}) != []

    # A field in the schema that no answer fills.
    monkeypatch.setitem(schema.FIELD_KEYS, "checkin", (*schema.FIELD_KEYS["checkin"], "sleep"))
    assert draft_problems("checkin_form", saved_from("checkin_form", domain, monkeypatch)) != []
