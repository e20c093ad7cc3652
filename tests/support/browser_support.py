"""The widget as a patient and a clinic's web site see it, for the browser tests."""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    expect,
)
from sqlalchemy import create_engine, select

from bot import encryption, runner, settings
from bot.storage import db
from bot.storage.rasa_events import EVENTS

MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"
WIDGET_JS = settings.PROJECT_ROOT / "bot" / "web" / "static" / "widget.js"
AXE_JS = (
    settings.PROJECT_ROOT / "bot" / "web" / "widget" / "node_modules" / "axe-core" / "axe.min.js"
)
#: Screenshots go to results/ (git-ignored) on every run; `make screenshots` points this at
#: docs/screenshots/ to refresh the ones the README shows.
SCREENSHOTS = Path(
    os.environ.get("COMPANION_SCREENSHOT_DIR", settings.PROJECT_ROOT / "results" / "screenshots")
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: The first reply of a fresh Rasa server can take a while (model warm-up on 2 cores).
REPLY_TIMEOUT_MS = 60_000
#: socket.io retries with a growing delay (at most 10 s in the widget); a restarted Rasa
#: server also needs time to load its model.
RECONNECT_TIMEOUT_MS = 90_000

MOOD_QUESTION = "How is your mood right now"
CRAVING_QUESTION = "How strong is any craving"
NOTE_QUESTION = "Anything you'd like to add"
CHECKIN_SAVED = "Check-in saved in your journal"


def stack_env(workdir: Path, *, web_port: int, rasa_port: int) -> dict[str, str]:
    """The environment of a private stack: its own database, token and data keys, addresses."""
    return {
        "DATABASE_URL": f"sqlite:///{workdir / 'companion.db'}",
        "COMPANION_VAR_DIR": str(workdir / "var"),
        # The data key shared by the servers and the tests that seed or read in-process.
        "COMPANION_DATA_KEYS_FILE": str(workdir / "var" / "secrets" / "data.keys"),
        "COMPANION_TOKEN_SECRET": secrets.token_hex(32),
        "COMPANION_DEMO_MODE": "1",
        "COMPANION_PUBLIC_WEB_URL": f"http://localhost:{web_port}",
        "COMPANION_PUBLIC_RASA_URL": f"http://localhost:{rasa_port}",
        # Every page a module opens starts an anonymous session from this one address.
        "COMPANION_ANONYMOUS_SESSIONS_PER_IP": "off",
    }


@dataclass
class Stack:
    """The running servers, and how the browser reaches them."""

    services: dict[str, runner.Service]
    web_url: str
    rasa_url: str
    database_url: str

    def stop_actions(self) -> None:
        runner.stop_all([self.services["actions"]])

    def start_actions(self) -> None:
        self.services["actions"].start()
        runner.wait_until_ready(self.services["actions"])

    def stop_rasa(self) -> None:
        runner.stop_all([self.services["rasa"]])

    def start_rasa(self) -> None:
        self.services["rasa"].start()
        runner.wait_until_ready(self.services["rasa"])

    def user_texts(self, sender: str | None = None) -> list[str]:
        """Everything patients (or the one ``sender``) said, in the order it was stored."""
        return [data.get("text") for data in self.event_data("user", sender)]

    def event_data(self, type_name: str, sender: str | None = None) -> list[dict[str, Any]]:
        """The stored events of one type (of one ``sender``), opened, in stored order."""
        query = select(EVENTS.c.data).where(EVENTS.c.type_name == type_name)
        if sender is not None:
            query = query.where(EVENTS.c.sender_id == sender)
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(query.order_by(EVENTS.c.id)).all()
        finally:
            engine.dispose()
        return [json.loads(encryption.open_value(data)) for (data,) in rows]


@contextmanager
def running_stack(workdir: Path, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """The web app, the Rasa server and the action server on ``workdir`` until the block ends.

    ``env`` adds to (or overrides) :func:`stack_env` for the servers. This process has the
    same environment meanwhile: tests create clinics and patient links in the same database,
    with the same keys, and read the stored conversations.
    """
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    if not WIDGET_JS.exists():
        pytest.fail(f"{WIDGET_JS} has not been built: run `make install` (make test does).")
    web_port, rasa_port, action_port = runner.free_port(), runner.free_port(), runner.free_port()
    full_env = {**stack_env(workdir, web_port=web_port, rasa_port=rasa_port), **(env or {})}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in full_env.items():
            patch.setenv(name, value)
        db.upgrade(full_env["DATABASE_URL"])
        with runner.started(
            rasa_port=rasa_port,
            action_port=action_port,
            web_port=web_port,
            model=MODEL,
            endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
            env=full_env,
        ) as services:
            yield Stack(
                services=services,
                web_url=f"http://localhost:{web_port}",
                rasa_url=f"http://localhost:{rasa_port}",
                database_url=full_env["DATABASE_URL"],
            )


@dataclass
class PageWatch:
    """What a page did that a test must notice: dialogs (alert), uncaught errors, and
    anything the page's Content Security Policy refused."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def open_context(browser: Browser, **options: object) -> tuple[BrowserContext, Page, PageWatch]:
    """A fresh browser profile (its own sessionStorage) with one page that is watched."""
    context = browser.new_context(locale="en-US", **options)
    page = context.new_page()
    watch = PageWatch()

    def on_dialog(dialog: Dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            watch.refused.append(message.text)

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("console", on_console)
    return context, page, watch


class Widget:
    """The widget found through roles and labels, the way a screen reader finds it.

    Playwright's locators pierce open shadow roots, so these reach inside the widget.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name=re.compile(r"^Chat with"))
        self.panel = page.get_by_role("dialog")
        self.log = page.get_by_role("log")
        self.input = page.get_by_label("Message", exact=True)
        self.help = page.get_by_role("button", name="Get help now")
        self.crisis = page.locator("companion-chat #companion-crisis")
        self.status = page.locator("companion-chat .status")

    def open(self, *, agree: bool = True) -> None:
        """Open the chat; ``agree``: and agree to the clinic's consent text if it is shown, as
        a patient must before the first message."""
        self.launcher.click()
        expect(self.panel).to_be_visible()
        if agree:
            self.agree_if_asked()

    @property
    def consent(self) -> Locator:
        """The consent text, shown before anything is kept."""
        return self.page.locator("companion-chat section.consent")

    def agree(self) -> None:
        """Press "I agree" and wait until the chat can be used."""
        self.consent.get_by_role("button", name="I agree").click()
        expect(self.consent).to_have_count(0, timeout=REPLY_TIMEOUT_MS)
        expect(self.input).to_be_enabled()

    def agree_if_asked(self) -> None:
        """:meth:`agree` when the consent text is on screen (a new patient, or a changed text)."""
        if self.consent.count():
            self.agree()

    def bot(self, containing: str | None = None) -> Locator:
        messages = self.log.locator(".msg.bot")
        return messages.filter(has_text=containing) if containing else messages

    def patient(self, containing: str | None = None) -> Locator:
        messages = self.log.locator(".msg.patient")
        return messages.filter(has_text=containing) if containing else messages

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def say(self, text: str, reply_containing: str) -> None:
        """Send a message and wait for a new bot message that contains the given words."""
        before = self.bot(reply_containing).count()
        self.send(text)
        expect(self.bot(reply_containing)).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)

    def click_reply(self, title: str, reply_containing: str) -> None:
        """Click the newest quick-reply button with this title and wait for the bot's answer."""
        before = self.bot(reply_containing).count()
        self.log.get_by_role("button", name=title, exact=True).last.click()
        expect(self.bot(reply_containing)).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)

    def shadow_count(self, selector: str) -> int:
        return self.page.evaluate(
            "(s) => document.querySelector('companion-chat').shadowRoot.querySelectorAll(s).length",
            selector,
        )

    def crisis_numbers(self) -> list[tuple[str, str]]:
        """(text, href) of every link in the "Get help now" section, each wholly on screen."""
        links = self.crisis.get_by_role("link")
        expect(links.first).to_be_visible()
        for link in links.all():
            expect(link).to_be_in_viewport(ratio=1)
        return [(link.inner_text(), link.get_attribute("href") or "") for link in links.all()]


