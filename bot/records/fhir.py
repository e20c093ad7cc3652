"""One patient's record as a FHIR Bundle, so that a clinic can move it into its EHR.

The Bundle is a ``collection`` built and validated with the ``fhir.resources`` models of
FHIR **R4B** (4.3.0, ``fhir.resources.R4B``): the 8.x library's default models are R5, which
most EHRs do not read yet, and it ships no separate R4 (4.0.1) models. R4B changed only the
medication-regulation, evidence and subscription resources; Patient, QuestionnaireResponse,
Observation, Flag and Bundle are the same as in R4 in every element used here, so an R4
server reads the Bundle as it is.

It starts from the dict :func:`bot.journal.entries.export_patient` returns (the same one the
CSV and JSON exports write) and holds:

- one ``Patient``, with no name or contact detail (none is stored): its ``identifier`` is the
  sender id (system :data:`PATIENT_SYSTEM`), because that is the key the clinic already holds
  for the patient (``python -m bot patient invite`` prints it, the dashboard's patient pages
  are addressed by it) and the only way to join this record to the right chart. Its
  ``name`` is an ``anonymous`` alias, :func:`patient_display_name`: the clinic's label for
  the patient, or a short id;
- one ``QuestionnaireResponse`` per journal entry: one item per answered question, its
  ``linkId`` the field key of :mod:`bot.journal.schema` (``urge_surfing.before`` for the
  parts of a field kept as a dict), its ``text`` the label the care team reads on the
  dashboard, and the patient's words verbatim (that is the point of the export); then one
  item per question the care team wrote for that reflection and the patient answered
  (``linkId`` ``care-team-question-<id>``, ``text`` the question as written);
- one ``Observation`` per 0 to 10 rating of an entry (mood, craving), derived from the
  entry's QuestionnaireResponse. No LOINC code is known to mean these self-ratings, so they
  are coded in a local code system (:data:`RATING_SYSTEM`) rather than with a guessed one;
- one ``Observation`` per validated measure (PHQ-9, GAD-7, AUDIT-C) in the dict's
  ``measures``, with its LOINC code (:data:`MEASURES`, :func:`measure_observation`);
- one ``Flag`` per risk flag: its level, category and when it was raised and seen, never
  the patient's message (see :func:`_flag`).

The models are imported only when a Bundle is made (as WeasyPrint is for the PDF), so that
the command line stays fast for every other command.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from bot.journal import schema
from bot.journal.lapse_details import LAPSE_DATE_FIELD
from bot.records.views import LEVEL_LABELS, display_name

__all__ = [
    "BUNDLE_IDENTIFIER_SYSTEM",
    "ENTRY_SYSTEM",
    "FLAG_SYSTEM",
    "LOINC",
    "MEASURES",
    "PATIENT_SYSTEM",
    "QUESTIONNAIRE_PREFIX",
    "RATINGS",
    "RATING_SYSTEM",
    "RISK_LEVEL_SYSTEM",
    "Measure",
    "fhir_bundle",
    "fhir_json_bytes",
    "measure_observation",
    "patient_display_name",
    "write_fhir_json",
]

#: The patient's sender id: the key the clinic holds for them.
PATIENT_SYSTEM = "urn:companion:patient"
#: A journal entry: ``<sender id>/<entry number>``, the same in every export of the record,
#: so that an EHR importing a later export can tell the entries it already has.
ENTRY_SYSTEM = "urn:companion:journal-entry"
#: A risk flag: its id, as the dashboard and the JSON export show it.
FLAG_SYSTEM = "urn:companion:risk-flag"
#: The form an entry answers: this and the entry's kind (``…:checkin``).
QUESTIONNAIRE_PREFIX = "urn:companion:questionnaire:"
#: The local code system of the companion's 0 to 10 self-ratings.
RATING_SYSTEM = "urn:companion:rating"
#: A risk flag's level (urgent, elevated, info, request).
RISK_LEVEL_SYSTEM = "urn:companion:risk-level"
#: The Bundle's own identifier is a ``urn:uuid:`` URI, new for every export.
BUNDLE_IDENTIFIER_SYSTEM = "urn:ietf:rfc:3986"
LOINC = "http://loinc.org"
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

#: The 0 to 10 ratings kept in an entry's own columns, and what the patient was asked
#: (``domain.yml``): an EHR shows the text, and the scale's ends are what make it readable.
RATINGS: dict[str, str] = {
    "mood": "Mood, self-rated from 0 (very low) to 10 (very good)",
    "craving": "Craving, self-rated from 0 (none) to 10 (the strongest)",
}

#: Entry statuses: a complete entry answered its form; a partial one (the patient stopped
#: and kept what they wrote) and an interrupted one (a crisis message ended the form) did not.
_QUESTIONNAIRE_STATUS: dict[str, str] = {
    "complete": "completed",
    "partial": "in-progress",
    "interrupted": "in-progress",
}

#: Fields holding an ISO date (``2026-03-01``), answered as ``valueDate``.
_DATE_KEYS: frozenset[str] = frozenset({"session_date", LAPSE_DATE_FIELD})


@dataclass(frozen=True)
class Measure:
    """A validated questionnaire whose total score has a LOINC code."""

    #: The LOINC code of the total score.
    code: str
    #: LOINC's long common name for it.
    display: str
    #: The highest total the questionnaire gives (the lowest is 0).
    max_total: int


#: The validated measures whose total scores have a LOINC code, keyed by the name a
#: ``measures`` item of the export gives (``{"measure": "phq9", "total": 7, "completed_at": …}``).
MEASURES: dict[str, Measure] = {
    "phq9": Measure(
        "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", 27
    ),
    "gad7": Measure(
        "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]", 21
    ),
    "audit_c": Measure("75626-2", "Total score [AUDIT-C]", 12),
}


# ----------------------------------------------------------------------------- the patient


def patient_display_name(export: Mapping[str, Any]) -> str:
    """How the Bundle names the patient: as the dashboard does (:func:`display_name`), the
    clinic's label for them when the export has one (``export["label"]``), otherwise a short
    id. Nothing else about the patient is known, and nothing else is wanted."""
    label = export.get("label")
    return display_name(label.strip() if isinstance(label, str) else None, export["patient"])


def _patient(export: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_SYSTEM, "value": _text(export["patient"])}],
        # An alias, not a name: HumanName's "anonymous" use is for exactly this.
        "name": [{"use": "anonymous", "text": _text(patient_display_name(export))}],
    }


# ----------------------------------------------------------------------------- answers


def _text(value: str) -> str:
    """``value`` as a FHIR string: verbatim, except lone surrogates (which no UTF-8 can hold,
    and which the CSV and JSON exports write as backslash escapes too)."""
    return value.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _label(key: str) -> str:
    return schema.STAFF_LABELS.get(key) or key.replace("_", " ").capitalize()


def _answer(key: str, value: Any) -> dict[str, Any] | None:
    """One answer to the question ``key``; ``None`` for no answer (FHIR has no empty string)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    if isinstance(value, str):
        if not value:
            return None
        if key in _DATE_KEYS:
            try:
                return {"valueDate": date.fromisoformat(value).isoformat()}
            except ValueError:
                pass
        if value in schema.VALUE_LABELS.get(key, {}):
            # One of a few values ("lapse"): a coding, with the label the care team reads.
            system = f"urn:companion:{key.replace('_', '-')}"
            display = schema.VALUE_LABELS[key][value]
            return {"valueCoding": {"system": system, "code": value, "display": display}}
        return {"valueString": _text(value)}
    return {"valueString": _text(json.dumps(value, ensure_ascii=False))}


