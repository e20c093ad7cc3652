"""Consent on the patient page and in the patient's own copy of their data: the version
agreed to and when, and the withdrawal (SQLite and PostgreSQL, a real uvicorn process)."""

from __future__ import annotations

import re

import pytest
from servers import Browser, SeededServer

from bot import patient_consent, patient_tokens
from bot.privacy import my_data

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_LINE = re.compile(r'<p class="hint" id="consent">(.*?)</p>', re.S)


def consent_line(browser: Browser, sender_id: str) -> str:
    found = _LINE.search(browser.get(f"/therapist/patients/{sender_id}").text)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_page_says_whether_and_when_the_patient_agreed(harbour: Browser, web: SeededServer):
    steady = web.info.steady
    patient_tokens.reset()
    clinic = patient_tokens.sender_clinic(steady)
    assert clinic is not None
    assert consent_line(harbour, steady).startswith("Consent: not given")

    agreed = patient_consent.record(steady, clinic, 1)
    assert agreed.agreed_at is not None
    line = consent_line(harbour, steady)
    assert line.startswith("Consent: v1 agreed ") and "withdrawn" not in line

    patient_consent.withdraw(steady)
    assert "withdrawn" in consent_line(harbour, steady)

    (record,) = my_data.export_document(steady)["consent"]
    assert record["version"] == 1
    assert record["agreed_at"] == agreed.agreed_at.isoformat()
    assert record["withdrawn_at"] is not None
