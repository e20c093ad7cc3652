"""A PHQ-9 the therapist scheduled in the dashboard, answered by the patient in the widget by
tapping its buttons, and then on the patient's page scored, in a real browser."""

from __future__ import annotations

from browser_support import DESKTOP, Widget, clinic_page, open_context, sign_in_to_dashboard
from playwright.sync_api import Browser, expect

from bot.clinics import patients, registry, therapists
from bot.journal import measures

CLINIC, NAME = "brookside", "Brookside Recovery"
EMAIL, PASSWORD = "dr.ames@brookside.example", "brookside-therapist-42"
LABEL = "P.H. 0909"


def test_a_scheduled_phq9_answered_in_the_widget_is_scored_on_the_patient_page(
    stack, clinic_site, browser: Browser
) -> None:
    page_url = clinic_page(clinic_site, stack.web_url, CLINIC, NAME)
    registry.create(CLINIC, NAME, origins=[clinic_site.origin], patient_url=page_url)
    therapists.create(CLINIC, EMAIL, PASSWORD)
    invite = patients.invite(CLINIC, label=LABEL, therapist=EMAIL)
    phq9 = measures.measure("phq9")
    context, staff, watch = open_context(browser, viewport=DESKTOP)
    try:
        sign_in_to_dashboard(staff, stack.web_url, EMAIL, PASSWORD)
        staff.goto(f"{stack.web_url}/therapist/patients/{invite.sender_id}")
        section = staff.locator("#measures")
        section.get_by_role("combobox", name="Measure").select_option("phq9")
        section.get_by_role("button", name="Schedule").click()
        expect(staff.locator("#measures")).to_contain_text("PHQ-9 once")

        patient = context.new_page()
        patient.goto(invite.url)
        widget = Widget(patient)
        expect(widget.panel).to_be_visible()
        widget.agree()
        widget.say("hello", "Your care team asked you to fill in the PHQ-9")
        widget.click_reply("Fill it in now", phq9.items[0].text)
        # Item by item, by the buttons: "Several days" for the first three, then "Not at all".
        for number in range(1, 10):
            title = "Several days" if number <= 3 else "Not at all"
            after = phq9.items[number].text if number < 9 else "That's all of the PHQ-9"
            widget.click_reply(title, after)

        staff.reload()
        results = staff.locator("table.measure-results tbody tr")
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text("PHQ-9")
        expect(results.first).to_contain_text("3 / 27")
        expect(results.first).to_contain_text("minimal")
        expect(staff.locator("figure.measure-chart svg")).to_have_count(1)
    finally:
        context.close()
    assert not watch.dialogs and not watch.errors and not watch.refused
