"""Validated measures on the dashboard (bot/web/dashboard/measures.py) over HTTP against a real
uvicorn process and a seeded database (SQLite and PostgreSQL): scheduling and cancelling,
what is due on the patients list, results with their chart and item 9, scope and audit."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pypdf
import pytest
from servers import Browser, SeededServer
from sqlalchemy import select

from bot.journal import measure_records
from bot.storage import db
from bot.storage.models import AuditEvent, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def page(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def post(browser: Browser, path: str, **form: str):
    token = _TOKEN.search(browser.get(page(path.split("/")[3])).text).group(1)
    return browser.post(path, data={"csrf_token": token, **form})


def last_audit(action: str, actor: str) -> AuditEvent:
    with db.session_scope(write=False) as session:
        return session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.actor == actor)
            .order_by(AuditEvent.id.desc())
        ).first()


def test_scheduling_shows_it_due_on_the_page_and_the_list(harbour: Browser, web: SeededServer):
    steady = web.info.steady
    done = post(harbour, f"{page(steady)}/measures", measure="gad7", repeat="14", start="")

    assert done.status_code == 303 and done.headers["Location"].endswith(
        "?measures=scheduled#measures"
    )
    (plan,) = [p for p in measure_records.schedules_of(steady) if p.measure == "gad7"]
    assert (plan.every_days, plan.due_on, plan.created_by) == (
        14,
        utcnow().date(),
        web.info.therapist.email,
    )
    text = harbour.get(page(steady)).text
    assert f'id="measure-schedule-{plan.id}"' in text and "GAD-7 every 14 days" in text
    assert "<strong>due now</strong>" in text
    listing = harbour.get("/therapist/").text
    row = listing[listing.index(f"/therapist/patients/{steady}") :]
    assert '<span class="badge measure-due">GAD-7 due</span>' in row[: row.index("</tr>")]
    assert last_audit("schedule_measure", web.info.therapist.email).detail == {
        "measure": "gad7",
        "every_days": 14,
        "due_on": utcnow().date().isoformat(),
    }

    cancelled = post(harbour, f"{page(steady)}/measures/{plan.id}/cancel")
    assert cancelled.status_code == 303
    assert f'id="measure-schedule-{plan.id}"' not in harbour.get(page(steady)).text
    assert "GAD-7 due" not in harbour.get("/therapist/").text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"measure": "bdi", "repeat": "once"}, "Unknown measure"),
        ({"measure": "phq9", "repeat": "7"}, "Choose how often"),
        ({"measure": "phq9", "repeat": "once", "start": "not-a-day"}, "Give a valid day."),
        ({"measure": "phq9", "repeat": "once", "start": "2001-01-01"}, "today or a day within"),
    ],
)
def test_a_schedule_that_cannot_be_kept_says_why(
    harbour: Browser, web: SeededServer, form: dict[str, str], message: str
):
    before = len(measure_records.schedules_of(web.info.newcomer))
    response = post(harbour, f"{page(web.info.newcomer)}/measures", **form)
    assert response.status_code == 400 and message in response.text
    assert len(measure_records.schedules_of(web.info.newcomer)) == before


def test_results_show_with_their_chart_severity_and_item_nine(harbour: Browser, web: SeededServer):
    main = web.info.main
    measure_records.save_result(main, "phq9", [2, 2, 2, 2, 1, 1, 1, 1, 0])
    measure_records.save_result(main, "phq9", [1, 1, 1, 0, 0, 0, 0, 0, 1])

    text = harbour.get(page(main)).text
    section = text[text.index('<section id="measures"') :]
    section = section[: section.index("</section>")]
    assert '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 150" role="img"' in section
    assert "PHQ-9: 2 results, latest 4 of 27 (minimal)" in section
    assert "12 / 27" in section and "moderate" in section
    assert re.search(r'class="safety-item">.*?4 / 27.*?Item 9 above 0', section, re.S)
    pdf = harbour.get(page(main) + "/export.pdf")
    assert pdf.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    printed = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "PHQ-9: 4 / 27, minimal · item 9 above 0" in printed
    assert "PHQ-9: 12 / 27, moderate" in printed


def test_another_clinic_cannot_schedule_or_cancel(web: SeededServer):
    northside = Browser(web).sign_in(web.info.other_therapist)
    plan = measure_records.schedule(
        web.info.harbour.id,
        web.info.steady,
        "audit_c",
        by=web.info.therapist.email,
        start=utcnow().date() + timedelta(days=1),
    )
    token = _TOKEN.search(northside.get("/therapist/").text).group(1)
    for path, form in (
        (f"{page(web.info.steady)}/measures", {"measure": "phq9", "repeat": "once"}),
        (f"{page(web.info.steady)}/measures/{plan.id}/cancel", {}),
    ):
        assert northside.post(path, data={"csrf_token": token, **form}).status_code == 404
    assert any(p.id == plan.id and p.active for p in measure_records.schedules_of(web.info.steady))
