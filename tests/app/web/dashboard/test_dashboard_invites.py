"""Inviting patients from the dashboard and managing their links (bot/web/dashboard/invites.py),
over HTTP against a real uvicorn process and a seeded database (SQLite and PostgreSQL): the
label and the assigned therapist, the link shown once with its QR code, link status, revoke,
re-issue, "my patients", clinic scope, CSRF and the audit log."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from servers import Browser, SeededServer
from sqlalchemy import select

from bot import patient_tokens
from bot.clinics import therapists
from bot.storage import db
from bot.storage.models import AuditEvent, Patient, PatientLink

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
_LINK = re.compile(r'id="invite-url"[^>]*value="([^"]+)"')
_ROW = re.compile(r'<th scope="row"><a href="/therapist/patients/([^"]+)"')
LABEL = 'R.K. 2207 <script>alert("label")</script>'


def csrf(browser: Browser, path: str = "/therapist/invite") -> str:
    return _TOKEN.search(browser.get(path).text).group(1)


def invite(browser: Browser, **form: str) -> requests.Response:
    return browser.post("/therapist/invite", data={"csrf_token": csrf(browser), **form})


def link_in(page: requests.Response) -> str:
    return unescape(_LINK.search(page.text).group(1))


def token_in(url: str) -> str:
    return urlsplit(url).fragment.removeprefix("companion-token=")


def sender_of(url: str) -> str:
    """The patient a link is for (read from the token, without using the link)."""
    return jwt.decode(token_in(url), options={"verify_signature": False})["sub"]


def opens_chat(url: str) -> str:
    """Use the link as the chat does: the patient's id, or ``AccessDenied``."""
    return patient_tokens.verify_token(token_in(url), origin=None, check_origin=False).sender_id


def audit_rows(action: str, actor: str) -> list[AuditEvent]:
    with db.session_scope(write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.actor == actor)
                .order_by(AuditEvent.id)
            )
        )


def patient_count() -> int:
    with db.session_scope(write=False) as session:
        return len(session.scalars(select(Patient.id)).all())


def test_the_form_offers_this_clinics_therapists_with_the_viewer_first_choice(
    harbour: Browser, web: SeededServer
) -> None:
    page = harbour.get("/therapist/invite")

    assert page.status_code == 200
    options = re.findall(r'<option value="([^"]*)"( selected)?>', page.text)
    emails = {value for value, _ in options if "@" in value}
    assert emails == {web.info.therapist.email, web.info.admin.email}
    assert (web.info.therapist.email, " selected") in options
    assert "Invite a patient" in harbour.get("/therapist/").text


def test_an_invitation_shows_the_link_once_with_a_qr_code_and_is_audited(
    harbour: Browser, web: SeededServer
) -> None:
    page = invite(harbour, label=LABEL, therapist=web.info.therapist.email, days="14")

    assert page.status_code == 200
    url = link_in(page)
    sender_id = sender_of(url)
    assert re.search(r'<figure class="qr" id="invite-qr">\s*<svg viewBox="0 0 \d+ \d+"', page.text)
    assert 'class="qrline"' in page.text
    assert "<script>alert" not in page.text and "R.K. 2207 &lt;script&gt;" in page.text
    assert '<script src="/static/dashboard.js" defer></script>' in page.text
    with db.session_scope(write=False) as session:
        patient = session.scalars(select(Patient).where(Patient.sender_id == sender_id)).one()
        assert patient.label == LABEL
        assert patient.therapist_id == therapists.get(web.info.therapist.email).id
        (link,) = session.scalars(select(PatientLink).where(PatientLink.patient_id == patient.id))
        assert 13 <= (link.expires_at - link.created_at).days <= 14
    (row,) = [
        r for r in audit_rows("invite_patient", web.info.therapist.email) if r.target == sender_id
    ]
    assert row.detail == {"link_id": link.id, "therapist": web.info.therapist.email, "days": 14}
    # Shown once: the patient page lists the link by its id, never the token again.
    patient_page = harbour.get(f"/therapist/patients/{sender_id}")
    assert token_in(url) not in patient_page.text
    assert f'id="link-{link.id}" class="link-unused"' in patient_page.text


def test_my_patients_is_the_default_list_once_patients_are_assigned(
    harbour: Browser, web: SeededServer
) -> None:
    invite(harbour, label="M.P. 1", therapist=web.info.therapist.email)
    invite(harbour, label="M.P. 2", therapist=web.info.admin.email)
    invite(harbour, label="M.P. 3", therapist="")

    mine = harbour.get("/therapist/")
    everyone = harbour.get("/therapist/?therapist=all")
    unassigned = harbour.get("/therapist/?therapist=none")
    admins = harbour.get(f"/therapist/?therapist={therapists.get(web.info.admin.email).id}")

    assert "M.P. 1" in mine.text and "M.P. 2" not in mine.text and "M.P. 3" not in mine.text
    assert "Your patients." in mine.text
    assert {"M.P. 1", "M.P. 2", "M.P. 3"} <= set(re.findall(r"M\.P\. \d", everyone.text))
    assert web.info.main in _ROW.findall(everyone.text)
    assert "M.P. 3" in unassigned.text and "M.P. 1" not in unassigned.text
    assert "M.P. 2" in admins.text and "M.P. 1" not in admins.text
    assert audit_rows("view_patients", web.info.therapist.email)[-4].detail["therapist"] == "mine"