def _item(link_id: str, key: str, value: Any, label: str) -> dict[str, Any] | None:
    """The item answering ``key``: answers, or items of its own for a dict (urge surfing)."""
    item: dict[str, Any] = {"linkId": _text(link_id), "text": _text(label)}
    if isinstance(value, Mapping):
        order = [k for k in schema.URGE_SURFING_KEYS if k in value] if key == "urge_surfing" else []
        order += [str(k) for k in value if k not in order]
        parts = [_item(f"{link_id}.{k}", k, value[k], _label(k)) for k in order]
        item["item"] = [part for part in parts if part is not None]
        return item if item["item"] else None
    values = value if isinstance(value, list) else [value]
    answers = [_answer(key, one) for one in values]
    item["answer"] = [answer for answer in answers if answer is not None]
    return item if item["answer"] else None


def _answers(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's answers by field key: its rating and date columns, then its fields."""
    answers = {key: entry[key] for key in schema.COLUMNS if entry.get(key) is not None}
    for key, value in (entry.get("fields") or {}).items():
        answers.setdefault(key, value)
    return answers


def _items(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One item per answered question, in the order the form asks them, then any others."""
    answers = _answers(entry)
    try:
        declared = [one.key for one in schema.kind(entry["kind"]).fields]
    except KeyError:
        declared = []
    keys = [key for key in declared if key in answers]
    keys += [key for key in answers if key not in keys]
    items = [_item(key, key, answers[key], _label(key)) for key in keys]
    return [item for item in items if item is not None]


# ----------------------------------------------------------------------------- resources


def _reference(full_url: str, display: str | None = None) -> dict[str, str]:
    reference = {"reference": full_url}
    if display is not None:
        reference["display"] = _text(display)
    return reference


def _survey() -> list[dict[str, Any]]:
    coding = {"system": _OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}
    return [{"coding": [coding]}]


def _questionnaire_response(
    entry: Mapping[str, Any], sender_id: str, subject: dict[str, str]
) -> dict[str, Any]:
    kind = str(entry["kind"])
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": ENTRY_SYSTEM, "value": _text(f"{sender_id}/{entry['number']}")},
        "questionnaire": QUESTIONNAIRE_PREFIX + kind,
        "status": _QUESTIONNAIRE_STATUS.get(entry["status"], "in-progress"),
        "subject": subject,
        "authored": entry["created_at"],
    }
    items = _items(entry) + _care_team_items(entry)
    if items:
        resource["item"] = items
    return resource


def _care_team_items(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The care team's own questions the reflection asked, after the form's, each with the
    patient's answer; a skipped one has no answer, so no item (as for any question)."""
    items = []
    for asked in entry.get("care_team_questions") or ():
        link_id = f"care-team-question-{asked['id']}"
        item = _item(link_id, "care_team_question", asked.get("answer"), str(asked["question"]))
        if item is not None:
            items.append(item)
    return items


def _rating_observation(
    key: str, value: int, entry: Mapping[str, Any], subject: dict[str, str], response: str
) -> dict[str, Any]:
    coding = {"system": RATING_SYSTEM, "code": key, "display": key.capitalize()}
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": _survey(),
        "code": {"coding": [coding], "text": RATINGS[key]},
        "subject": subject,
        "effectiveDateTime": entry["created_at"],
        "valueInteger": value,
        "derivedFrom": [_reference(response)],
    }


def _measure_resource(
    measure: str, total: int, when: datetime, subject: dict[str, str]
) -> dict[str, Any]:
    known = MEASURES.get(measure)
    if known is None:
        raise ValueError(f"unknown measure {measure!r}; expected one of {tuple(MEASURES)}")
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError(f"a {measure} total must be an int, not {type(total).__name__}")
    if not 0 <= total <= known.max_total:
        raise ValueError(f"a {measure} total is between 0 and {known.max_total}, got {total}")
    if when.tzinfo is None:
        # A FHIR dateTime with a time needs its zone, and the zone a naive time meant is unknown.
        raise ValueError("when must be timezone-aware")
    coding = {"system": LOINC, "code": known.code, "display": known.display}
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": _survey(),
        "code": {"coding": [coding], "text": known.display},
        "subject": subject,
        "effectiveDateTime": when.isoformat(),
        "valueInteger": total,
    }


