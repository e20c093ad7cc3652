"""The FHIR export (bot.records.fhir): one patient's record as a validated FHIR R4B Bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError
from sqlalchemy import select

from bot import records
from bot.clinics.patients import new_sender_id
from bot.journal import entries as journal
from bot.records import fhir
from bot.settings import PROJECT_ROOT
from bot.storage import db
from bot.storage.models import Patient

HTML = '<script>alert("entry")</script> & <b>bold</b>'
NOTE = "Slept well 😴\nthen a walk — 散步\n  indented"
ARABIC = "كنت بخير اليوم"
FORMULA = '=HYPERLINK("http://evil.example","click")'
PADDED = "  breathe first  "
#: What the patient wrote in the chat that raised flags: never in the Bundle.
FLAG_FIRST = "flag words: I cannot keep going"
FLAG_LATER = "flag words, later: still the same tonight"
FLAG_SEEN = "flag words: I took too much last week"
URGE = {"before": 9, "location": "@throat", "change": "it eased", "after": 5}


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def resolve(bundle: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    found = by_url(bundle).get(reference["reference"])
    assert found is not None, f"{reference} resolves to no entry of the Bundle"
    return found


def items(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["linkId"]: item for item in response.get("item", [])}


def answers(item: dict[str, Any]) -> list[Any]:
    return [next(iter(answer.values())) for answer in item["answer"]]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def clinic_ref(sender_id: str) -> records.PatientRef:
    with db.session_scope(write=False) as session:
        clinic_id = session.scalar(select(Patient.clinic_id).where(Patient.sender_id == sender_id))
    found = records.find_patient(clinic_id, sender_id)
    assert found is not None
    return found


@pytest.fixture
def sender_id(database_url: str) -> str:
    """A patient with three entries of three kinds and three risk flags, written through the
    journal's own functions, beside another patient who must not appear."""
    sender = new_sender_id()
    journal.save_entry(
        sender,
        "integration",
        fields={"stood_out": HTML, "feelings": NOTE, "intention": PADDED},
        session_date=date(2026, 3, 1),
        mood=4,
        craving=7,
    )
    journal.save_entry(
        sender,
        "trigger",
        fields={
            "trigger_kind": "lapse",
            "lapse_date": "2026-03-02",
            "trigger_types": ["people", "places"],
            "trigger_types_text": "my old friends, the bar",
            "context": FORMULA,
        },
        craving=9,
    )
    journal.update_entry_fields(sender, 2, {"urge_surfing": URGE})
    journal.save_entry(sender, "checkin", fields={"note": ARABIC}, mood=6, status="partial")
    journal.record_risk_flag(sender, message=FLAG_FIRST, category=None, source="detector")
    journal.record_risk_flag(sender, message=FLAG_LATER, category=None, source="detector")
    seen = journal.record_risk_flag(
        sender, message=FLAG_SEEN, category="overdose", source="detector", level="elevated"
    )
    records.acknowledge_flag(clinic_ref(sender), seen, by="dr@clinic.example")
    journal.save_entry("someone-else", "checkin", fields={"note": "not in this record"}, mood=1)
    return sender


@pytest.fixture
def export(sender_id: str) -> dict[str, Any]:
    exported = journal.export_patient(sender_id)
    assert exported is not None
    return exported


@pytest.fixture
def bundle(export: dict[str, Any]) -> dict[str, Any]:
    return fhir.fhir_bundle(export)


# ----------------------------------------------------------------------------- the Bundle


def test_the_bundle_is_a_valid_r4b_collection(bundle: dict[str, Any]) -> None:
    parsed = Bundle.model_validate(bundle)

    assert parsed.type == "collection"
    assert parsed.identifier.system == "urn:ietf:rfc:3986"
    assert parsed.identifier.value.startswith("urn:uuid:")
    assert parsed.model_dump(mode="json") == bundle
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(url.startswith("urn:uuid:") for url in urls)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds.count("Patient") == 1
    assert kinds.count("QuestionnaireResponse") == 3
    assert kinds.count("Observation") == 4  # mood and craving, craving, mood
    assert kinds.count("Flag") == 2


def test_the_bundle_timestamp_is_the_export_time(export: dict[str, Any]) -> None:
    bundle = fhir.fhir_bundle(export)

    assert when(bundle["timestamp"]) == datetime.fromisoformat(export["exported_at"])


def test_every_reference_resolves_to_the_patient_of_the_bundle(bundle: dict[str, Any]) -> None:
    [patient] = resources(bundle, "Patient")
    referring = [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] != "Patient"
    ]
    assert len(referring) == 9
    for resource in referring:
        assert resolve(bundle, resource["subject"]) is patient