def test_a_patient_without_a_label_shows_a_short_id(harbour: Browser, web: SeededServer) -> None:
    listing = harbour.get("/therapist/?therapist=none")
    assert f"<code>{web.info.newcomer[:10]}</code>" in listing.text
    page = harbour.get(f"/therapist/patients/{web.info.newcomer}")
    assert f"<code>{web.info.newcomer}</code>" in page.text  # the whole id, once, under the name
    assert "no therapist assigned" in page.text


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"label": "x" * 81}, "at most 80 characters"),
        (
            {"label": "ok", "therapist": "dr.okafor@northside.example"},
            "not a therapist of this clinic",
        ),
        ({"label": "ok", "days": "1000"}, "Choose how long the link works."),
    ],
)
def test_a_form_that_cannot_be_used_says_why_and_creates_nobody(
    harbour: Browser, form: dict[str, str], error: str
) -> None:
    before = patient_count()
    page = invite(harbour, **form)

    assert page.status_code == 400
    assert error in unescape(page.text)
    assert 'id="invite-url"' not in page.text
    assert patient_count() == before


def test_without_the_form_token_nothing_is_created(harbour: Browser) -> None:
    before = patient_count()
    page = harbour.post("/therapist/invite", data={"label": "no token"})
    assert page.status_code == 403
    assert patient_count() == before


def test_revoke_and_reissue_from_the_patient_page(harbour: Browser, web: SeededServer) -> None:
    first_url = link_in(invite(harbour, label="L.R. 5"))
    sender_id = sender_of(first_url)
    path = f"/therapist/patients/{sender_id}"

    again = harbour.post(f"{path}/links", data={"csrf_token": csrf(harbour, path), "days": "7"})
    assert again.status_code == 200 and "earlier invitations no longer work" in again.text
    second_url = link_in(again)
    assert second_url != first_url and sender_of(second_url) == sender_id
    with pytest.raises(patient_tokens.AccessDenied):
        opens_chat(first_url)

    page = harbour.get(path)
    revoked, unused = re.findall(r'id="link-([0-9a-f]{32})" class="link-(\w+)"', page.text)
    assert {revoked[1], unused[1]} == {"revoked", "unused"}
    live = unused[0] if unused[1] == "unused" else revoked[0]
    assert opens_chat(second_url) == sender_id  # the patient opens the chat
    assert f'id="link-{live}" class="link-active"' in harbour.get(path).text
    done = harbour.post(f"{path}/links/{live}/revoke", data={"csrf_token": csrf(harbour, path)})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"?revoked={live}#links")
    with pytest.raises(patient_tokens.AccessDenied):
        opens_chat(second_url)
    assert audit_rows("revoke_link", web.info.therapist.email)[-1].detail == {
        "link_id": live,
        "changed": True,
    }
    assert audit_rows("reissue_link", web.info.therapist.email)[-1].target == sender_id


def test_details_change_the_label_and_therapist(harbour: Browser, web: SeededServer) -> None:
    sender_id = sender_of(link_in(invite(harbour, label="D.C. 6")))
    path = f"/therapist/patients/{sender_id}"

    saved = harbour.post(
        f"{path}/details",
        data={
            "csrf_token": csrf(harbour, path),
            "label": "D.C. 6b",
            "therapist": web.info.admin.email,
        },
    )
    assert saved.status_code == 303
    page = harbour.get(path)
    assert "<h1>Patient D.C. 6b</h1>" in page.text
    assert f"therapist {web.info.admin.email}" in page.text
    refused = harbour.post(
        f"{path}/details",
        data={"csrf_token": csrf(harbour, path), "label": "\x07bell", "therapist": ""},
    )
    assert refused.status_code == 400 and "control characters" in refused.text
    assert "<h1>Patient D.C. 6b</h1>" in harbour.get(path).text


def test_another_clinic_gets_the_ordinary_404_and_changes_nothing(
    harbour: Browser, northside: Browser, web: SeededServer
) -> None:
    url = link_in(invite(harbour, label="S.C. 7"))
    sender_id = sender_of(url)
    with db.session_scope(write=False) as session:
        (link_id,) = session.scalars(
            select(PatientLink.id).join(Patient).where(Patient.sender_id == sender_id)
        )
    token = csrf(northside, "/therapist/")
    base = f"/therapist/patients/{sender_id}"

    for path, form in (
        (f"{base}/links/{link_id}/revoke", {}),
        (f"{base}/links", {"days": "7"}),
        (f"{base}/details", {"label": "taken over", "therapist": ""}),
    ):
        response = northside.post(path, data={"csrf_token": token, **form})
        assert response.status_code == 404, path
    assert opens_chat(url) == sender_id  # still works
    denied = audit_rows("access_denied", web.info.other_therapist.email)
    assert len(denied) >= 3
    with db.session_scope(write=False) as session:
        assert session.scalars(
            select(Patient.label).where(Patient.sender_id == sender_id)
        ).one() == ("S.C. 7")


def test_the_qr_code_carries_no_text_of_the_link() -> None:
    """The SVG goes into the page as markup: it must hold only shapes, never the link's text."""
    from bot.web.dashboard.invites import qr_svg

    url = 'https://clinic.example/a?b="<script>alert(1)</script>&c#companion-token=abc.def'
    svg = str(qr_svg(url))
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert re.fullmatch(r'[<>/="#.\w\s\-()]+', svg)  # tags, attributes, numbers and path data
    for piece in ("script", "clinic.example", "companion-token", "&"):
        assert piece not in svg
