"""Widget polish: suggested replies that only the newest message keeps, starter buttons on
the widget's own greeting, a multi-select HALT question, touch-sized targets on a phone, and
the data export as one "Download my data" button with a readable copy beside it.

Real web app, Rasa server and action server (see conftest.py). Some tests inject socket.io
frames into the widget's real websocket (Playwright's ``route_web_socket``, as
test_widget_rate_limit.py does) to check the widget on its own; the others go through Rasa's
own replies, so they need a model trained on the current domain.yml.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    CHECKIN_SAVED,
    CRAVING_QUESTION,
    MOOD_QUESTION,
    NOTE_QUESTION,
    PHONE,
    REPLY_TIMEOUT_MS,
    PageWatch,
    Stack,
    Widget,
    open_context,
)
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

#: The widget's greeting offers these (bot/web/widget/src/starters.json), in this order.
STARTERS = [
    "Reflect on a session",
    "Quick check-in",
    "I'm having a craving",
    "How does ketamine work?",
    "Contact my care team",
]
RASA_GREETING = "I'm the integration companion"
RASA_HELP = "Here's what I can do"
TRIGGER_CRAVING_QUESTION = "How strong is the craving"
TRIGGER_TYPE_QUESTION = "What set it off"
HALT_QUESTION = "A quick HALT check"
CONTEXT_QUESTION = "What was happening around you"
HALT_OPTIONS = ["Hungry", "Angry", "Lonely", "Tired"]
MIN_TARGET_PX = 44

# Every button and download link a patient can tap in the conversation, with its size.
TARGET_SIZES = """
() => [...document.querySelector('companion-chat').shadowRoot
    .querySelectorAll('.log .quick-replies button, .log .downloads a, .log .downloads button')]
  .filter((node) => node.getClientRects().length > 0)
  .map((node) => {
    const box = node.getBoundingClientRect();
    return {name: node.textContent, width: box.width, height: box.height};
  })