#: A clinic site's policy as strict as a careful clinic's: scripts and styles from files only
#: (no 'unsafe-inline'), the widget's script and connections from the test's servers (all on
#: localhost). The widget must work under it: it needs no inline script or style.
CLINIC_SITE_POLICY = (
    "default-src 'self'; script-src 'self' http://localhost:*; style-src 'self'; "
    "connect-src 'self' http://localhost:* ws://localhost:*; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files with the clinic site's strict policy, and no request log on stderr."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CLINIC_SITE_POLICY)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


class ClinicSite:
    """A clinic's own web site: static files on another port of this machine (another origin),
    served with :data:`CLINIC_SITE_POLICY`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, name: str, html: str) -> str:
        (self.directory / name).write_text(html)
        return f"{self.origin}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def save_screenshot(page: Page, name: str, *, height: int | None = None) -> Path:
    """The viewport, or the page's top ``height`` pixels (a long page, as far as it matters)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    if height is None:
        page.screenshot(path=str(path))
    else:
        width = page.viewport_size["width"] if page.viewport_size else 1280
        clip = {"x": 0, "y": 0, "width": width, "height": height}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def sender_of(page: Page) -> str:
    """The conversation id the widget's token names (read back from this tab's storage)."""
    stored = page.evaluate("() => sessionStorage.getItem('companion-widget:demo')")
    token = json.loads(stored)["token"]
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def sign_in_to_dashboard(page: Page, web_url: str, email: str, password: str) -> None:
    """Sign a therapist in through the login form and wait for the patients list."""
    page.goto(f"{web_url}/therapist/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Patients")


def clinic_page(site: ClinicSite, web_url: str, slug: str, name: str) -> str:
    """A plain page of a clinic's own site with the widget's one script tag; its address."""
    return site.page(
        "index.html",
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}</title></head>'
        f'<body><h1>{name}</h1><script src="{web_url}/widget.js" data-clinic="{slug}" '
        "async></script></body></html>",
    )
