"""Questions for the next reflection on the dashboard (bot/web/dashboard/questions.py) over HTTP
against a real uvicorn process and a seeded database (SQLite and PostgreSQL): writing one,
withdrawing it, the answer beside its question in the reflection on the page, in the PDF, the
JSON and the FHIR export; limits, escaping, scope and audit."""

from __future__ import annotations

import io
import json
import re

import pypdf
import pytest
from servers import Browser, SeededServer
from sqlalchemy import select

from bot.journal import care_team_questions
from bot.journal import entries as journal
from bot.storage import db
from bot.storage.models import AuditEvent

pytestmark = pytest.mark.databases("sqlite", "postgresql")

_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
LIGHTHOUSE = "What did the lighthouse image mean to you?"


def page(sender_id: str) -> str:
    return f"/therapist/patients/{sender_id}"


def post(browser: Browser, sender_id: str, path: str, **form: str):
    token = _TOKEN.search(browser.get(page(sender_id)).text).group(1)
    return browser.post(f"{page(sender_id)}{path}", data={"csrf_token": token, **form})


def section(text: str) -> str:
    start = text.index('<section id="questions"')
    return text[start : text.index("</section>", start)]


def last_audit(action: str, actor: str) -> AuditEvent:
    with db.session_scope(write=False) as session:
        return session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.actor == actor)
            .order_by(AuditEvent.id.desc())
        ).first()


def test_a_question_is_written_then_withdrawn(harbour: Browser, web: SeededServer) -> None:
    steady = web.info.steady
    done = post(harbour, steady, "/questions", question=f"  {LIGHTHOUSE}\n")
    assert done.status_code == 303
    assert done.headers["Location"].endswith("?questions=asked#questions")
    (asked,) = care_team_questions.pending_for(steady)
    assert (asked.question, asked.created_by) == (LIGHTHOUSE, web.info.therapist.email)
    shown = section(harbour.get(page(steady)).text)
    assert LIGHTHOUSE in shown and "<strong>waiting</strong>" in shown
    assert f'action="{page(steady)}/questions/{asked.id}/withdraw"' in shown
    detail = last_audit("assign_prompt", web.info.therapist.email).detail
    assert detail == {"question_id": asked.id, "length": len(LIGHTHOUSE)}  # never the text

    withdrawn = post(harbour, steady, f"/questions/{asked.id}/withdraw")
    assert withdrawn.headers["Location"].endswith("?questions=withdrawn#questions")
    assert care_team_questions.pending_for(steady) == []
    shown = section(harbour.get(page(steady)).text)
    assert f"withdrawn by {web.info.therapist.email}" in shown and "/withdraw" not in shown
    assert last_audit("withdraw_prompt", web.info.therapist.email).detail == {
        "question_id": asked.id,
        "changed": True,
    }
    again = post(harbour, steady, f"/questions/{asked.id}/withdraw")
    assert again.headers["Location"].endswith("?questions=unchanged#questions")


def test_an_administrator_writes_questions_too(web: SeededServer) -> None:
    admin = Browser(web).sign_in(web.info.admin)
    done = post(admin, web.info.xss, "/questions", question="How is the integration going?")
    assert done.status_code == 303
    assert [q.question for q in care_team_questions.pending_for(web.info.xss)] == [
        "How is the integration going?"
    ]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("   ", "Write the question to ask."),
        ("x" * (care_team_questions.MAX_QUESTION_CHARS + 1), "at most 500 characters"),
    ],
)
def test_an_empty_or_overlong_question_says_why(
    harbour: Browser, web: SeededServer, question: str, message: str
) -> None:
    before = care_team_questions.questions_of(web.info.newcomer)
    response = post(harbour, web.info.newcomer, "/questions", question=question)
    assert response.status_code == 400 and message in response.text
    assert care_team_questions.questions_of(web.info.newcomer) == before


def test_the_answer_shows_beside_its_question_and_in_every_export(
    harbour: Browser, web: SeededServer
) -> None:
    main = web.info.main
    markup = "<b>lighthouse</b> & fog"
    post(harbour, main, "/questions", question=f"What did the {markup} mean to you?")
    (asked,) = care_team_questions.pending_for(main)
    entry = journal.save_entry(main, "integration", fields={"stood_out": "the sea"})
    answer = "That I can <i>find</i> my way back"
    outcome = care_team_questions.Outcome(asked.id, answer)
    assert care_team_questions.record_outcomes(main, entry.number, [outcome]) == 1

    text = harbour.get(page(main)).text
    item = text[text.index(f'id="entry-{entry.number}"') :]
    item = item[: item.index("</li>")]
    assert (
        '<dt class="care-team-question">Your care team asked: What did the '
        "&lt;b&gt;lighthouse&lt;/b&gt; &amp; fog mean to you?</dt>"
    ) in item
    assert (
        '<dd class="care-team-answer">That I can &lt;i&gt;find&lt;/i&gt; my way back</dd>' in item
    )
    shown = section(text)
    assert f'href="{page(main)}#entry-{entry.number}">entry #{entry.number}</a>' in shown
    assert "<i>find</i>" not in text and "<b>lighthouse</b>" not in text

    exported = json.loads(harbour.get(page(main) + "/export.json").content)
    (kept,) = [e for e in exported["entries"] if e["number"] == entry.number]
    assert kept["care_team_questions"] == [
        {
            "id": asked.id,
            "question": f"What did the {markup} mean to you?",
            "asked_by": web.info.therapist.email,
            "asked_at": asked.created_at.isoformat(),
            "status": "answered",
            "answer": answer,
            "answered_at": kept["care_team_questions"][0]["answered_at"],
        }
    ]

    bundle = json.loads(harbour.get(page(main) + "/export.fhir.json").content)
    responses = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
        and e["resource"]["identifier"]["value"].endswith(f"/{entry.number}")
    ]
    (response,) = responses
    assert response["item"][-1] == {
        "linkId": f"care-team-question-{asked.id}",
        "text": f"What did the {markup} mean to you?",
        "answer": [{"valueString": answer}],
    }

    pdf = harbour.get(page(main) + "/export.pdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    printed = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert f"Your care team asked: What did the {markup} mean to you?" in printed
    assert answer in printed


def test_another_clinic_can_neither_write_nor_withdraw(web: SeededServer) -> None:
    asked = care_team_questions.ask(
        web.info.harbour.id, web.info.steady, "Still there?", by=web.info.therapist.email
    )
    assert asked is not None
    northside = Browser(web).sign_in(web.info.other_therapist)
    token = _TOKEN.search(northside.get("/therapist/").text).group(1)
    for path, form in (
        (f"{page(web.info.steady)}/questions", {"question": "Who are you?"}),
        (f"{page(web.info.steady)}/questions/{asked.id}/withdraw", {}),
    ):
        assert northside.post(path, data={"csrf_token": token, **form}).status_code == 404
    assert [q.question for q in care_team_questions.pending_for(web.info.steady)] == [
        "Still there?"
    ]
    denied = last_audit("access_denied", web.info.other_therapist.email)
    assert denied.outcome == "denied"
    # Its own patient, but another clinic's question id: the same 404.
    other = Browser(web).sign_in(web.info.other_therapist)
    token = _TOKEN.search(other.get(page(web.info.other)).text).group(1)
    response = other.post(
        f"{page(web.info.other)}/questions/{asked.id}/withdraw", data={"csrf_token": token}
    )
    assert response.status_code == 404
