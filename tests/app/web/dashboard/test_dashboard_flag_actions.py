"""Acknowledging a risk flag with what was done, undoing it, and the follow-ups, over HTTP
against a real uvicorn process and a database filled by :mod:`dashboard_seed` (SQLite and
PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from html import unescape

import pytest
import requests
from servers import Browser, SeededServer, point_at, seeded_server
from sqlalchemy import select, text, update

from bot import encryption
from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import AuditEvent, FlagAction, Patient, RiskFlag, Therapist, utcnow

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "flag-actions-test-secret-0123456789abcdef0123456789abcdef"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
NOTE = "Reached her on the second try; <b>safe</b> at her sister's tonight."


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[..., str]
) -> Iterator[SeededServer]:
    directory = tmp_path_factory.mktemp("flag-actions")
    url = new_database(directory / "companion.db")
    with seeded_server(directory, SECRET, database_url=url) as running:
        yield running


@pytest.fixture
def web(server: SeededServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededServer]:
    yield from point_at(server, monkeypatch)


@pytest.fixture
def harbour(web: SeededServer) -> Browser:
    return Browser(web).sign_in(web.info.therapist)


def page_path(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def text_of(response: requests.Response) -> str:
    return unescape(re.sub(r"<[^>]+>", "", response.text))


def audit_rows(action: str, actor: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.actor == actor)
                .order_by(AuditEvent.id)
            )
        )


_patients = iter(range(10_000))


def flagged_patient(web: SeededServer, *, therapist: str | None = None) -> tuple[str, int]:
    """A new patient of harbour with one open urgent flag: (sender id, flag id)."""
    sender_id = f"p-act{next(_patients)}-{web.info.now:%H%M%S}"
    with db.session_scope() as session:
        assigned = None
        if therapist is not None:
            assigned = session.scalars(
                select(Therapist.id).where(Therapist.email == therapist)
            ).one()
        session.add(
            Patient(
                sender_id=sender_id,
                clinic_id=web.info.harbour.id,
                label=f"F.A. {sender_id[-6:]}",
                therapist_id=assigned,
            )
        )
    flag_id = journal.record_risk_flag(
        sender_id, message="I don't want to be here", category="suicide", source="test"
    )
    return sender_id, flag_id


def token_of(browser: Browser, path: str) -> str:
    return _TOKEN.search(browser.get(path).text).group(1)


def acknowledge(browser: Browser, sender_id: str, flag_id: int, **form: str) -> requests.Response:
    path = page_path(sender_id)
    data = {"csrf_token": token_of(browser, path), **form}
    return browser.post(f"{path}/flags/{flag_id}/acknowledge", data=data)


def action_rows(flag_id: int) -> list[FlagAction]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(FlagAction).where(FlagAction.flag_id == flag_id).order_by(FlagAction.id)
            )
        )


def flag_row(flag_id: int) -> RiskFlag:
    with db.session_scope(write=False) as session:
        return session.get(RiskFlag, flag_id)


# ----------------------------------------------------------------------------- acknowledging


def test_the_open_flag_offers_the_clinics_actions(harbour: Browser, web: SeededServer) -> None:
    sender_id, flag_id = flagged_patient(web)

    html = harbour.get(page_path(sender_id)).text

    article = html[html.index(f'id="flag-{flag_id}"') :]
    form = article[: article.index("</form>")]
    assert f'action="{page_path(sender_id)}/flags/{flag_id}/acknowledge"' in form
    assert re.findall(r'<option value="([^"]+)">', form) == [
        "Called the patient",
        "Safety plan reviewed",
        "Seen in session",
        "No action needed",
    ]
    assert '<select name="action" required>' in form
    assert 'name="note"' in form and 'type="date" name="follow_up"' in form


def test_acknowledging_stores_the_action_note_and_follow_up(
    harbour: Browser, web: SeededServer
) -> None:
    sender_id, flag_id = flagged_patient(web)
    due = (utcnow() + timedelta(days=2)).date()

    response = acknowledge(
        harbour,
        sender_id,
        flag_id,
        action="Safety plan reviewed",
        note=NOTE,
        follow_up=due.isoformat(),
    )

    assert response.status_code == 303
    assert (
        response.headers["Location"]
        == f"{page_path(sender_id)}?acknowledged={flag_id}#flag-{flag_id}"
    )
    (row,) = action_rows(flag_id)
    assert (row.action, row.note, row.follow_up) == ("Safety plan reviewed", NOTE, due)
    assert row.acknowledged_by == web.info.therapist.email
    flag = flag_row(flag_id)
    assert (flag.acknowledged_by, flag.acknowledged_at) == (
        row.acknowledged_by,
        row.acknowledged_at,
    )
    # Sealed at rest: the raw column is ciphertext that opens to the note.
    with db.get_engine().connect() as connection:
        raw = connection.execute(
            text("SELECT note FROM flag_actions WHERE id = :id"), {"id": row.id}
        ).scalar_one()
    assert encryption.is_sealed(raw) and "sister" not in raw
    # The audit row names the action and the date, never the note.
    audited = audit_rows("acknowledge_flag", web.info.therapist.email)[-1]
    assert audited.detail == {
        "flag_id": flag_id,
        "action": "Safety plan reviewed",
        "note": True,
        "follow_up": due.isoformat(),
    }
    assert "sister" not in repr(audited.detail)

    page = harbour.get(page_path(sender_id))
    article = page.text[page.text.index(f'id="flag-{flag_id}"') :]
    article = article[: article.index("</article>")]
    assert 'class="flag acknowledged' in page.text
    assert '<dd class="action">Safety plan reviewed</dd>' in article
    assert "&lt;b&gt;safe&lt;/b&gt;" in article and "<b>safe</b>" not in article  # text, not markup
    assert f'<time datetime="{due.isoformat()}">' in article
    assert f"Acknowledged by {web.info.therapist.email}" in unescape(article)

    (exported,) = harbour.get(page_path(sender_id) + "/export.json").json()["risk_flags"]
    assert (exported["action"], exported["action_note"], exported["follow_up"]) == (
        "Safety plan reviewed",
        NOTE,
        due.isoformat(),
    )
    flags_csv = harbour.get(page_path(sender_id) + "/export.flags.csv").content.decode("utf-8-sig")
    header = flags_csv.splitlines()[0].split(",")
    assert header[-3:] == ["action", "action_note", "follow_up"]
    assert "Safety plan reviewed" in flags_csv and due.isoformat() in flags_csv


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({}, "Choose what was done"),
        ({"action": "Sent a fruit basket"}, "Choose what was done"),
        ({"action": "Seen in session", "follow_up": "2020-01-01"}, "in the past"),
        ({"action": "Seen in session", "follow_up": "soon"}, "YYYY-MM-DD"),
        ({"action": "Seen in session", "note": "n" * 2001}, "at most 2000"),
    ],
)
def test_an_unknown_action_or_a_bad_date_is_refused(
    harbour: Browser, web: SeededServer, form: dict[str, str], problem: str
) -> None:
    sender_id, flag_id = flagged_patient(web)

    response = acknowledge(harbour, sender_id, flag_id, **form)

    assert response.status_code == 400
    assert problem in text_of(response)
    assert f'href="{page_path(sender_id)}#flag-{flag_id}"' in response.text
    assert flag_row(flag_id).acknowledged_at is None
    assert action_rows(flag_id) == []


def test_acknowledging_undoing_and_marking_done_need_the_forms_token(
    harbour: Browser, web: SeededServer
) -> None:
    sender_id, flag_id = flagged_patient(web)
    base = f"{page_path(sender_id)}/flags/{flag_id}"
    good = {"action": "Called the patient", "follow_up": utcnow().date().isoformat()}

    for path in ("/acknowledge", "/undo", "/follow-up/done"):
        forged = harbour.post(base + path, data={**good, "csrf_token": "forged"})
        missing = harbour.post(base + path, data=good)
        assert forged.status_code == missing.status_code == 403, path
    assert flag_row(flag_id).acknowledged_at is None and action_rows(flag_id) == []

    assert acknowledge(harbour, sender_id, flag_id, **good).status_code == 303
    for path in ("/undo", "/follow-up/done"):
        assert harbour.post(base + path, data={"csrf_token": "forged"}).status_code == 403
    (row,) = action_rows(flag_id)
    assert row.undone_at is None and row.follow_up_done_at is None
    denied = audit_rows("access_denied", web.info.therapist.email)[-2:]
    assert [r.detail.get("reason") for r in denied] == ["csrf", "csrf"]


def test_another_clinic_gets_the_ordinary_404(harbour: Browser, web: SeededServer) -> None:
    info = web.info
    sender_id, flag_id = flagged_patient(web)
    northside = Browser(web).sign_in(info.other_therapist)
    token = token_of(northside, "/therapist/")
    theirs = f"{page_path(sender_id)}/flags/{flag_id}"
    through_their_patient = f"{page_path(info.other)}/flags/{flag_id}"
    ours_through_theirs = f"{page_path(sender_id)}/flags/{info.other_flag_id}"

    for path in (theirs, through_their_patient):
        for action in ("/acknowledge", "/undo", "/follow-up/done"):
            response = northside.post(
                path + action, data={"csrf_token": token, "action": "Called the patient"}
            )
            assert response.status_code == 404, path + action
    own_token = token_of(harbour, "/therapist/")
    response = harbour.post(ours_through_theirs + "/undo", data={"csrf_token": own_token})
    assert response.status_code == 404
    assert flag_row(flag_id).acknowledged_at is None
    assert flag_row(info.other_flag_id).acknowledged_at is None
    assert action_rows(flag_id) == []
    rows = audit_rows("access_denied", info.other_therapist.email)[-6:]
    assert all(row.outcome == "denied" for row in rows)


# ----------------------------------------------------------------------------- undoing


def test_undo_opens_the_flag_again_is_audited_and_keeps_the_history(
    harbour: Browser, web: SeededServer
) -> None:
    info = web.info
    sender_id, flag_id = flagged_patient(web)
    assert (
        acknowledge(harbour, sender_id, flag_id, action="No action needed", note=NOTE).status_code
        == 303
    )
    path = page_path(sender_id)
    acknowledged_page = harbour.get(path).text
    assert f'action="{path}/flags/{flag_id}/undo"' in acknowledged_page

    admin = Browser(web).sign_in(info.admin)
    response = admin.post(
        f"{path}/flags/{flag_id}/undo", data={"csrf_token": token_of(admin, path)}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == f"{path}?reopened={flag_id}#flag-{flag_id}"
    assert flag_row(flag_id).acknowledged_at is None
    (row,) = action_rows(flag_id)
    assert (row.undone_by, row.note) == (info.admin.email, NOTE)
    audited = audit_rows("undo_acknowledgement", info.admin.email)[-1]
    assert (audited.target, audited.outcome) == (sender_id, "ok")
    assert audited.detail == {
        "flag_id": flag_id,
        "changed": True,
        "acknowledged_by": info.therapist.email,
        "action": "No action needed",
    }
    reopened = admin.get(response.headers["Location"].split("#")[0])
    body = text_of(reopened)
    assert "was undone: the flag is open again" in body
    article = reopened.text[reopened.text.index(f'id="flag-{flag_id}"') :]
    article = article[: article.index("</article>")]
    assert 'class="flag open' in reopened.text[reopened.text.index(f'id="flag-{flag_id}"') - 80 :]
    assert "Earlier acknowledgement, undone (1)" in article
    assert f"undone by {info.admin.email}" in unescape(article)
    # The list shows it as open again.
    listing = harbour.get("/therapist/?therapist=all&flagged=1").text
    assert page_path(sender_id) in listing

    # Undoing an open flag changes nothing, and says so in the audit log.
    again = admin.post(f"{path}/flags/{flag_id}/undo", data={"csrf_token": token_of(admin, path)})
    assert again.status_code == 303
    assert audit_rows("undo_acknowledgement", info.admin.email)[-1].detail["changed"] is False
    assert len(action_rows(flag_id)) == 1

    # Acknowledged again: the export holds both, the undone one first.
    assert acknowledge(harbour, sender_id, flag_id, action="Seen in session").status_code == 303
    (exported,) = harbour.get(path + "/export.json").json()["risk_flags"]
    assert exported["action"] == "Seen in session"
    assert [(a["action"], a["undone_by"]) for a in exported["acknowledgements"]] == [
        ("No action needed", info.admin.email),
        ("Seen in session", None),
    ]


# ----------------------------------------------------------------------------- follow-ups


def test_follow_ups_are_listed_overdue_first_and_marked_done(
    harbour: Browser, web: SeededServer
) -> None:
    info = web.info
    today = utcnow().date()
    late_patient, late_flag = flagged_patient(web, therapist=info.therapist.email)
    soon_patient, soon_flag = flagged_patient(web, therapist=info.therapist.email)
    admins_patient, admins_flag = flagged_patient(web, therapist=info.admin.email)
    for sender_id, flag_id, days in (
        (late_patient, late_flag, 0),
        (soon_patient, soon_flag, 3),
        (admins_patient, admins_flag, 1),
    ):
        due = (today + timedelta(days=days)).isoformat()
        response = acknowledge(
            harbour, sender_id, flag_id, action="Called the patient", follow_up=due
        )
        assert response.status_code == 303
    # The form refuses a date in the past, so the overdue one is moved back in the database.
    with db.session_scope() as session:
        session.execute(
            update(FlagAction)
            .where(FlagAction.flag_id == late_flag)
            .values(follow_up=today - timedelta(days=2))
        )

    mine = harbour.get("/therapist/").text
    assert audit_rows("view_patients", info.therapist.email)[-1].detail["follow_ups"] == 2
    everyone = harbour.get("/therapist/?therapist=all").text

    section = mine[mine.index('id="follow-ups"') : mine.index("</section>")]
    rows = re.findall(r'<tr class="follow-up( overdue)?" id="follow-up-(\d+)">', section)
    assert rows == [(" overdue", str(late_flag)), ("", str(soon_flag))]  # earliest due first
    late_row = section[section.index(f'id="follow-up-{late_flag}"') :]
    late_row = late_row[: late_row.index("</tr>")]
    assert "Overdue" in late_row and f"{page_path(late_patient)}#flag-{late_flag}" in late_row
    assert "Called the patient" in late_row
    soon_row = section[section.index(f'id="follow-up-{soon_flag}"') :]
    assert "Overdue" not in soon_row[: soon_row.index("</tr>")]
    # Every therapist's list has the administrator's patient's follow-up too.
    assert (
        f'id="follow-up-{admins_flag}"' in everyone and f'id="follow-up-{admins_flag}"' not in mine
    )
    # The patient page marks the overdue follow-up as well.
    late_page = harbour.get(page_path(late_patient)).text
    assert '<dd class="follow-up overdue">' in late_page

    token = _TOKEN.search(mine).group(1)
    done = harbour.post(
        f"{page_path(late_patient)}/flags/{late_flag}/follow-up/done?back=list",
        data={"csrf_token": token},
    )

    assert done.status_code == 303 and done.headers["Location"] == "/therapist/#follow-ups"
    (row,) = action_rows(late_flag)
    assert row.follow_up_done_by == info.therapist.email and row.follow_up_done_at is not None
    audited = audit_rows("follow_up_done", info.therapist.email)[-1]
    assert (audited.target, audited.detail) == (
        late_patient,
        {"flag_id": late_flag, "changed": True},
    )
    after = harbour.get("/therapist/").text
    assert f'id="follow-up-{late_flag}"' not in after and f'id="follow-up-{soon_flag}"' in after
    assert "done by" in text_of(harbour.get(page_path(late_patient)))