def test_nothing_of_another_patient(bundle: dict[str, Any]) -> None:
    text = json.dumps(bundle, ensure_ascii=False)
    assert "not in this record" not in text
    assert "someone-else" not in text


# ----------------------------------------------------------------------------- the patient


def test_the_patient_is_its_sender_id_and_a_short_id(bundle: dict[str, Any], sender_id: str):
    [patient] = resources(bundle, "Patient")

    assert patient == {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:companion:patient", "value": sender_id}],
        "name": [{"use": "anonymous", "text": sender_id[:10]}],
    }
    [response, *_] = resources(bundle, "QuestionnaireResponse")
    assert response["subject"]["display"] == sender_id[:10]


def test_the_clinics_label_names_the_patient_when_there_is_one(export: dict[str, Any]) -> None:
    bundle = fhir.fhir_bundle({**export, "label": "Tuesday group, J."})

    [patient] = resources(bundle, "Patient")
    assert patient["name"] == [{"use": "anonymous", "text": "Tuesday group, J."}]
    assert export["patient"][2:10] not in json.dumps(patient["name"])


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ({"patient": "p-AbCdEfGhIjKlMnOp", "label": "Room 4 / Sam"}, "Room 4 / Sam"),
        ({"patient": "p-AbCdEfGhIjKlMnOp", "label": "  Sam  "}, "Sam"),
        ({"patient": "p-AbCdEfGhIjKlMnOp"}, "p-AbCdEfGh"),
        ({"patient": "p-AbCdEfGhIjKlMnOp", "label": None}, "p-AbCdEfGh"),
        ({"patient": "p-AbCdEfGhIjKlMnOp", "label": "   "}, "p-AbCdEfGh"),
        ({"patient": "p-Ab"}, "p-Ab"),
        ({"patient": "demo-7-long-sender"}, "demo-7-l"),
    ],
)
def test_patient_display_name(given: dict[str, Any], name: str) -> None:
    assert fhir.patient_display_name(given) == name


# ----------------------------------------------------------------------------- entries


def test_one_questionnaire_response_per_entry(bundle: dict[str, Any], export: dict[str, Any]):
    found = resources(bundle, "QuestionnaireResponse")

    assert [r["identifier"]["value"] for r in found] == [
        f"{export['patient']}/{entry['number']}" for entry in export["entries"]
    ]
    assert [r["questionnaire"] for r in found] == [
        "urn:companion:questionnaire:integration",
        "urn:companion:questionnaire:trigger",
        "urn:companion:questionnaire:checkin",
    ]
    assert [r["status"] for r in found] == ["completed", "completed", "in-progress"]
    assert [when(r["authored"]) for r in found] == [
        datetime.fromisoformat(entry["created_at"]) for entry in export["entries"]
    ]


def test_a_reflections_answers_verbatim_in_question_order(bundle: dict[str, Any]) -> None:
    reflection = resources(bundle, "QuestionnaireResponse")[0]

    assert [(i["linkId"], i["text"]) for i in reflection["item"]] == [
        ("session_date", "Session date"),
        ("stood_out", "What stood out"),
        ("feelings", "Feelings and sensations"),
        ("intention", "Intention"),
        ("mood", "Mood"),
        ("craving", "Craving"),
    ]
    answered = items(reflection)
    assert answered["session_date"]["answer"] == [{"valueDate": "2026-03-01"}]
    assert answered["stood_out"]["answer"] == [{"valueString": HTML}]
    assert answered["feelings"]["answer"] == [{"valueString": NOTE}]
    assert answered["intention"]["answer"] == [{"valueString": PADDED}]
    assert answered["mood"]["answer"] == [{"valueInteger": 4}]
    assert answered["craving"]["answer"] == [{"valueInteger": 7}]


def test_a_trigger_entrys_lists_codes_and_urge_surfing(bundle: dict[str, Any]) -> None:
    trigger = resources(bundle, "QuestionnaireResponse")[1]

    assert [item["linkId"] for item in trigger["item"]] == [
        "trigger_kind",
        "lapse_date",
        "craving",
        "trigger_types",
        "trigger_types_text",
        "context",
        "urge_surfing",
    ]
    answered = items(trigger)
    assert answered["trigger_kind"]["answer"] == [
        {
            "valueCoding": {
                "system": "urn:companion:trigger-kind",
                "code": "lapse",
                "display": "Slip",
            }
        }
    ]
    assert answered["lapse_date"]["answer"] == [{"valueDate": "2026-03-02"}]
    assert answered["craving"]["answer"] == [{"valueInteger": 9}]
    assert answered["trigger_types"]["text"] == "Trigger types"
    assert answers(answered["trigger_types"]) == ["people", "places"]
    assert answers(answered["trigger_types_text"]) == ["my old friends, the bar"]
    assert answers(answered["context"]) == [FORMULA]  # no spreadsheet apostrophe here
    surfing = answered["urge_surfing"]
    assert "answer" not in surfing
    assert [(i["linkId"], i["text"], answers(i)) for i in surfing["item"]] == [
        ("urge_surfing.before", "Urge before", [9]),
        ("urge_surfing.location", "Where you felt it", ["@throat"]),
        ("urge_surfing.change", "What you noticed", ["it eased"]),
        ("urge_surfing.after", "Urge after", [5]),
    ]
    assert surfing["item"][0]["answer"] == [{"valueInteger": 9}]


