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
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    ClinicSite,
    PageWatch,
    Stack,
    open_context,
    running_stack,
)
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


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
    """A desktop-sized page in a fresh profile; fails the test on any uncaught page error and
    on anything the page's Content Security Policy refused."""
    context, page, watch = open_context(browser, viewport=DESKTOP)
    yield page, watch
    context.close()
    assert not watch.errors, f"errors in the page: {watch.errors}"
    assert not watch.refused, f"refused by the page's policy: {watch.refused}"


@pytest.fixture
def clinic_site(tmp_path: Path) -> Iterator[ClinicSite]:
    site = ClinicSite(tmp_path)
    yield site
    site.close()
