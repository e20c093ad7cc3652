"""A clinic's own web site, on another origin, embeds the widget with one script tag."""

from __future__ import annotations

import json
from datetime import timedelta

from browser_support import (
    CHECKIN_SAVED,
    CRAVING_QUESTION,
    MOOD_QUESTION,
    NOTE_QUESTION,
    Widget,
)
from playwright.sync_api import Page, expect

from bot.clinics import patients, registry
from bot.journal import entries as journal

# A clinic's stylesheet that would wreck any widget living in the page's own DOM. It is a
# file: the clinic site's policy allows no inline style (browser_support.CLINIC_SITE_POLICY).
CLINIC_CSS = """
* { font-family: "Comic Sans MS", cursive !important; color: #ff00ff !important; }
div, section, p { border: 4px dashed lime; margin: 30px; }
button { display: none !important; }
h1 { color: rgb(1, 2, 3) !important; }
"""
CLINIC_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{name}</title>
  <link rel="stylesheet" href="clinic.css">
</head>
<body>
  <h1>{name}</h1>
  <p>Our clinic's own page.</p>
  <script src="{web}/widget.js" data-clinic="{slug}" async></script>
</body>
</html>
"""


def stored_token(page: Page, slug: str) -> str | None:
    stored = page.evaluate("(key) => sessionStorage.getItem(key)", f"companion-widget:{slug}")
    return json.loads(stored)["token"]


def test_clinic_site_on_another_origin_with_a_patient_link(stack, desktop, clinic_site):
    page, watch = desktop
    slug, name = "riverside", "Riverside Recovery"
    clinic_site.page("clinic.css", CLINIC_CSS)
    page_url = clinic_site.page(
        "index.html", CLINIC_PAGE.format(name=name, web=stack.web_url, slug=slug)
    )
    registry.create(
        slug,
        name,
        origins=[clinic_site.origin],
        crisis_lines=[
            {"name": "Riverside on-call nurse", "number": "+1 (555) 010-0100"},
            {"name": "Emergency services", "number": "911"},
        ],
        accent_color="#6a2c91",
        greeting="Welcome to Riverside Recovery's companion.",
        patient_url=page_url,
    )
    invite = patients.invite(slug, timedelta(hours=1))
    assert invite.url.startswith(f"{page_url}#companion-token=")

    page.goto(invite.url)
    widget = Widget(page)
    # The patient's link opens the chat by itself, on the clinic's consent text.
    expect(widget.panel).to_be_visible()
    widget.agree()
    expect(widget.input).to_be_enabled()
    # The token leaves the address bar (and so the history) at once.
    assert "companion-token" not in page.url
    assert page.url == page_url
    page.get_by_role("button", name="Close chat").click()
    expect(widget.launcher).to_be_visible()
    # The clinic's CSS reaches neither the widget nor is it changed by it.
    expect(widget.launcher).to_have_css("display", "flex")
    expect(widget.launcher).to_have_css("color", "rgb(255, 255, 255)")
    expect(widget.launcher).to_have_css("background-color", "rgb(106, 44, 145)")
    expect(page.locator("h1")).to_have_css("color", "rgb(1, 2, 3)")

    widget.open()
    expect(widget.panel).to_have_attribute("aria-label", f"Chat with {name}")
    expect(widget.bot().first).to_contain_text("Welcome to Riverside Recovery's companion.")
    widget.help.click()
    assert widget.crisis_numbers() == [
        ("+1 (555) 010-0100", "tel:+15550100100"),
        ("911", "tel:911"),
    ]

    widget.say("quick check-in", MOOD_QUESTION)
    widget.say("4", CRAVING_QUESTION)
    widget.say("1", NOTE_QUESTION)
    widget.say("skip", CHECKIN_SAVED)
    # The conversation is the invited patient's, named by the token and nothing else.
    [entry] = journal.recent_entries(invite.sender_id)
    assert (entry.kind, entry.mood, entry.craving) == ("checkin", 4, 1)

    # The clinic switches the link off mid-conversation: the next message is refused, the
    # widget says why and keeps the message as not sent.
    assert patients.revoke(sender_id=invite.sender_id) == 1
    widget.send("are you still there?")
    refusal = widget.log.locator(".system").filter(has_text="switched off by your clinic")
    expect(refusal).to_have_count(1)
    expect(widget.patient("are you still there?")).to_contain_text("Not sent yet")

    # The dead token is forgotten: after a reload the widget asks for the clinic's link, and
    # the unsent message is still there.
    page.reload()
    expect(widget.log).to_contain_text("This chat needs the personal link from your clinic.")
    expect(widget.input).to_be_disabled()
    expect(widget.patient("are you still there?")).to_contain_text("Not sent yet")
    assert stored_token(page, slug) is None

    # Another patient's link opened in the same tab (a shared computer; only the fragment
    # changes) is used once the person at the screen says so, and then shows none of the
    # first patient's conversation. This link was switched off before its first use, so the
    # connection itself is refused, with the reason.
    other = patients.invite(slug, timedelta(hours=1))
    patients.revoke(sender_id=other.sender_id)
    page.goto(other.url)
    widget.log.get_by_role("button", name="Use the new link").click()
    expect(refusal).to_have_count(1)
    expect(widget.patient()).to_have_count(0)
    expect(widget.bot()).to_have_count(1)  # the greeting
    assert "companion-token" not in page.url
    assert stored_token(page, slug) is None
    assert watch.dialogs == []


def test_site_the_clinic_does_not_allow_still_gets_the_crisis_numbers(stack, desktop, clinic_site):
    """The configuration cannot be read from a foreign origin; built-in numbers are shown,
    and the widget says why there is no chat (not that it is down)."""
    page, _ = desktop
    clinic_site.page("clinic.css", CLINIC_CSS)
    url = clinic_site.page(
        "foreign.html", CLINIC_PAGE.format(name="Not a clinic", web=stack.web_url, slug="demo")
    )
    page.goto(url)
    widget = Widget(page)
    widget.open()
    expect(widget.log).to_contain_text("This page is not registered for this clinic")
    expect(widget.log).not_to_contain_text("not available right now")
    widget.help.click()
    assert widget.crisis_numbers() == [("988", "tel:988"), ("911", "tel:911")]