"""


@pytest.fixture
def phone(browser: Browser) -> Iterator[tuple[Page, PageWatch]]:
    """A phone-sized touch screen in a fresh profile; fails the test on any page error."""
    context, page, watch = open_context(
        browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    yield page, watch
    context.close()
    assert not watch.errors, f"errors in the page: {watch.errors}"


def replies_of(message: Locator) -> Locator:
    return message.locator(".quick-replies button")


def assert_all_disabled(buttons: Locator) -> None:
    assert buttons.count() > 0
    for button in buttons.all():
        expect(button).to_be_disabled()


def assert_all_enabled(buttons: Locator) -> None:
    assert buttons.count() > 0
    for button in buttons.all():
        expect(button).to_be_enabled()


def border_style(button: Locator) -> str:
    return button.evaluate("node => getComputedStyle(node).borderTopStyle")


def assert_touch_sized(page: Page) -> int:
    """Every reply button and download link or button is at least 44 by 44 px; how many."""
    sizes = page.evaluate(TARGET_SIZES)
    small = [
        size for size in sizes if size["width"] < MIN_TARGET_PX or size["height"] < MIN_TARGET_PX
    ]
    assert small == [], small
    return len(sizes)


def wait_for_user_text(stack: Stack, said: str) -> list[str]:
    deadline = time.monotonic() + 30
    texts = stack.user_texts()
    while said not in texts and time.monotonic() < deadline:
        time.sleep(0.5)
        texts = stack.user_texts()
    return texts


class Frames:
    """The widget's websocket to the real Rasa server, with frames the test adds."""

    def __init__(self, page: Page) -> None:
        self.routes: list[WebSocketRoute] = []
        page.route_web_socket(re.compile(r"/socket\.io/"), self._through)

    def _through(self, ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        self.routes.append(ws)

    def bot_uttered(self, data: dict) -> None:
        """A socket.io event packet as the Rasa server sends it."""
        assert self.routes, "the widget has no websocket yet"
        self.routes[-1].send("42" + json.dumps(["bot_uttered", data]))


# ----------------------------------------------------------------------------- starters


def test_the_first_greeting_offers_the_starters(stack: Stack, desktop) -> None:
    page, watch = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    greeting = widget.bot().first
    expect(replies_of(greeting)).to_have_text(STARTERS)
    assert_all_enabled(replies_of(greeting))

    widget.click_reply("Quick check-in", MOOD_QUESTION)

    # The starter went to Rasa as the domain's intent, shown as its title.
    expect(widget.patient().last).to_contain_text("Quick check-in")
    assert "/start_checkin" in wait_for_user_text(stack, "/start_checkin")
    assert_all_disabled(replies_of(greeting))
    assert watch.dialogs == []


# ----------------------------------------------------------------------------- reload


def test_after_a_reload_only_the_newest_replies_can_be_pressed(stack: Stack, desktop) -> None:
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("hi", RASA_GREETING)
    widget.say("what can you do", RASA_HELP)

    page.reload()

    expect(widget.panel).to_be_visible()
    greeting, rasa_greeting = widget.bot().first, widget.bot(RASA_GREETING).last
    latest = widget.bot(RASA_HELP).last
    expect(replies_of(latest).first).to_be_visible()
    assert_all_disabled(replies_of(greeting))
    assert_all_disabled(replies_of(rasa_greeting))
    assert_all_enabled(replies_of(latest))
    # Visibly so, not only to assistive technology: an answered button looks different.
    old, live = replies_of(rasa_greeting).first, replies_of(latest).first
    assert (border_style(old), border_style(live)) == ("dashed", "solid")
    # Pressing an old one sends nothing.
    patients_before = widget.patient().count()
    old.click(force=True)
    page.wait_for_timeout(300)
    expect(widget.patient()).to_have_count(patients_before)

    # Once the patient writes something, no suggested reply applies any more.
    widget.send("thanks")
    expect(widget.patient("thanks")).to_have_count(1)
    assert_all_disabled(widget.log.locator(".quick-replies button"))


# ----------------------------------------------------------------------------- touch targets


def test_reply_buttons_are_touch_sized_on_a_phone(stack: Stack, phone) -> None:
    page, _ = phone
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.launcher.tap()
    widget.agree()  # the clinic's consent text comes first
    expect(replies_of(widget.bot().first)).to_have_count(len(STARTERS))
    assert assert_touch_sized(page) == len(STARTERS)

    widget.say("what can you do", RASA_HELP)
    expect(replies_of(widget.bot(RASA_HELP).last).first).to_be_visible()
    assert assert_touch_sized(page) > len(STARTERS)


# ----------------------------------------------------------------------------- multi-select


def chips_of(message: Locator) -> Locator:
    return message.locator("button[aria-pressed]")


def test_the_widget_turns_a_multi_select_marker_into_chips(stack: Stack, phone) -> None:
    page, watch = phone
    frames = Frames(page)
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.launcher.tap()
    widget.agree()  # the clinic's consent text comes first
    # The widget's own greeting first: counted before it is shown, it would pass for Rasa's
    # reply to "hi", which could then arrive between the injected question and its marker.
    expect(replies_of(widget.bot().first)).to_have_count(len(STARTERS))
    widget.say("hi", RASA_GREETING)
    options = [{"title": title, "payload": title.lower()} for title in HALT_OPTIONS]
    options.append({"title": "None of these", "payload": "none"})
    # As Rasa sends a response with buttons and a custom payload: two bot_uttered events.
    frames.bot_uttered({"text": "Pick any that fit", "quick_replies": options})
    frames.bot_uttered({"multi_select": {"exclusive": ["none"]}})

    question = widget.bot("Pick any that fit")
    expect(chips_of(question)).to_have_text(HALT_OPTIONS)
    group = question.get_by_role("group", name="Choose any that fit")
    send = group.get_by_role("button", name="Send the ones I chose")
    expect(send).to_have_text("Send")
    expect(send).to_be_disabled()  # nothing chosen yet
    # "None of these" stands alone: an ordinary button that answers at once, not a toggle.
    assert group.get_by_role("button", name="None of these").get_attribute("aria-pressed") is None
    assert assert_touch_sized(page) >= len(options) + 1

    # By keyboard: a chip is a toggle button whose state a screen reader hears.
    hungry = group.get_by_role("button", name="Hungry", exact=True)
    hungry.focus()
    page.keyboard.press("Space")
    expect(hungry).to_have_attribute("aria-pressed", "true")
    group.get_by_role("button", name="Tired", exact=True).tap()
    group.get_by_role("button", name="Angry", exact=True).tap()
    group.get_by_role("button", name="Angry", exact=True).tap()
    pressed = [chip.get_attribute("aria-pressed") for chip in chips_of(question).all()]
    assert pressed == ["true", "false", "false", "true"]
    expect(send).to_be_enabled()
    send.focus()
    page.keyboard.press("Enter")

    # One message naming both, shown with the titles and sent with the payloads.
    expect(widget.patient().last).to_contain_text("Hungry, Tired")
    assert "hungry, tired" in wait_for_user_text(stack, "hungry, tired")
    assert_all_disabled(question.locator("button"))

    # A reload keeps the question as chips, answered.
    page.reload()
    expect(chips_of(widget.bot("Pick any that fit"))).to_have_count(len(HALT_OPTIONS))
    assert_all_disabled(widget.bot("Pick any that fit").locator("button"))
    assert watch.dialogs == []


def test_the_halt_question_takes_several_answers(stack: Stack, phone) -> None:
    """Needs a model trained on domain.yml's ``utter_ask_halt`` with its multi_select."""
    page, _ = phone
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.launcher.tap()
    widget.agree()  # the clinic's consent text comes first
    widget.click_reply("I'm having a craving", TRIGGER_CRAVING_QUESTION)
    widget.say("4", TRIGGER_TYPE_QUESTION)
    widget.click_reply("People", HALT_QUESTION)

    question = widget.bot(HALT_QUESTION).last
    expect(chips_of(question)).to_have_text(HALT_OPTIONS)
    expect(question.get_by_role("button", name="None of these")).to_be_enabled()
    assert assert_touch_sized(page) >= len(HALT_OPTIONS) + 2
    for title in ("Lonely", "Tired"):
        question.get_by_role("button", name=title, exact=True).tap()
    before = widget.bot(CONTEXT_QUESTION).count()
    question.get_by_role("button", name="Send the ones I chose").tap()

    expect(widget.bot(CONTEXT_QUESTION)).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)
    expect(widget.patient().last).to_contain_text("Lonely, Tired")
    assert "lonely, tired" in stack.user_texts()


