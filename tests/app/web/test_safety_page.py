"""A clinic's public safety page (bot/web/safety_page.py) through a real uvicorn web app: the
clinic's own numbers and settings, every lexicon category, strict headers, and a plain 404."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from servers import base_environment, environment, serving, web_app_service

from bot.clinics import registry
from bot.runner import free_port
from bot.safety.categories import lexicon_categories
from bot.storage import db

SECRET = "safety-page-test-secret-0123456789abcdef0123456789abcdef"
UK_LINES = [
    {"name": "Emergency services", "number": "999"},
    {
        "name": "Samaritans",
        "number": "116 123",
        "kinds": ["suicide", "self_harm", "harm_others", "ask", "recent"],
        "detail": "free, day or night",
    },
    {"name": "National Domestic Abuse Helpline", "number": "0808 2000 247", "kinds": ["violence"]},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("safety-page")
    port = free_port()
    env = {**base_environment(directory, port, SECRET), "COMPANION_NOTIFY_INTERVAL": "0"}
    with environment(env):
        db.reset_engines()
        registry.create(
            "thameside",
            "Thameside <Recovery> & Co",
            origins=["https://thameside.example"],
            accent_color="#7a2048",
        )
        registry.update(
            "thameside",
            emergency_number="999",
            crisis_lines=UK_LINES,
            response_time="by the next working day",
        )
        registry.create("lakeside", "Lakeside Clinic", origins=["https://lakeside.example"])
    db.reset_engines()
    with serving(web_app_service(port), env):
        yield f"http://127.0.0.1:{port}"


class _Text(HTMLParser):
    """The page's visible text per table row (by its ``data-category``), and all of it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.all: list[str] = []
        self._row: str | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        if tag == "tr":
            self._row = dict(attrs).get("data-category")
            if self._row:
                self.rows[self._row] = []

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_style or not data.strip():
            return
        self.all.append(data.strip())
        if self._row:
            self.rows[self._row].append(data.strip())


def read(response: requests.Response) -> _Text:
    parser = _Text()
    parser.feed(response.text)
    return parser


def get(server: str, path: str) -> requests.Response:
    return requests.get(server + path, timeout=30, allow_redirects=False)


def assert_strict(response: requests.Response) -> None:
    """Our usual headers, and a policy that allows the page's one style block and nothing else."""
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    (style,) = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy == (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    assert "<script" not in response.text


@pytest.mark.slow
def test_a_uk_clinics_page_gives_its_own_numbers(server: str) -> None:
    response = get(server, "/clinics/thameside/safety")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_strict(response)
    assert "#7a2048" in response.text  # the clinic's colour
    page = read(response)
    text = " ".join(page.all)
    assert "Thameside <Recovery> & Co" in text  # the name, escaped in the markup
    assert "Thameside <Recovery>" not in response.text
    assert "In an emergency, call 999." in text
    assert "911" not in response.text and "988" not in response.text
    assert "Your care team will see a note about this, usually by the next working day." in text
    assert "The care team usually looks at a new flag by the next working day." in text
    assert "Nobody reads the chat live." in text
    assert "automated assistant" in text
    # Each kind of risk with the numbers its crisis reply gives at this clinic.
    suicide = " ".join(page.rows["suicide"])
    assert "999, if you are in danger now" in suicide
    assert "Samaritans: 116 123 (free, day or night)" in suicide
    violence = " ".join(page.rows["violence"])
    assert "National Domestic Abuse Helpline: 0808 2000 247" in violence
    assert "Samaritans" not in violence
    recent = " ".join(page.rows["recent_event"])
    assert "Samaritans: 116 123" in recent and "if you are in danger now" not in recent
    assert "elevated flag" in recent
    assert "Asks directly" in " ".join(page.rows["passive_ideation"])
    # The "Get help now" list: every line of the clinic's.
    for line in ("Emergency services: 999", "National Domestic Abuse Helpline: 0808 2000 247"):
        assert line in text


@pytest.mark.slow
def test_every_lexicon_category_is_described_from_the_lexicon(server: str) -> None:
    page = read(get(server, "/clinics/thameside/safety"))
    categories = lexicon_categories()
    assert list(page.rows) == [category.name for category in categories]
    for category in categories:
        assert category.summary in page.rows[category.name], category.name
    levels = re.findall(r'data-flag-level="(\w+)"', get(server, "/clinics/thameside/safety").text)
    assert levels == ["urgent", "elevated", "info", "request"]


@pytest.mark.slow
def test_a_clinic_without_its_own_numbers_shows_the_defaults(server: str) -> None:
    page = read(get(server, "/clinics/lakeside/safety"))
    text = " ".join(page.all)
    assert "In an emergency, call 911." in text
    assert "988 Suicide & Crisis Lifeline: 988" in " ".join(page.rows["suicide"])
    assert "Poison Help: 1-800-222-1222" in " ".join(page.rows["overdose"])
    assert "usually within one working day" in text


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["nowhere", "Not-A-Slug", "%3Cscript%3E"])
def test_an_unknown_clinic_is_a_plain_404_page(server: str, slug: str) -> None:
    response = get(server, f"/clinics/{slug}/safety")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert_strict(response)
    assert "There is no clinic at this address." in response.text
    assert "<script" not in response.text
