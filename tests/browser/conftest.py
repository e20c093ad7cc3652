"""The chat widget in a real browser, against the real servers.

Debian's Chromium (``/usr/bin/chromium``) is driven by Playwright; Playwright's own browser
download is never used. The web app, the Rasa server and the action server run as separate
processes on free ports with their own SQLite file and token key, exactly as ``make run``
starts them. The browser reaches them as ``localhost``, and the demo clinic's page is the web
app's ``/``. A clinic's own web site on another origin is a small static HTTP server on a
further port (:class:`browser_support.ClinicSite`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    MODEL,
    WIDGET_JS,
    ClinicSite,
    PageWatch,
    open_context,
    stack_env,
)
from playwright.sync_api import Browser, Page, sync_playwright

from bot import runner
from bot.storage import db


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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` first (make test does).")
    if not WIDGET_JS.exists():
        pytest.fail(f"{WIDGET_JS} has not been built: run `make install` (make test does).")
    workdir: Path = tmp_path_factory.mktemp("stack")
    web_port, rasa_port, action_port = runner.free_port(), runner.free_port(), runner.free_port()
    env = stack_env(workdir, web_port=web_port, rasa_port=rasa_port)
    database_url = env["DATABASE_URL"]
    # The tests create clinics and patient links in the same database, with the same key.
    patch = pytest.MonkeyPatch()
    for name, value in env.items():
        patch.setenv(name, value)
    try:
        db.upgrade(database_url)
        with runner.started(
            rasa_port=rasa_port,
            action_port=action_port,
            web_port=web_port,
            model=MODEL,
            endpoints=runner.write_endpoints(workdir / "endpoints.yml", action_port),
            env=env,
        ) as services:
            yield Stack(
                services=services,
                web_url=f"http://localhost:{web_port}",
                rasa_url=f"http://localhost:{rasa_port}",
                database_url=database_url,
            )
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test-browser does).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[tuple[Page, PageWatch]]:
    """A desktop-sized page in a fresh profile; fails the test on any uncaught page error."""
    context, page, watch = open_context(browser, viewport=DESKTOP)
    yield page, watch
    context.close()
    assert not watch.errors, f"errors in the page: {watch.errors}"


@pytest.fixture
def clinic_site(tmp_path: Path) -> Iterator[ClinicSite]:
    site = ClinicSite(tmp_path)
    yield site
    site.close()
