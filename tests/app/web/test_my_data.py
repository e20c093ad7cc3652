"""The patient's own data export (bot.privacy.my_data) through a real uvicorn web app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from data_rights_support import Person, make_person
from servers import base_environment, environment, point_at, serving, web_app_service
from sqlalchemy import select

from bot import patient_tokens
from bot.clinics import patients, registry
from bot.journal import entries as journal
from bot.journal import measure_records
from bot.privacy import erasure, my_data
from bot.runner import free_port
from bot.storage import db
from bot.storage.models import AuditEvent
from bot.web.my_data import MyDataExport

SECRET = "my-data-test-secret-0123456789abcdef0123456789abcdef"


class Served:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory: Path = tmp_path_factory.mktemp("my-data")
    port = free_port()
    env = {**base_environment(directory, port, SECRET), "COMPANION_NOTIFY_INTERVAL": "0"}
    with environment(env):
        db.reset_engines()
        registry.create("harbour", "Harbour Clinic", origins=["https://harbour.example"])
    db.reset_engines()
    with serving(web_app_service(port), env):
        yield Served(f"http://127.0.0.1:{port}", env)


@pytest.fixture
def web(server: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    yield from point_at(server, monkeypatch)


@pytest.fixture
def person(web: Served) -> Person:
    return make_person("harbour", "Export-5be1")


def fetch(url: str) -> requests.Response:
    return requests.get(url, timeout=30, allow_redirects=False)


def path_url(web: Served, token: str) -> str:
    return f"{web.url}{my_data.PATH}/{token}"


def assert_refused(response: requests.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert body == {"error": reason, "message": my_data.MESSAGES[reason][1]}


@pytest.mark.slow
def test_the_link_downloads_everything_about_the_patient(web: Served, person: Person) -> None:
    measure_records.save_result(person.sender_id, "gad7", [2, 2, 1, 1, 0, 0, 0])
    url, expires_at = my_data.export_link(person.sender_id)
    assert url.startswith(f"{web.url}/api/my-data/")
    remaining = (expires_at - datetime.now(UTC)).total_seconds()
    assert 9 * 60 < remaining <= 10 * 60
    claims = jwt.decode(url.rsplit("/", 1)[1], SECRET, algorithms=["HS256"], audience="my-data")
    assert (claims["typ"], claims["sub"]) == ("my-data", person.sender_id)
    assert claims["exp"] - claims["iat"] == 600 and len(claims["jti"]) == 32

    response = fetch(url)

    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="my-companion-data-')
    assert disposition.endswith('.json"')
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    document = MyDataExport.model_validate(response.json())
    assert (document.patient, document.clinic) == (person.sender_id, "harbour")
    assert [entry.fields for entry in document.entries] == [
        {"note": person.journal_text},
        {"stood_out": person.journal_text, "intention": "walk after dinner"},
    ]
    assert [(f.category, f.message) for f in document.risk_flags] == [("suicide", person.flag_text)]
    assert [(m.measure, m.total, m.max_total, m.band, m.answers) for m in document.measures] == [
        ("gad7", 6, 21, "mild", [2, 2, 1, 1, 0, 0, 0])
    ]
    said = [
        message.text
        for conversation in document.conversations
        for message in conversation.messages
        if message.speaker == "patient"
    ]
    assert said == [person.chat_text, person.flag_text]
    # The journal part is exactly the clinic's JSON export.
    exported = journal.export_patient(person.sender_id)
    assert response.json()["entries"] == exported["entries"]

    with db.session_scope(write=False) as session:
        (row,) = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "patient_export")
        ).all()
    assert (row.actor, row.target, row.outcome) == ("patient", person.sender_id, "ok")
    assert row.detail == {
        "jti": claims["jti"],
        "entries": 2,
        "risk_flags": 1,
        "conversations": 2,
        "format": "json",
    }
    assert row.ip == "127.0.0.1"


def test_links_that_do_not_work(web: Served, person: Person) -> None:
    now = datetime.now(UTC)
    expired, _ = my_data.issue_token(person.sender_id, now=now - timedelta(minutes=11))
    assert_refused(fetch(path_url(web, expired)), 410, "expired")

    def signed(claims: dict, key: str = SECRET) -> str:
        return jwt.encode(claims, key, algorithm="HS256")

    good = {
        "typ": "my-data",
        "aud": "my-data",
        "sub": person.sender_id,
        "jti": "a" * 32,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 300,
    }
    assert fetch(path_url(web, signed(good))).status_code == 200  # the refusals below can fail
    invite = patients.invite("harbour")
    for token in (
        signed(good, "another-deployment's-secret-0123456789abcdef"),
        signed({**good, "typ": "chat"}),
        signed({key: value for key, value in good.items() if key != "aud"}),
        signed({**good, "aud": "chat"}),
        signed({key: value for key, value in good.items() if key != "jti"}),
        signed({**good, "sub": "p-nobody-at-all"}),
        signed({**good, "sub": 12345}),
        invite.token,  # a chat token opens no download
        signed(good)[:-3] + "abc",
        "not-a-token",
        "a" * 5000,
        "%00",
    ):
        assert_refused(fetch(path_url(web, token)), 404, "not_found")
    # ... and a download token opens no chat.
    download_token = my_data.export_link(person.sender_id)[0].rsplit("/", 1)[1]
    with pytest.raises(patient_tokens.AccessDenied):
        patient_tokens.verify_token(download_token, origin="https://harbour.example")


def test_a_revoked_patient_cannot_download(web: Served, person: Person) -> None:
    url, _ = my_data.export_link(person.sender_id)
    assert patients.revoke(sender_id=person.sender_id) == 1
    assert_refused(fetch(url), 410, "revoked")
    # A patient who never had a link (an open demo channel) is not affected by the rule.
    journal.save_entry("demo-rest-sender", "checkin", fields={"note": "no link ever"})
    url, _ = my_data.export_link("demo-rest-sender")
    response = fetch(url)
    assert response.status_code == 200
    assert response.json()["entries"][0]["fields"] == {"note": "no link ever"}


@pytest.mark.slow
def test_after_an_erasure(web: Served, person: Person) -> None:
    url, _ = my_data.export_link(person.sender_id)
    time.sleep(1.1)  # issued in an earlier second than the erasure
    erasure.erase_patient(person.sender_id, "patient")
    assert_refused(fetch(url), 410, "erased")
    fresh, _ = my_data.export_link(person.sender_id)
    response = fetch(fresh)
    assert response.status_code == 200
    body = response.json()
    assert (body["entries"], body["conversations"]) == ([], [])
    # The flag its care team was not told of yet stays, without what the patient wrote.
    assert [(f["category"], f["message"]) for f in body["risk_flags"]] == [("suicide", "")]
    assert not any(text in response.text for text in person.texts)


def test_no_link_for_a_sender_nobody_knows(web: Served) -> None:
    with pytest.raises(my_data.UnknownPatient):
        my_data.export_link("p-never-seen")


def test_the_endpoint_is_in_the_published_schema(web: Served) -> None:
    schema = fetch(f"{web.url}/openapi.json").json()
    operation = schema["paths"]["/api/my-data/{token}"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/MyDataExport"}
    assert {"404", "410"} <= set(operation["responses"])
    readable = schema["paths"]["/api/my-data/{token}/readable"]["get"]
    assert "text/html" in readable["responses"]["200"]["content"]
    assert set(schema["components"]["schemas"]["MyDataExport"]["required"]) == {
        "patient",
        "clinic",
        "exported_at",
        "entries",
        "risk_flags",
        "conversations",
    }


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def test_the_readable_copy_lists_the_questionnaires(web: Served, person: Person) -> None:
    measure_records.save_result(person.sender_id, "phq9", [1, 1, 1, 1, 1, 0, 0, 0, 0])
    url, _ = my_data.export_link(person.sender_id)
    response = fetch(my_data.readable_link(url))
    assert response.status_code == 200, response.text
    assert "<h2>Questionnaires</h2>" in response.text
    assert "PHQ-9: 5 of 27 (mild)" in response.text


def test_the_readable_copy_is_the_same_data_escaped(web: Served, person: Person) -> None:
    journal.save_entry(person.sender_id, "checkin", mood=4, fields={"note": HOSTILE})
    url, _ = my_data.export_link(person.sender_id)
    readable = my_data.readable_link(url)
    assert readable == f"{url}/readable"

    response = fetch(readable)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="my-companion-data-')
    assert disposition.endswith('.html"')
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "'unsafe-inline'" not in policy
    page = response.text
    # The page carries its own policy, so a saved copy runs no script either.
    assert '<meta http-equiv="Content-Security-Policy" content="default-src' in page
    assert person.journal_text.replace("'", "&#x27;") in page
    assert person.chat_text.replace("'", "&#x27;") in page
    assert "walk after dinner" in page and "Intention" in page and "4/10" in page
    assert HOSTILE not in page and "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    with db.session_scope(write=False) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient_export"))
        formats = [row.detail["format"] for row in rows if row.target == person.sender_id]
    assert formats == ["html"]


def test_the_readable_copy_keeps_the_links_limits(web: Served, person: Person) -> None:
    now = datetime.now(UTC)
    expired, _ = my_data.issue_token(person.sender_id, now=now - timedelta(minutes=11))
    response = fetch(my_data.readable_link(path_url(web, expired)))
    assert response.status_code == 410
    assert response.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in response.headers
    assert "links work for 10 minutes" in response.text

    invite = patients.invite("harbour")
    response = fetch(my_data.readable_link(path_url(web, invite.token)))
    assert response.status_code == 404
    assert person.journal_text not in response.text

    url, _ = my_data.export_link(person.sender_id)
    assert patients.revoke(sender_id=person.sender_id) == 1
    response = fetch(my_data.readable_link(url))
    assert response.status_code == 410
    assert "switched off your chat link" in response.text
    assert person.journal_text not in response.text