# ----------------------------------------------------------------------------- data export


def test_a_download_offer_is_a_button_and_a_readable_copy(stack: Stack, desktop) -> None:
    page, _ = desktop
    frames = Frames(page)
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("hi", RASA_GREETING)
    url = f"{stack.web_url}/api/my-data/tok-123"
    frames.bot_uttered(
        {
            "download": {
                "url": url,
                "label": "Download my data",
                "readable_url": f"{url}/readable",
                "readable_label": "Readable copy (web page)",
            }
        }
    )

    offer = widget.bot().filter(has=page.locator(".downloads"))
    expect(offer).to_have_count(1)
    expect(offer.get_by_role("link", name="Download my data")).to_have_attribute("href", url)
    expect(offer.get_by_role("link", name="Readable copy (web page)")).to_have_attribute(
        "href", f"{url}/readable"
    )
    # No empty bubble and no address as text: only the two links.
    expect(offer.locator(".bubble")).to_have_count(0)
    assert "tok-123" not in offer.inner_text()


def test_export_from_the_chat_gives_one_button_and_a_readable_copy(
    stack: Stack, desktop, tmp_path: Path
) -> None:
    """Needs a model trained on domain.yml's ``utter_export_ready`` (no address in its text)."""
    page, watch = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    note = "<b>Rosa</b> & the <script>river</script> walk"
    widget.click_reply("Quick check-in", MOOD_QUESTION)
    widget.say("6", CRAVING_QUESTION)
    widget.say("2", NOTE_QUESTION)
    widget.say(note, CHECKIN_SAVED)

    widget.say("export my data", "minutes")

    # Buttons: the link is made when one is pressed (tests/browser/test_widget_my_data.py).
    buttons = widget.log.get_by_role("button", name="Download my data")
    expect(buttons).to_have_count(1)
    bubbles = widget.log.locator(".bubble").all_inner_texts()
    assert not [text for text in bubbles if "/api/my-data/" in text or "http" in text]
    assert_touch_sized(page)
    with page.expect_download() as download_info:
        buttons.click()
    document = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert [entry["fields"].get("note") for entry in document["entries"]] == [note]

    readable = widget.log.get_by_role("button", name="Readable copy (web page)")
    expect(readable).to_have_count(1)
    with page.expect_download() as download_info:
        readable.click()
    assert download_info.value.suggested_filename.endswith(".html")
    saved = tmp_path / "copy.html"
    download_info.value.save_as(saved)
    html = saved.read_text(encoding="utf-8")
    assert "&lt;b&gt;Rosa&lt;/b&gt; &amp; the &lt;script&gt;river&lt;/script&gt; walk" in html
    assert "<script>" not in html and "<b>Rosa" not in html

    # Opened in the browser, the saved copy reads as text and runs nothing.
    copy = page.context.new_page()
    copy.goto(saved.as_uri())
    expect(copy.get_by_role("heading", name="Your data")).to_be_visible()
    # Once in the journal, once in the conversation; as words, never as elements.
    expect(copy.get_by_text(note)).to_have_count(2)
    assert copy.locator("script, b").count() == 0
    copy.close()
    assert watch.dialogs == []
