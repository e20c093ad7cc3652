"""The widget under the server's rate limit, and the "download my data" links it renders.

The browser tests' stack (web app, Rasa server, action server, as ``make run`` starts them)
has the default limit: a burst of 20 messages, then one every 2 seconds. A patient who types
faster than that sees one kind note, and every message is delivered in the end, in order: the
tracker store has them all.

The download links: the bot's custom payload ``{"download": {"url", "label"}}`` arrives as the
data of a ``bot_uttered`` event (tests/rasa/chat/test_channel_custom_json.py checks that on the
real channel). Until a custom action sends one, the test injects such socket.io frames into
the widget's real websocket to the real Rasa server (Playwright's ``route_web_socket``), and
checks which become links.
"""

from __future__ import annotations

import json
import re
import time
import uuid

from browser_support import PageWatch, Stack, Widget
from playwright.sync_api import Page, WebSocketRoute, expect

from bot import settings

RATE_NOTE = "faster than I can read them"
DELIVERY_TIMEOUT_MS = 90_000


def test_typing_faster_than_the_limit_shows_a_note_and_every_message_arrives(
    stack: Stack, desktop: tuple[Page, PageWatch]
) -> None:
    page, _ = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("hi", "Quick check-in")
    marker = uuid.uuid4().hex[:6]
    # More than the burst the patient has left after the two messages above: the last few
    # wait for the sustained rate.
    messages = [
        f"what is urge surfing, number {index} of {marker}"
        for index in range(settings.rate_limit_burst() + 4)
    ]

    for message in messages:
        widget.send(message)

    note = widget.log.locator(".system").filter(has_text=RATE_NOTE)
    expect(note).to_have_count(1, timeout=30_000)
    expect(widget.log.locator(".pending").first).to_be_visible()
    # The queue drains by itself as the limit allows, one message every few seconds.
    for message in messages:
        expect(widget.patient(message)).not_to_contain_text(
            "Not sent yet", timeout=DELIVERY_TIMEOUT_MS
        )
    expect(widget.log.locator(".pending")).to_have_count(0, timeout=DELIVERY_TIMEOUT_MS)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = [said for said in stack.user_texts() if said and marker in said]
        if len(stored) == len(messages):
            break
        time.sleep(0.5)
    assert stored == messages  # all of them, each once, in the order they were typed
    expect(note).to_have_count(1)  # one note, not one per refused message


def injected_download(url: str, label: str) -> str:
    """A socket.io event packet as the Rasa server sends it: bot_uttered with a custom payload."""
    return "42" + json.dumps(["bot_uttered", {"download": {"url": url, "label": label}}])


def test_download_offers_become_links_only_to_the_web_apps_own_data(
    stack: Stack, desktop: tuple[Page, PageWatch]
) -> None:
    page, watch = desktop
    routes: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()  # everything passes both ways; the test adds frames
        routes.append(ws)

    page.route_web_socket(re.compile(r"/socket\.io/"), through)
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("hi", "Quick check-in")
    deadline = time.monotonic() + 30
    while not routes and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert routes, "the widget never upgraded to a websocket"

    web = stack.web_url
    other_host = web.replace("localhost", "127.0.0.1")
    offers = {
        "own data": (f"{web}/api/my-data/tok-123", True),
        "other site": ("https://evil.example/api/my-data/tok-123", False),
        "same host other port": (re.sub(r":\d+$", ":1", web) + "/api/my-data/x", False),
        "same port other host name": (f"{other_host}/api/my-data/x", False),
        "other path": (f"{web}/dashboard", False),
        "climbing out": (f"{web}/api/my-data/../../dashboard", False),
        "script": ("javascript:alert(1)//api/my-data/", False),
        "<img src=x onerror=alert(1)>": (f"{web}/api/my-data/tok-456", True),
    }
    for label, (url, _) in offers.items():
        routes[-1].send(injected_download(url, label))

    bubbles = widget.log.locator(".msg.bot")
    for label, (url, allowed) in offers.items():
        offer = bubbles.filter(has_text=label)
        expect(offer).to_have_count(1)
        link = offer.get_by_role("link", name=label, exact=True)
        if allowed:
            expect(link).to_have_attribute("href", url)
            expect(link).to_have_attribute("download", "")
            expect(link).to_have_attribute("rel", "noopener")
        else:
            expect(offer.get_by_role("link")).to_have_count(0)
            expect(offer).to_contain_text(f"{label}: {url}")
    assert widget.shadow_count("img") == 0  # the label stayed text
    assert watch.dialogs == []

    # The transcript survives a reload and is judged again the same way.
    page.reload()
    expect(widget.panel).to_be_visible()
    for label, (_, allowed) in offers.items():
        offer = widget.log.locator(".msg.bot").filter(has_text=label)
        expect(offer.get_by_role("link")).to_have_count(1 if allowed else 0)
