"""Consent before the first message, in a real browser: the widget shows the clinic's consent
text with its crisis numbers, the composer is unusable until "I agree", nothing is kept
before it; the agreement is recorded with its version and time; the chat then works; a new
version of the text asks again; withdrawing in the chat shows the text again with the
patient's data rights."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from browser_support import REPLY_TIMEOUT_MS, Widget, clinic_page
from playwright.sync_api import expect

from bot import patient_consent
from bot.clinics import patients, registry

SLUG = "consentville"
NAME = "Consentville Clinic"
NURSE = "+1 (555) 010-0199"


def test_consent_before_the_first_message(stack, desktop, clinic_site):
    page, _ = desktop
    page_url = clinic_page(clinic_site, stack.web_url, SLUG, NAME)
    registry.create(
        SLUG,
        NAME,
        origins=[clinic_site.origin],
        patient_url=page_url,
        crisis_lines=[
            {"name": "Consentville on-call nurse", "number": NURSE, "kinds": ["suicide"]},
            {"name": "Emergency services", "number": "911"},
        ],
    )
    invite = patients.invite(SLUG, timedelta(hours=1))
    sender = invite.sender_id

    page.goto(invite.url)
    widget = Widget(page)
    expect(widget.panel).to_be_visible()
    consent = widget.consent
    expect(consent).to_be_visible()
    expect(consent.get_by_role("heading", name="Before we start")).to_be_visible()
    expect(consent).to_contain_text("not a person and not a clinician")
    expect(consent).to_contain_text("Nobody reads this chat live")
    # The clinic's crisis numbers are on the consent screen itself.
    expect(consent.get_by_role("link", name=NURSE)).to_have_attribute("href", "tel:+15550100199")
    # Nothing can be sent before "I agree": the composer, its button and the starters.
    expect(widget.input).to_be_disabled()
    expect(widget.panel.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    for starter in widget.log.get_by_role("button").all():
        expect(starter).to_be_disabled()
    assert patient_consent.status(sender, SLUG).agreed_version is None
    assert stack.user_texts(sender) == []

    agree = consent.get_by_role("button", name="I agree")
    box = agree.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44
    agree.focus()
    page.keyboard.press("Enter")  # by keyboard, as anyone can
    expect(consent).to_have_count(0, timeout=REPLY_TIMEOUT_MS)
    expect(widget.input).to_be_enabled()
    expect(widget.input).to_be_focused()

    status = patient_consent.status(sender, SLUG)
    assert status.current and status.agreed_version == 1
    assert status.agreed_at is not None
    assert datetime.now(UTC) - status.agreed_at < timedelta(minutes=2)

    before = widget.bot().count()
    widget.send("hello")
    expect(widget.bot()).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)
    deadline = time.monotonic() + 20  # the tracker store writes after the reply went out
    while "hello" not in stack.user_texts(sender) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "hello" in stack.user_texts(sender)

    # The clinic changes its text: the patient is asked again, with the new words.
    registry.update(SLUG, consent_text="Our new words about what is kept.\n\nAnd who reads it.")
    page.reload()
    expect(consent).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(consent).to_contain_text("Our new words about what is kept.")
    expect(consent).to_contain_text("changed how this chat works", timeout=REPLY_TIMEOUT_MS)
    expect(widget.input).to_be_disabled()
    widget.agree()
    assert patient_consent.status(sender, SLUG).agreed_version == 2

    # Withdrawing in the chat: asked first, then the text again with the data rights.
    widget.say("withdraw my consent", "Withdraw your consent now?")
    widget.log.get_by_role("button", name="Yes, withdraw my consent").click()
    expect(consent).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(consent).to_contain_text("You withdrew your consent")
    expect(consent.get_by_role("button", name="Download my data")).to_be_visible()
    expect(consent.get_by_role("button", name="Delete my data")).to_be_visible()
    expect(widget.input).to_be_disabled()
    withdrawn = patient_consent.status(sender, SLUG)
    assert not withdrawn.current and withdrawn.withdrawn_at is not None