def measure_observation(
    measure: str, total: int, when: datetime, patient_ref: str
) -> dict[str, Any]:
    """A validated measure's total score as a FHIR R4B Observation (a JSON-ready dict).

    ``measure`` is a key of :data:`MEASURES` (``phq9``, ``gad7``, ``audit_c``), coded with its
    LOINC code; ``total`` must be within the measure's range, ``when`` (when it was completed)
    timezone-aware; ``patient_ref`` is the Patient's reference (its ``fullUrl`` in a Bundle).
    """
    from fhir.resources.R4B.observation import Observation

    resource = _measure_resource(measure, total, when, _reference(patient_ref))
    return Observation.model_validate(resource).model_dump(mode="json")


def _flag(flag: Mapping[str, Any], subject: dict[str, str]) -> dict[str, Any]:
    """A risk flag as a FHIR Flag: its level and category, when it was raised, and whether
    (and when) the care team has seen it.

    Its messages are left out on purpose (minimum necessary): they are what the patient
    wrote in the chat, not in their journal, and the flag's meaning for the record is that a
    risk was raised and when; the clinic reads the words on the dashboard if it needs them.
    Who acknowledged it (a staff e-mail) and which detector raised it stay out too.
    """
    level = str(flag["level"])
    category = flag.get("category") or "crisis"
    text = f"{LEVEL_LABELS.get(level, level.capitalize())}: {category.replace('_', ' ')}"
    period = {"start": flag["created_at"]}
    if flag.get("acknowledged_at"):
        period["end"] = flag["acknowledged_at"]
    return {
        "resourceType": "Flag",
        "identifier": [{"system": FLAG_SYSTEM, "value": str(flag["id"])}],
        "status": "inactive" if flag.get("acknowledged_at") else "active",
        "code": {"coding": [{"system": RISK_LEVEL_SYSTEM, "code": level}], "text": _text(text)},
        "subject": subject,
        "period": period,
    }


