"""The sessions panel on the patient page (bot/web/dashboard/sessions.py) over HTTP against a
real uvicorn process and a seeded database (SQLite and PostgreSQL): recording a session with
its CSRF token, a day told twice, deleting one, what the page lists, scope and audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from servers import Browser, SeededServer
from sqlalchemy import select

from bot.journal import session_calendar
from bot.storage import db
from bot.storage.models import AuditEvent, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def page(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def post(browser: Browser, sender_id: str, path: str, **form: str):
    token = _TOKEN.search(browser.get(page(sender_id)).text).group(1)
    return browser.post(f"{page(sender_id)}{path}", data={"csrf_token": token, **form})


def audits(action: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_record_list_and_delete_a_session(harbour: Browser, web: SeededServer) -> None:
    steady = web.info.steady
    day = utcnow().date() - timedelta(days=1)
    done = post(harbour, steady, "/sessions", day=day.isoformat(), at="09:30")
    assert done.status_code == 303
    assert done.headers["Location"].endswith("?sessions=recorded#sessions")
    (view,) = [s for s in session_calendar.recorded_sessions(steady) if s.session_on == day]
    assert (view.session_time, view.source, view.recorded_by) == (
        "09:30",
        "staff",
        web.info.therapist.email,
    )
    text = harbour.get(page(steady)).text
    assert f'id="session-{view.id}"' in text and "09:30" in text
    again = post(harbour, steady, "/sessions", day=day.isoformat())
    assert again.headers["Location"].endswith("?sessions=exists#sessions")
    assert audits("record_session")[-1].detail == {"session_on": day.isoformat(), "changed": False}

    bad = post(harbour, steady, "/sessions", day=day.isoformat(), at="9.30pm")
    assert bad.status_code == 400 and "HH:MM" in bad.text
    # Without the CSRF token nothing is recorded.
    assert harbour.post(f"{page(steady)}/sessions", data={"day": day.isoformat()}).status_code in (
        400,
        403,
    )

    gone = post(harbour, steady, f"/sessions/{view.id}/delete")
    assert gone.headers["Location"].endswith("?sessions=deleted#sessions")
    assert all(s.id != view.id for s in session_calendar.recorded_sessions(steady))
    assert audits("delete_session")[-1].target == steady


def test_another_clinic_cannot_record_or_delete(web: SeededServer) -> None:
    made = session_calendar.record_session(
        web.info.steady, utcnow().date() - timedelta(days=3), by="dr", source="staff"
    )
    assert made is not None
    northside = Browser(web).sign_in(web.info.other_therapist)
    token = _TOKEN.search(northside.get("/therapist/").text).group(1)
    for path, form in (
        (f"{page(web.info.steady)}/sessions", {"day": utcnow().date().isoformat()}),
        (f"{page(web.info.steady)}/sessions/{made[0].id}/delete", {}),
    ):
        assert northside.post(path, data={"csrf_token": token, **form}).status_code == 404
    assert any(s.id == made[0].id for s in session_calendar.recorded_sessions(web.info.steady))
