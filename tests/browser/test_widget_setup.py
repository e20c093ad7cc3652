"""A clinic's page set up wrong: the widget names the problem once, in plain words, disables
the composer and tells the web developer in the console how to put it right, instead of
saying the chat is down. A personal link opens the chat by itself."""

from __future__ import annotations

from datetime import timedelta

from browser_support import ClinicSite, Widget
from playwright.sync_api import ConsoleMessage, Page, Request, expect

from bot.clinics import patients, registry

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
  <h1>{title}</h1>
  <script src="{web}/widget.js" data-clinic="{slug}" async></script>
</body>
</html>
"""
OUTAGE = "The chat is not available right now"


def clinic_page(site: ClinicSite, web: str, slug: str) -> str:
    return site.page(
        f"{slug}.html", PAGE.format(title=f"Clinic page for {slug}", web=web, slug=slug)
    )


def console_errors(page: Page) -> list[str]:
    """The page's console errors from now on (the list fills as they come)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    return errors


def notes(widget: Widget, text: str):
    return widget.log.locator(".system").filter(has_text=text)


def assert_composer_disabled(widget: Widget) -> None:
    expect(widget.input).to_be_disabled()
    expect(widget.page.get_by_role("button", name="Send", exact=True)).to_be_disabled()


def reopen(widget: Widget) -> None:
    """Close the panel and open it again: the widget must not say the problem again."""
    widget.page.get_by_role("button", name="Close chat").click()
    widget.open()


def test_a_page_the_clinic_does_not_list_is_named_once(stack, desktop, clinic_site):
    page, _ = desktop
    registry.create("westbrook", "Westbrook Recovery", origins=["https://westbrook.example"])
    errors = console_errors(page)

    page.goto(clinic_page(clinic_site, stack.web_url, "westbrook"))
    widget = Widget(page)
    widget.open()

    refusal = notes(widget, "This page is not registered for this clinic")
    expect(refusal).to_have_count(1)
    assert_composer_disabled(widget)
    reopen(widget)
    expect(refusal).to_have_count(1)
    expect(widget.log.locator(".system")).to_have_count(1)
    expect(widget.log).not_to_contain_text(OUTAGE)
    # The web developer reads which origin to add, and how.
    command = f"python -m bot clinic update --slug westbrook --add-origin {clinic_site.origin}"
    hints = [text for text in errors if command in text]
    assert len(hints) == 1, errors
    assert f"origin {clinic_site.origin} is not one of clinic westbrook's origins" in hints[0]
    # Crisis help stays: the built-in numbers.
    widget.help.click()
    assert widget.crisis_numbers() == [("988", "tel:988"), ("911", "tel:911")]


def test_an_unknown_clinic_is_named_once(stack, desktop, clinic_site):
    page, _ = desktop
    errors = console_errors(page)

    page.goto(clinic_page(clinic_site, stack.web_url, "no-such-clinic"))
    widget = Widget(page)
    widget.open()

    unknown = notes(widget, "Unknown clinic")
    expect(unknown).to_have_count(1)
    assert_composer_disabled(widget)
    reopen(widget)
    expect(unknown).to_have_count(1)
    expect(widget.log.locator(".system")).to_have_count(1)
    expect(widget.log).not_to_contain_text(OUTAGE)
    assert any("(no-such-clinic)" in text and "clinic list" in text for text in errors), errors


def test_a_clinic_without_anonymous_chats_asks_for_the_personal_link(stack, desktop, clinic_site):
    page, _ = desktop
    registry.create("eastgate", "Eastgate Recovery", origins=[clinic_site.origin])
    errors = console_errors(page)
    sessions: list[str] = []

    def on_request(request: Request) -> None:
        if "anonymous-session" in request.url:
            sessions.append(request.url)

    page.on("request", on_request)

    page.goto(clinic_page(clinic_site, stack.web_url, "eastgate"))
    widget = Widget(page)
    expect(widget.panel).to_be_hidden()  # no link, so nothing opens by itself
    widget.open()

    needed = notes(widget, "This chat needs the personal link from your clinic.")
    expect(needed).to_have_count(1)
    expect(widget.panel).to_have_attribute("aria-label", "Chat with Eastgate Recovery")
    assert_composer_disabled(widget)
    # The greeting's suggested replies cannot be pressed either: nothing could be sent.
    starters = widget.log.locator(".quick-replies button")
    expect(starters.first).to_be_visible()
    for button in starters.all():
        expect(button).to_be_disabled()
    reopen(widget)
    expect(needed).to_have_count(1)
    expect(widget.log.locator(".system")).to_have_count(1)
    assert sessions == []  # the widget did not ask for a chat the clinic does not offer
    assert any("python -m bot patient invite --clinic eastgate" in text for text in errors), errors


def test_a_personal_link_opens_the_chat(stack, desktop, clinic_site):
    page, _ = desktop
    page_url = clinic_page(clinic_site, stack.web_url, "southfield")
    registry.create(
        "southfield", "Southfield Recovery", origins=[clinic_site.origin], patient_url=page_url
    )
    invite = patients.invite("southfield", timedelta(hours=1))

    page.goto(invite.url)
    widget = Widget(page)

    expect(widget.panel).to_be_visible()
    widget.agree()
    expect(widget.input).to_be_enabled()
    expect(widget.log.locator(".system")).to_have_count(0)
    assert "companion-token" not in page.url
