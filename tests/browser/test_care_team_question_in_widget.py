"""A question the therapist wrote on the patient page, asked in the widget after the session
reflection's own questions and answered there, then shown beside its question in that
reflection on the patient page, in a real browser."""

from __future__ import annotations

import re

from browser_support import DESKTOP, Widget, clinic_page, open_context, sign_in_to_dashboard
from playwright.sync_api import Browser, expect

from bot.clinics import patients, registry, therapists

CLINIC, NAME = "lighthouse-bay", "Lighthouse Bay Clinic"
EMAIL, PASSWORD = "dr.okafor@lighthouse-bay.example", "lighthouse-therapist-42"
LABEL = "L.B. 1111"
QUESTION = "What did the lighthouse image mean to you?"
ANSWER = "That I can find my way back, even in fog"


def test_a_question_written_in_the_dashboard_is_asked_and_answered_in_the_reflection(
    stack, clinic_site, browser: Browser
) -> None:
    page_url = clinic_page(clinic_site, stack.web_url, CLINIC, NAME)
    registry.create(CLINIC, NAME, origins=[clinic_site.origin], patient_url=page_url)
    therapists.create(CLINIC, EMAIL, PASSWORD)
    invite = patients.invite(CLINIC, label=LABEL, therapist=EMAIL)
    context, staff, watch = open_context(browser, viewport=DESKTOP)
    try:
        sign_in_to_dashboard(staff, stack.web_url, EMAIL, PASSWORD)
        staff.goto(f"{stack.web_url}/therapist/patients/{invite.sender_id}")
        questions = staff.locator("#questions")
        questions.get_by_role("textbox", name=re.compile(r"^Question")).fill(QUESTION)
        questions.get_by_role("button", name="Ask in the next reflection").click()
        expect(staff.locator("#questions")).to_contain_text(QUESTION)
        expect(staff.locator("#questions")).to_contain_text("waiting")

        patient = context.new_page()
        patient.goto(invite.url)
        widget = Widget(patient)
        expect(widget.panel).to_be_visible()
        widget.agree()  # the clinic's consent text comes before the first message
        widget.say("I want to reflect on my session", "When was your session?")
        widget.say("yesterday", "what stood out for you the most?")
        widget.say("the lighthouse on the cliff, and the sea", "What feelings or body sensations")
        widget.say("calm at first, then a warm chest", "relationship with alcohol or drugs")
        widget.say("I drink to stop feeling lost", "What intention would you like")
        widget.say("to be patient with myself", "small, concrete step")
        widget.say("walk by the water on Sunday", "How is your mood right now")
        widget.say("7", "how strong is any craving right now")
        widget.say("2", "Your care team asked you a question for this reflection")
        expect(widget.bot(QUESTION)).to_have_count(1)
        widget.say(ANSWER, "I've saved this in your journal")
        expect(widget.bot("Your care team will read that")).to_have_count(1)

        staff.reload()
        reflection = staff.locator("li.entry.kind-integration")
        expect(reflection).to_have_count(1)
        expect(reflection.locator("dt.care-team-question")).to_have_text(
            f"Your care team asked: {QUESTION}"
        )
        expect(reflection.locator("dd.care-team-answer")).to_have_text(ANSWER)
        expect(staff.locator("#questions")).to_contain_text("answered")
        expect(staff.locator("#questions")).to_contain_text(ANSWER)
    finally:
        context.close()
    assert not watch.dialogs and not watch.errors and not watch.refused