def test_a_partial_check_in(bundle: dict[str, Any]) -> None:
    checkin = resources(bundle, "QuestionnaireResponse")[2]

    assert checkin["status"] == "in-progress"
    assert [(i["linkId"], answers(i)) for i in checkin["item"]] == [
        ("mood", [6]),
        ("note", [ARABIC]),
    ]


def test_unanswered_and_unknown_fields() -> None:
    bundle = fhir.fhir_bundle(
        {
            "patient": "p-handmade0001",
            "entries": [
                {
                    "number": 1,
                    "kind": "checkin",
                    "status": "interrupted",
                    "created_at": "2026-03-01T10:00:00+00:00",
                    "session_date": None,
                    "mood": None,
                    "craving": 0,
                    "fields": {
                        "trigger_kind": " not one of the kinds ",
                        "note": "",
                        "extra_thing": {"a": None},
                        "later_key": [3, "x"],
                    },
                }
            ],
        }
    )

    [response] = resources(bundle, "QuestionnaireResponse")
    assert response["status"] == "in-progress"
    assert [(i["linkId"], i["text"], i["answer"]) for i in response["item"]] == [
        ("craving", "Craving", [{"valueInteger": 0}]),
        ("trigger_kind", "Kind", [{"valueString": " not one of the kinds "}]),
        ("later_key", "Later key", [{"valueInteger": 3}, {"valueString": "x"}]),
    ]
    [observation] = resources(bundle, "Observation")
    assert observation["valueInteger"] == 0


def test_a_record_fhir_cannot_hold_is_refused_not_exported() -> None:
    entry = {"number": 1, "kind": "checkin", "status": "complete", "created_at": "yesterday"}

    with pytest.raises(ValidationError, match="authored"):
        fhir.fhir_bundle({"patient": "p-handmade0002", "entries": [entry]})


def test_the_bytes_keep_characters_as_typed(export: dict[str, Any]) -> None:
    body = fhir.fhir_json_bytes(export)

    assert body.endswith(b"\n")
    assert "Slept well 😴".encode() in body
    assert "walk — 散步".encode() in body
    assert ARABIC.encode() in body
    Bundle.model_validate_json(body)


# ----------------------------------------------------------------------------- ratings


def test_mood_and_craving_observations(bundle: dict[str, Any]) -> None:
    found = []
    for observation in resources(bundle, "Observation"):
        assert observation["status"] == "final"
        assert observation["category"] == [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                        "display": "Survey",
                    }
                ]
            }
        ]
        [coding] = observation["code"]["coding"]
        assert coding["system"] == "urn:companion:rating"
        assert observation["code"]["text"] == fhir.RATINGS[coding["code"]]
        [source] = observation["derivedFrom"]
        response = resolve(bundle, source)
        assert response["resourceType"] == "QuestionnaireResponse"
        assert observation["effectiveDateTime"] == response["authored"]
        number = int(response["identifier"]["value"].rsplit("/", 1)[1])
        found.append((number, coding["code"], observation["valueInteger"]))
    assert found == [(1, "mood", 4), (1, "craving", 7), (2, "craving", 9), (3, "mood", 6)]


def test_ratings_use_no_loinc_code(bundle: dict[str, Any]) -> None:
    assert "loinc" not in json.dumps(bundle).lower()


# ----------------------------------------------------------------------------- measures

