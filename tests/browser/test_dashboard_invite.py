"""A therapist invites a patient from the dashboard and the patient opens the link, in a real
browser: the link as text, copied with the button and read back from the QR code on the
screen; the chat it opens; its status on the patient's page."""

from __future__ import annotations

import io

import zxingcpp
from browser_support import (
    DESKTOP,
    MOOD_QUESTION,
    Widget,
    clinic_page,
    open_context,
    save_screenshot,
    sign_in_to_dashboard,
)
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from bot.clinics import registry, therapists

CLINIC, NAME = "lakeview", "Lakeview Recovery"
EMAIL, PASSWORD = "dr.moss@lakeview.example", "lakeview-therapist-42"
LABEL = "T.M. 5120"


def qr_text(page: Page) -> str:
    """What a phone camera reads from the QR code on the screen."""
    png = page.locator("#invite-qr svg").screenshot()
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return found.text


def test_invite_from_the_dashboard_and_open_the_link(stack, clinic_site, browser: Browser) -> None:
    page_url = clinic_page(clinic_site, stack.web_url, CLINIC, NAME)
    registry.create(CLINIC, NAME, origins=[clinic_site.origin], patient_url=page_url)
    therapists.create(CLINIC, EMAIL, PASSWORD)
    context, page, watch = open_context(browser, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.web_url)
    try:
        sign_in_to_dashboard(page, stack.web_url, EMAIL, PASSWORD)
        page.get_by_role("link", name="Invite a patient").first.click()
        page.get_by_label("The clinic's label for the patient").fill(LABEL)
        expect(page.get_by_label("Assigned therapist")).to_have_value(EMAIL)
        page.get_by_label("The link works for").select_option("14")
        page.get_by_role("button", name="Create the link").click()

        expect(page.get_by_role("heading", level=1)).to_have_text(f"Invitation ready for {LABEL}")
        link = page.get_by_label("Link to give the patient").input_value()
        assert link.startswith(f"{page_url}#companion-token=")
        assert qr_text(page) == link
        page.get_by_role("button", name="Copy link").click()
        expect(page.locator("#copy-status")).to_have_text("Copied.")
        assert page.evaluate("() => navigator.clipboard.readText()") == link
        save_screenshot(page, "dashboard-invite.png")

        # "My patients" now holds the new patient, by label, with an unused link.
        page.goto(f"{stack.web_url}/therapist/")
        expect(page.locator("#whose")).to_contain_text("Your patients.")
        page.get_by_role("link", name=LABEL).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Patient {LABEL}")
        page.get_by_text("Label, therapist and chat links").click()
        expect(page.locator("table.links tbody tr").first).to_contain_text("Unused")

        patient = context.new_page()
        patient.goto(link)
        widget = Widget(patient)
        expect(widget.panel).to_be_visible()  # the link opens the chat by itself
        widget.agree()
        widget.say("quick check-in", MOOD_QUESTION)

        page.reload()
        page.get_by_text("Label, therapist and chat links").click()
        expect(page.locator("table.links tbody tr").first).to_contain_text("Active")
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_role("status").first).to_contain_text("is switched off")
        expect(page.locator("table.links tbody tr").first).to_contain_text("Revoked")
    finally:
        context.close()
    assert not watch.dialogs and not watch.errors and not watch.refused
