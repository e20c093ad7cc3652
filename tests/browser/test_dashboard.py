"""A therapist prepares for a session in the dashboard, in a real browser.

The web app of the browser tests' stack serves the dashboard; its database gets the
realistic data of ``tests/support/dashboard_seed.py`` (two clinics, journals, chats, flags).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import DESKTOP, PHONE, open_context, save_screenshot
from dashboard_seed import (
    CRISIS_TEXT,
    MAIN_LABEL,
    NORTHSIDE_SECRET,
    XSS_SCRIPT,
    SeedInfo,
    seed,
)
from playwright.sync_api import Browser, Page, expect

from bot.storage import db


@pytest.fixture(scope="module")
def seeded(stack) -> SeedInfo:
    info = seed(stack.database_url)
    db.reset_engines()
    return info


def sign_in(page: Page, web_url: str, email: str, password: str) -> None:
    page.goto(f"{web_url}/therapist/")
    expect(page).to_have_url(re.compile(rf"{re.escape(web_url)}/therapist/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Patients")


def test_a_therapist_reviews_a_patient_acknowledges_the_flag_and_exports(
    stack, seeded: SeedInfo, browser: Browser
) -> None:
    context, page, watch = open_context(browser, viewport=DESKTOP, accept_downloads=True)
    try:
        sign_in(page, stack.web_url, seeded.therapist.email, seeded.therapist.password)

        # The patient with an open flag comes first; the other clinic's patient is absent.
        rows = page.locator("table tbody tr")
        expect(rows.first).to_contain_text(MAIN_LABEL)  # the clinic's label for the patient
        expect(page.get_by_text(seeded.other)).to_have_count(0)
        save_screenshot(page, "dashboard-patients.png")

        rows.first.get_by_role("link").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(MAIN_LABEL)
        flags = page.locator("#flags")
        expect(flags.locator("article.flag.open")).to_contain_text(CRISIS_TEXT)
        chart = page.locator("#trend svg[role=img]")
        expect(chart).to_be_visible()
        # One marker per ketamine session date in the chart.
        for day in seeded.session_dates:
            expect(chart).to_contain_text(day.strftime("%-d %b"))
        expect(page.locator("#conversations")).to_contain_text(CRISIS_TEXT)
        expect(page.locator("#journal li.entry")).to_have_count(seeded.main_entry_count)
        save_screenshot(page, "dashboard-patient.png", height=1900)

        open_flag = flags.locator("article.flag.open")
        # The action is required: the browser will not send the form without one.
        open_flag.get_by_role("button", name="Acknowledge").click()
        expect(open_flag).to_have_count(1)
        open_flag.get_by_label("What was done").select_option("Called the patient")
        open_flag.get_by_label("Note").fill("Reached him; he is safe and with his brother.")
        open_flag.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("status").first).to_contain_text(
            f"acknowledged by {seeded.therapist.email}"
        )
        expect(flags.locator("article.flag.open")).to_have_count(0)
        acknowledged = flags.locator(f"#flag-{seeded.open_flag_id}")
        expect(acknowledged).to_contain_text("Called the patient")
        expect(acknowledged).to_contain_text("with his brother")

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Export PDF summary").click()
        pdf = Path(download_info.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF-")
        assert len(pdf) > 5_000
    finally:
        context.close()
    assert not watch.dialogs and not watch.errors


def test_the_dashboard_on_a_phone_and_patient_text_stays_text(
    stack, seeded: SeedInfo, browser: Browser
) -> None:
    context, page, watch = open_context(browser, viewport=PHONE)
    try:
        sign_in(page, stack.web_url, seeded.admin.email, seeded.admin.password)
        page.goto(f"{stack.web_url}/therapist/patients/{seeded.xss}")
        expect(page.get_by_text(XSS_SCRIPT).first).to_be_visible()
        assert "pwned" not in page.title()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"

        # Another clinic's patient looks exactly like a patient that does not exist.
        page.goto(f"{stack.web_url}/therapist/patients/{seeded.other}")
        foreign = page.content()
        page.goto(f"{stack.web_url}/therapist/patients/p-does-not-exist")
        assert page.content() == foreign
        assert NORTHSIDE_SECRET not in foreign
    finally:
        context.close()
    assert not watch.dialogs and not watch.errors
