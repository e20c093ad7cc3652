"""A patient on the demo clinic's page: open the chat, check in, reload, stay safe.

Everything runs against the real web app, Rasa server and action server (see conftest.py).
"""

from __future__ import annotations

import json

import pytest
from browser_support import (
    AXE_JS,
    CHECKIN_SAVED,
    CRAVING_QUESTION,
    MOOD_QUESTION,
    NOTE_QUESTION,
    PHONE,
    Widget,
    open_context,
    save_screenshot,
    sender_of,
)
from playwright.sync_api import expect

from bot.clinics import registry
from bot.journal import entries as journal
from bot.safety import clinic_lines

DISCLAIMER = "automated assistant, not a therapist"

# Polls inside the page until the greeting is on screen, and returns the page's clock:
# milliseconds since navigation started.
GREETING_VISIBLE_AT = """
() => {
  const root = document.querySelector('companion-chat')?.shadowRoot;
  const greeting = root?.querySelector('.log .msg.bot');
  return greeting && greeting.getClientRects().length > 0 ? performance.now() : false;
}
"""


def test_checkin_on_the_demo_page(stack, desktop):
    page, watch = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.launcher.click()
    greeting_ms = page.wait_for_function(GREETING_VISIBLE_AT, polling="raf").json_value()
    print(f"\ngreeting visible {greeting_ms:.0f} ms after navigation start")
    assert greeting_ms < 10_000

    demo = registry.get_clinic("demo")
    assert demo is not None
    expect(widget.panel).to_have_attribute("aria-label", f"Chat with {demo.name}")
    expect(widget.bot().first).to_contain_text(demo.greeting)
    expect(widget.panel).to_contain_text(DISCLAIMER)
    expect(widget.panel).to_contain_text("Nobody watches this chat in real time")
    widget.agree()  # the clinic's consent text comes first
    expect(widget.input).to_be_focused()

    widget.say("hi", "Quick check-in")
    widget.click_reply("Quick check-in", MOOD_QUESTION)
    expect(widget.patient().last).to_contain_text("Quick check-in")
    # The buttons of an answered message cannot be pressed again.
    expect(widget.log.get_by_role("button", name="Quick check-in").first).to_be_disabled()

    widget.say("6", CRAVING_QUESTION)
    widget.say("2", NOTE_QUESTION)
    widget.say("Slept well, walked to the meeting", CHECKIN_SAVED)
    [entry] = journal.recent_entries(sender_of(page))
    assert (entry.kind, entry.mood, entry.craving) == ("checkin", 6, 2)
    assert entry.fields["note"] == "Slept well, walked to the meeting"

    save_screenshot(page, "widget-desktop.png")
    assert watch.dialogs == []


def test_reload_continues_the_conversation(stack, desktop):
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("quick check-in", MOOD_QUESTION)
    widget.say("7", CRAVING_QUESTION)
    sender = sender_of(page)
    widget.input.fill("half a thought")

    page.reload()
    # Still open, with the conversation and the unsent draft, in the same conversation.
    expect(widget.panel).to_be_visible()
    expect(widget.bot(MOOD_QUESTION)).to_have_count(1)
    expect(widget.bot(CRAVING_QUESTION)).to_have_count(1)
    expect(widget.patient("7")).to_have_count(1)
    expect(widget.input).to_have_value("half a thought")
    assert sender_of(page) == sender

    widget.say("3", NOTE_QUESTION)
    widget.say("skip", CHECKIN_SAVED)
    [entry] = journal.recent_entries(sender)
    assert (entry.mood, entry.craving) == (7, 3)


def test_markup_in_a_message_is_shown_as_text(stack, desktop):
    page, watch = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    attack = "<img src=x onerror=alert(1)>"
    before = widget.bot().count()
    widget.send(attack)
    expect(widget.bot()).not_to_have_count(before, timeout=60_000)
    bubble = widget.patient().last.locator(".bubble")
    assert bubble.evaluate("node => node.lastChild.nodeValue") == attack
    assert widget.shadow_count("img") == 0
    assert page.locator("img").count() == 0
    page.wait_for_timeout(500)
    assert watch.dialogs == []


