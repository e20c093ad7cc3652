"""Servers go down mid-conversation: help stays reachable, nothing is lost, nobody is left waiting."""

from __future__ import annotations

from browser_support import MOOD_QUESTION, RECONNECT_TIMEOUT_MS, Widget
from playwright.sync_api import expect

from bot.clinics import registry


def test_help_and_unsent_messages_survive_the_rasa_server_going_down(stack, desktop):
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    demo = registry.get_clinic("demo")  # the web app creates it on first use
    assert demo is not None
    shown = registry.help_now_lines(demo.crisis_lines)
    # The links dial only the dialable characters of each number (widget/src/config.js).
    expected_numbers = [
        (line["number"], "tel:" + "".join(c for c in line["number"] if c in "0123456789+*#"))
        for line in shown
    ]
    assert len(shown) < len(demo.crisis_lines)  # Never Use Alone is for replies about a slip
    widget.say("hi", "Quick check-in")

    stack.stop_rasa()
    try:
        expect(widget.status).to_contain_text("Connection lost")
        widget.help.click()
        assert widget.crisis_numbers() == expected_numbers

        widget.send("quick check-in")
        expect(widget.patient("quick check-in")).to_contain_text("Not sent yet")
        widget.input.fill("still typing this")

        # A reload while the server is down: the numbers, the queue and the draft remain.
        page.reload()
        expect(widget.panel).to_be_visible()
        expect(widget.status).to_contain_text("reach the assistant")
        widget.help.click()
        assert widget.crisis_numbers() == expected_numbers
        expect(widget.patient("quick check-in")).to_contain_text("Not sent yet")
        expect(widget.input).to_have_value("still typing this")

        # With the chat closed, "Get help now" is still on screen and opens on the numbers.
        widget.input.press("Escape")
        expect(widget.panel).to_be_hidden()
        expect(widget.help).to_be_visible()
        widget.help.click()
        expect(widget.panel).to_be_visible()
        assert widget.crisis_numbers() == expected_numbers
        expect(page.get_by_role("heading", name="Get help now")).to_be_focused()
    finally:
        stack.start_rasa()

    # Back up: the queued message goes out by itself and the conversation goes on.
    expect(widget.bot(MOOD_QUESTION)).to_have_count(1, timeout=RECONNECT_TIMEOUT_MS)
    expect(widget.patient("quick check-in")).not_to_contain_text("Not sent yet")
    expect(widget.input).to_have_value("still typing this")


def test_no_reply_from_a_broken_action_server_is_said_not_hidden(stack, desktop):
    """Rasa answers nothing at all when an action cannot run; the widget must not wait forever."""
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("hi", "Quick check-in")
    typing = page.get_by_role("status").filter(has_text="The assistant is typing")

    stack.stop_actions()
    try:
        widget.send("quick check-in")
        expect(typing).to_have_count(1)
        expect(widget.log).to_contain_text("The assistant has not answered", timeout=45_000)
        expect(typing).to_have_count(0)
        widget.help.click()
        expect(widget.crisis.get_by_role("link").first).to_be_visible()
    finally:
        stack.start_actions()
