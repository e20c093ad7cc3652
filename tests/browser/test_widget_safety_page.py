"""The widget's "How this chat keeps you safe" link opens the clinic's public safety page in a
new tab, with the clinic's own numbers, under the page's strict policy."""

from __future__ import annotations

from datetime import timedelta

from browser_support import Widget, clinic_page
from playwright.sync_api import ConsoleMessage, expect

from bot.clinics import patients, registry

SLUG = "wyvern-safety"
NAME = "Wyvern Recovery"


def test_the_widget_links_to_the_clinics_safety_page(stack, desktop, clinic_site):
    page, _watch = desktop
    page_url = clinic_page(clinic_site, stack.web_url, SLUG, NAME)
    registry.create(
        SLUG,
        NAME,
        origins=[clinic_site.origin],
        emergency_number="999",
        crisis_lines=[
            {"name": "Emergency services", "number": "999"},
            {
                "name": "Samaritans",
                "number": "116 123",
                "kinds": ["suicide", "self_harm", "harm_others", "ask", "recent"],
                "detail": "free, day or night",
            },
        ],
        response_time="by the next working day",
        patient_url=page_url,
    )
    invite = patients.invite(SLUG, timedelta(hours=1))
    page.goto(invite.url)
    widget = Widget(page)
    expect(widget.panel).to_be_visible()

    link = widget.panel.get_by_role("link", name="How this chat keeps you safe")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("target", "_blank")
    with page.context.expect_page() as opened:
        link.click()
    safety = opened.value
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    safety.on("console", on_console)
    safety.wait_for_load_state()

    assert safety.url == f"{stack.web_url}/clinics/{SLUG}/safety"
    expect(safety.get_by_role("heading", level=1)).to_have_text("How this chat keeps you safe")
    expect(safety.locator("header")).to_contain_text(NAME)
    suicide = safety.locator('tr[data-category="suicide"]')
    expect(suicide).to_contain_text("999, if you are in danger now")
    expect(suicide).to_contain_text("Samaritans: 116 123 (free, day or night)")
    expect(safety.locator("#not-live")).to_contain_text("call 999")
    expect(safety.locator("#response-time")).to_contain_text("by the next working day")
    assert "911" not in safety.content()
    # The page's one style block is allowed (its table has the page's borders) and it is
    # readable without the widget: the chat stays open in the clinic's tab.
    expect(safety.locator("th").first).to_have_css("text-align", "left")
    assert refused == []
    expect(widget.panel).to_be_visible()
    safety.close()