# ----------------------------------------------------------------------------- the Bundle


def _new_url() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _resources(export: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every resource of the Bundle with its ``fullUrl``, the Patient first."""
    sender_id: str = export["patient"]
    patient_url = _new_url()
    subject = _reference(patient_url, patient_display_name(export))
    resources = [(patient_url, _patient(export))]
    for entry in export.get("entries") or ():
        response_url = _new_url()
        resources.append((response_url, _questionnaire_response(entry, sender_id, subject)))
        for key in RATINGS:
            value = entry.get(key)
            if value is not None:
                observation = _rating_observation(key, value, entry, subject, response_url)
                resources.append((_new_url(), observation))
    for measure in export.get("measures") or ():
        when = datetime.fromisoformat(measure["completed_at"])
        resource = _measure_resource(measure["measure"], measure["total"], when, subject)
        resources.append((_new_url(), resource))
    for flag in export.get("risk_flags") or ():
        resources.append((_new_url(), _flag(flag, subject)))
    return resources


def fhir_bundle(export: Mapping[str, Any]) -> dict[str, Any]:
    """The patient's record as a FHIR R4B ``collection`` Bundle, validated, as JSON-ready data.

    ``export`` is :func:`bot.journal.entries.export_patient`'s dict: ``patient`` (the sender
    id) is required; ``entries``, ``risk_flags``, ``exported_at`` (the Bundle's timestamp),
    ``label`` and ``measures`` are read when present. The Bundle is validated by its
    ``fhir.resources`` model, each entry's resource by the model of its type; an invalid one
    raises pydantic's ``ValidationError`` rather than reaching a clinic's EHR.
    """
    from fhir.resources.R4B.bundle import Bundle

    exported_at = export.get("exported_at") or datetime.now(UTC).isoformat()
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "identifier": {"system": BUNDLE_IDENTIFIER_SYSTEM, "value": _new_url()},
            "type": "collection",
            "timestamp": exported_at,
            "entry": [
                {"fullUrl": url, "resource": resource} for url, resource in _resources(export)
            ],
        }
    )
    return bundle.model_dump(mode="json")


def write_fhir_json(export: Mapping[str, Any], stream: IO[str]) -> None:
    """The Bundle as pretty JSON, every character as typed (like the JSON export)."""
    json.dump(fhir_bundle(export), stream, ensure_ascii=False, indent=2)
    stream.write("\n")


def fhir_json_bytes(export: Mapping[str, Any]) -> bytes:
    """The Bundle as UTF-8 JSON: the same text ``python -m bot export --format fhir`` prints."""
    buffer = io.StringIO()
    write_fhir_json(export, buffer)
    return buffer.getvalue().encode("utf-8", errors="backslashreplace")