def test_keyboard_only(stack, desktop):
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    expect(widget.launcher).to_be_visible()
    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    # The consent text comes first, its title focused; "I agree" is reached with Tab.
    expect(widget.consent.get_by_role("heading", name="Before we start")).to_be_focused()
    agree = widget.consent.get_by_role("button", name="I agree")
    for _ in range(20):
        if agree.evaluate("node => node.getRootNode().activeElement === node"):
            break
        page.keyboard.press("Tab")
    expect(agree).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.input).to_be_focused(timeout=60_000)

    widget.help.focus()
    page.keyboard.press("Enter")
    expect(widget.help).to_have_attribute("aria-expanded", "true")
    expect(widget.crisis).to_be_visible()
    page.keyboard.press("Tab")
    expect(widget.crisis.get_by_role("link").first).to_be_focused()

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()


def test_phone_sized_screen_gets_a_full_screen_chat(stack, browser):
    context, page, watch = open_context(
        browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    try:
        widget = Widget(page)
        page.goto(stack.web_url + "/")
        widget.launcher.tap()
        expect(widget.panel).to_be_visible()
        widget.consent.get_by_role("button", name="I agree").tap()
        expect(widget.input).to_be_enabled(timeout=60_000)
        box = widget.panel.bounding_box()
        assert box is not None
        assert (box["x"], box["y"]) == (0, 0)
        assert (box["width"], box["height"]) == (PHONE["width"], PHONE["height"])

        widget.say("quick check-in", MOOD_QUESTION)
        widget.say("5", CRAVING_QUESTION)
        # What matters on a small screen is within reach: the input, send, help and close.
        for control in (
            widget.input,
            page.get_by_role("button", name="Send"),
            widget.help,
            page.get_by_role("button", name="Close chat"),
        ):
            expect(control).to_be_in_viewport()
        save_screenshot(page, "widget-phone.png")

        # Full screen, the chat is modal: Tab goes round inside it, never to the page behind.
        expect(widget.panel).to_have_attribute("aria-modal", "true")
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.tagName") == "COMPANION-CHAT"

        widget.help.tap()
        # The demo clinic's crisis lines are the defaults file's (988 and 911 first).
        defaults = registry.help_now_lines(clinic_lines.load_defaults()["crisis_lines"])
        assert [number for number, _ in widget.crisis_numbers()] == [
            line["number"] for line in defaults
        ]
        assert [line["number"] for line in defaults[:2]] == ["988", "911"]
        assert watch.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("state", ["closed", "conversation", "crisis numbers"])
def test_no_serious_accessibility_violations(stack, browser, state):
    # The demo page's Content-Security-Policy forbids injected scripts; axe is one.
    context, page, _ = open_context(
        browser, viewport={"width": 1280, "height": 800}, bypass_csp=True
    )
    try:
        widget = Widget(page)
        page.goto(stack.web_url + "/")
        expect(widget.launcher).to_be_visible()
        if state != "closed":
            widget.open()
            widget.say("what can you do", "Quick check-in")
        if state == "crisis numbers":
            widget.help.click()
            expect(widget.crisis).to_be_visible()
        page.add_script_tag(path=str(AXE_JS))
        results = page.evaluate(
            """async () => {
              const result = await axe.run(document, {resultTypes: ['violations']});
              return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' > ')),
              }));
            }"""
        )
        serious = [v for v in results if v["impact"] in ("serious", "critical")]
        assert serious == [], json.dumps(serious, indent=2)
        # The scan did look inside the widget's shadow root.
        checked = page.evaluate(
            """async () => {
              const result = await axe.run(
                {fromShadowDom: ['companion-chat', '.root']}, {resultTypes: ['passes']});
              return result.passes.reduce((n, rule) => n + rule.nodes.length, 0);
            }"""
        )
        assert checked > 0
    finally:
        context.close()