MEASURE_CASES = [
    (
        "phq9",
        14,
        "44261-6",
        "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    ),
    (
        "gad7",
        21,
        "70274-6",
        "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    ),
    ("audit_c", 0, "75626-2", "Total score [AUDIT-C]"),
]


@pytest.mark.parametrize(("measure", "total", "code", "display"), MEASURE_CASES)
def test_measure_observation(measure: str, total: int, code: str, display: str) -> None:
    completed = datetime(2026, 3, 4, 9, 15, tzinfo=timezone(timedelta(hours=-5)))

    observation = fhir.measure_observation(measure, total, completed, "urn:uuid:patient-1")

    Observation.model_validate(observation)
    assert observation["code"]["coding"] == [
        {"system": "http://loinc.org", "code": code, "display": display}
    ]
    assert observation["valueInteger"] == total
    assert observation["status"] == "final"
    assert observation["category"][0]["coding"][0]["code"] == "survey"
    assert observation["subject"] == {"reference": "urn:uuid:patient-1"}
    assert when(observation["effectiveDateTime"]) == completed


@pytest.mark.parametrize(
    ("measure", "total", "completed", "error"),
    [
        ("phq9", 28, datetime(2026, 3, 4, tzinfo=UTC), ValueError),
        ("gad7", -1, datetime(2026, 3, 4, tzinfo=UTC), ValueError),
        ("audit_c", 13, datetime(2026, 3, 4, tzinfo=UTC), ValueError),
        ("phq2", 3, datetime(2026, 3, 4, tzinfo=UTC), ValueError),
        ("phq9", True, datetime(2026, 3, 4, tzinfo=UTC), TypeError),
        ("phq9", "7", datetime(2026, 3, 4, tzinfo=UTC), TypeError),
        ("phq9", 7, datetime(2026, 3, 4), ValueError),
    ],
)
def test_measure_observation_refuses(
    measure: str, total: Any, completed: datetime, error: type[Exception]
) -> None:
    with pytest.raises(error):
        fhir.measure_observation(measure, total, completed, "urn:uuid:patient-1")


def test_measures_in_the_export_become_observations(export: dict[str, Any]) -> None:
    measures = [
        {"measure": name, "total": total, "completed_at": f"2026-03-0{day}T10:00:00+00:00"}
        for day, (name, total, _, _) in enumerate(MEASURE_CASES, start=4)
    ]

    bundle = fhir.fhir_bundle({**export, "measures": measures})

    Bundle.model_validate(bundle)
    [patient] = resources(bundle, "Patient")
    loinc = [
        observation
        for observation in resources(bundle, "Observation")
        if observation["code"]["coding"][0]["system"] == "http://loinc.org"
    ]
    assert [(o["code"]["coding"][0]["code"], o["valueInteger"]) for o in loinc] == [
        (code, total) for _, total, code, _ in MEASURE_CASES
    ]
    assert [when(o["effectiveDateTime"]).day for o in loinc] == [4, 5, 6]
    assert all(resolve(bundle, o["subject"]) is patient for o in loinc)


# ----------------------------------------------------------------------------- risk flags


def test_flags_carry_level_category_and_times(bundle: dict[str, Any], export: dict[str, Any]):
    open_flag, seen_flag = export["risk_flags"]
    assert open_flag["message_count"] == 2  # the later message was folded into the first flag

    flags = resources(bundle, "Flag")

    assert [flag["status"] for flag in flags] == ["active", "inactive"]
    assert [flag["code"]["text"] for flag in flags] == ["Urgent: crisis", "Elevated: overdose"]
    assert [flag["code"]["coding"][0]["code"] for flag in flags] == ["urgent", "elevated"]
    assert [flag["identifier"][0]["value"] for flag in flags] == [
        str(open_flag["id"]),
        str(seen_flag["id"]),
    ]
    assert when(flags[0]["period"]["start"]) == datetime.fromisoformat(open_flag["created_at"])
    assert "end" not in flags[0]["period"]
    assert when(flags[1]["period"]["end"]) == datetime.fromisoformat(seen_flag["acknowledged_at"])


def test_no_words_of_the_flags_in_the_bundle(export: dict[str, Any]) -> None:
    flagged = [export["risk_flags"][0]["message"], export["risk_flags"][1]["message"]]
    flagged += [m["text"] for m in export["risk_flags"][0]["latest_messages"]]
    assert flagged == [FLAG_FIRST, FLAG_SEEN, FLAG_LATER]

    body = fhir.fhir_json_bytes(export).decode()

    for words in (*flagged, "flag words", "dr@clinic.example", "detector"):
        assert words not in body


# ----------------------------------------------------------------------------- the command line


@pytest.mark.slow
def test_export_fhir_on_the_command_line(sender_id: str, database_url: str) -> None:
    db.reset_engines()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--patient", sender_id, "--format", "fhir"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONPATH": str(PROJECT_ROOT),
            # An ASCII-only locale must not turn the patient's words into escapes.
            "PYTHONIOENCODING": "ascii",
        },
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "散步" in result.stdout
    assert "\\u" not in result.stdout
    bundle = json.loads(result.stdout)
    Bundle.model_validate(bundle)
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == sender_id
    responses = resources(bundle, "QuestionnaireResponse")
    assert [items(r)["mood"]["answer"] for r in responses if "mood" in items(r)] == [
        [{"valueInteger": 4}],
        [{"valueInteger": 6}],
    ]
    assert answers(items(responses[0])["stood_out"]) == [HTML]
    assert FLAG_FIRST not in result.stdout
    assert "not in this record" not in result.stdout
