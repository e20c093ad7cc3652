"""The web app served by a real uvicorn process, over HTTP."""

from __future__ import annotations

import gzip
import itertools
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from servers import base_environment, point_at, serving, web_app_service

from bot import patient_consent, patient_tokens
from bot.clinics import registry
from bot.patient_tokens import MESSAGES, AccessDenied
from bot.runner import Service, free_port
from bot.storage import db
from bot.web import app as web_app

SECRET = "web-test-secret-0123456789abcdef0123456789abcdef"
RASA_URL = "http://127.0.0.1:5999"
NORTH = "https://north.example"
TIMEOUT = 15
_clinic_numbers = itertools.count(1)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: The web app with its widget file pointed at a path that does not exist: the module's
#: own constant is changed before uvicorn starts it, the app's code is the same.
WITHOUT_WIDGET = """
import sys
from pathlib import Path

import uvicorn

import bot.web.app as web

web.WIDGET_FILE = Path(sys.argv[2])
uvicorn.run(web.create_app, factory=True, host="127.0.0.1", port=int(sys.argv[1]))
"""


@dataclass
class WebServer:
    url: str
    env: dict[str, str]

    @property
    def demo_origins(self) -> list[str]:
        port = self.url.rsplit(":", 1)[1]
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=TIMEOUT, **kwargs)


def _environment(directory: Path, port: int) -> dict[str, str]:
    return {
        **base_environment(directory, port, SECRET),
        "COMPANION_PUBLIC_RASA_URL": RASA_URL,
        "COMPANION_DEMO_CLINIC": "demo",
        "COMPANION_DEMO_MODE": "1",
        # Many sessions from one address in one module: the limits have tests of their own.
        "COMPANION_ANONYMOUS_SESSIONS_PER_IP": "off",
        "COMPANION_ANONYMOUS_SESSIONS": "off",
    }


@contextmanager
def _serve(service: Service, env: dict[str, str]) -> Iterator[Service]:
    db.upgrade(env["DATABASE_URL"])
    with serving(service, env):
        yield service


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The app as ``make run`` starts it (the runner's own command), on a free port."""
    port = free_port()
    env = _environment(tmp_path_factory.mktemp("web"), port)
    with _serve(web_app_service(port), env):
        yield WebServer(url=f"http://127.0.0.1:{port}", env=env)


@pytest.fixture(scope="module")
def server_without_widget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    port = free_port()
    directory = tmp_path_factory.mktemp("no-widget")
    env = _environment(directory, port)
    service = Service(
        name="web app without widget.js",
        command=[sys.executable, "-c", WITHOUT_WIDGET, str(port), str(directory / "widget.js")],
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    with _serve(service, env):
        yield WebServer(url=f"http://127.0.0.1:{port}", env=env)


@pytest.fixture
def web(web_server: WebServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    """The running app, with this process pointed at the same database, key and address."""
    yield from point_at(web_server, monkeypatch)


@pytest.fixture
def north(web: WebServer) -> str:
    """A clinic without anonymous chats, with a slug of its own (the server is shared)."""
    slug = f"north-{next(_clinic_numbers)}"
    registry.create(slug, "North", origins=[NORTH])
    return slug


def vary(response: requests.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def assert_security_headers(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)


# ----------------------------------------------------------------------------- health


@pytest.mark.slow
def test_healthz(web: WebServer) -> None:
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert_security_headers(response)
    assert "server" not in {name.lower() for name in response.headers}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/healthz", 200),
        ("GET", "/widget.js", 200),
        ("GET", "/static/demo.css", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/clinics/demo/widget-config", 403),  # not from the demo's origins
        ("GET", "/api/clinics/nowhere/widget-config", 404),
        ("POST", "/api/clinics/demo/anonymous-session", 403),
        ("GET", "/api/clinics/demo/anonymous-session", 405),
        ("OPTIONS", "/api/clinics/demo/widget-config", 204),
        ("GET", "/no-such-page", 404),
        ("GET", "/static/no-such-file.js", 404),
    ],
)
@pytest.mark.slow
def test_security_headers_on_every_response(
    web: WebServer, method: str, path: str, status: int
) -> None:
    response = requests.request(
        method, web.url + path, headers={"Origin": "https://evil.example"}, timeout=TIMEOUT
    )
    assert response.status_code == status
    assert_security_headers(response)


# ----------------------------------------------------------------------------- widget config


def test_widget_config_of_the_demo_clinic(web: WebServer) -> None:
    for origin in web.demo_origins:
        response = web.get("/api/clinics/demo/widget-config", headers={"Origin": origin})

        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "origin" in vary(response)
        assert response.json() == {
            "clinic": "demo",
            "name": "Demo clinic",
            "accent_color": "#2f6f73",
            "greeting": registry.defaults()["greeting"],
            "allow_anonymous": True,
            # Every crisis line, with its detail (which replies name it is not the widget's
            # business); a line only a reply about a slip names is not for "Get help now".
            "crisis_lines": [
                {key: value for key, value in line.items() if key != "kinds"}
                for line in registry.defaults()["crisis_lines"]
                if line.get("kinds") != ["lapse"]
            ],
            "socket_url": RASA_URL,
            "socket_path": "/socket.io",
            "anonymous_session_url": f"{web.url}/api/clinics/demo/anonymous-session",
            "link_required": None,
            # What a patient agrees to before anything is kept: the default text, version 1.
            "consent": patient_consent.consent_text(1, None).as_dict(),
        }


def test_widget_config_of_a_clinic_is_readable_only_from_its_origins(
    web: WebServer, north: str
) -> None:
    path = f"/api/clinics/{north}/widget-config"

    own = web.get(path, headers={"Origin": NORTH})
    assert own.status_code == 200
    assert own.headers["Access-Control-Allow-Origin"] == NORTH
    assert own.json()["clinic"] == north
    assert own.json()["allow_anonymous"] is False

    # Another page gets no settings, only the refusal, which it may read: the widget names
    # the problem, and the console says how to add the page.
    for origin in ("https://evil.example", web.demo_origins[0], "http://north.example"):
        other = web.get(path, headers={"Origin": origin})
        assert other.status_code == 403
        assert other.headers["Access-Control-Allow-Origin"] == "*"
        assert "origin" in vary(other)
        body = other.json()
        assert set(body) == {"error", "message", "hint"}
        assert (body["error"], body["message"]) == (
            "origin_not_allowed",
            MESSAGES["origin_not_allowed"],
        )
        assert body["message"].startswith("This page is not registered for this clinic.")
        assert f"clinic update --slug {north} --add-origin {origin}" in body["hint"]

    opaque = web.get(path, headers={"Origin": "null"})
    assert opaque.status_code == 403 and opaque.json()["error"] == "origin_not_allowed"
    assert "--add-origin" not in opaque.json()["hint"]
    assert "sent null" in opaque.json()["hint"]

    # The web app's own pages send no Origin with a GET; they get the settings.
    without = web.get(path)
    assert without.status_code == 200
    assert "Access-Control-Allow-Origin" not in without.headers
    assert "origin" in vary(without)


def test_widget_config_says_when_a_personal_link_is_needed(web: WebServer, north: str) -> None:
    path = f"/api/clinics/{north}/widget-config"
    needed = web.get(path, headers={"Origin": NORTH}).json()["link_required"]
    assert (needed["error"], needed["message"]) == (
        "anonymous_not_allowed",
        MESSAGES["anonymous_not_allowed"],
    )
    assert needed["message"].startswith("This chat needs the personal link from your clinic.")
    assert f"patient invite --clinic {north}" in needed["hint"]

    registry.update(north, allow_anonymous=True)
    assert web.get(path, headers={"Origin": NORTH}).json()["link_required"] is None


def test_widget_config_follows_the_clinics_settings(web: WebServer, north: str) -> None:
    registry.update(
        north,
        accent_color="#102030",
        greeting="Hello from North.",
        crisis_lines=[{"name": "Samaritans", "number": "116 123"}],
    )
    config = web.get(f"/api/clinics/{north}/widget-config").json()
    assert config["accent_color"] == "#102030"
    assert config["greeting"] == "Hello from North."
    assert config["crisis_lines"] == [{"name": "Samaritans", "number": "116 123"}]


def test_the_origin_check_normalises_the_origin(web: WebServer, north: str) -> None:
    response = web.get(
        f"/api/clinics/{north}/widget-config", headers={"Origin": "https://north.example:443"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == "https://north.example:443"


@pytest.mark.parametrize(
    "slug", ["nowhere", "Not_A_Slug", "UPPER", "-dash", "a" * 65, "demo%0A", "%E2%9C%93"]
)
def test_widget_config_of_an_unknown_clinic(web: WebServer, slug: str) -> None:
    response = web.get(
        f"/api/clinics/{slug}/widget-config", headers={"Origin": web.demo_origins[0]}
    )

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert (body["error"], body["message"]) == ("unknown_clinic", MESSAGES["unknown_clinic"])
    assert body["message"].startswith("Unknown clinic.")
    assert "python -m bot clinic list" in body["hint"]
    # Any page may read it, so the widget can name the problem.
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "origin" in vary(response)


def test_an_unknown_slug_does_not_create_a_clinic(web: WebServer) -> None:
    web.get("/api/clinics/ghost-clinic/widget-config")
    web.post("/api/clinics/ghost-clinic/anonymous-session")
    assert registry.get_clinic("ghost-clinic") is None


def test_preflight(web: WebServer, north: str) -> None:
    headers = {"Origin": NORTH, "Access-Control-Request-Method": "POST"}
    own = requests.options(
        f"{web.url}/api/clinics/{north}/anonymous-session", headers=headers, timeout=TIMEOUT
    )
    assert own.status_code == 204
    assert own.headers["Access-Control-Allow-Origin"] == NORTH
    assert "POST" in own.headers["Access-Control-Allow-Methods"]
    assert "origin" in vary(own)

    foreign = requests.options(
        f"{web.url}/api/clinics/demo/anonymous-session", headers=headers, timeout=TIMEOUT
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers


# ----------------------------------------------------------------------------- anonymous session


def test_anonymous_session_for_the_demo_clinic(web: WebServer) -> None:
    origin = web.demo_origins[1]
    before = datetime.now(UTC)

    response = web.post("/api/clinics/demo/anonymous-session", headers={"Origin": origin})

    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "origin" in vary(response)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert before + timedelta(hours=11) < expires_at <= datetime.now(UTC) + timedelta(hours=12)
    identity = patient_tokens.verify_token(body["token"], origin=origin)
    assert identity.clinic == "demo"
    assert identity.kind == "anonymous"
    assert identity.expires_at == expires_at
    assert patient_tokens.sender_clinic(identity.sender_id) == "demo"
    # The other demo origin may use it too; another site may not.
    assert patient_tokens.verify_token(body["token"], origin=web.demo_origins[0]).clinic == "demo"
    with pytest.raises(AccessDenied):
        patient_tokens.verify_token(body["token"], origin=NORTH)


def test_anonymous_sessions_are_separate_patients_even_at_once(web: WebServer) -> None:
    def start(_: int) -> requests.Response:
        return web.post(
            "/api/clinics/demo/anonymous-session", headers={"Origin": web.demo_origins[0]}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(start, range(8)))

    assert [r.status_code for r in responses] == [200] * 8
    senders = {
        patient_tokens.verify_token(r.json()["token"], origin=web.demo_origins[0]).sender_id
        for r in responses
    }
    assert len(senders) == 8


@pytest.mark.parametrize("origin", ["https://evil.example", NORTH, "null", None])
def test_anonymous_session_from_a_foreign_origin(web: WebServer, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}

    response = web.post("/api/clinics/demo/anonymous-session", headers=headers)

    assert response.status_code == 403
    assert response.json() == {
        "error": "origin_not_allowed",
        "message": MESSAGES["origin_not_allowed"],
    }
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "origin" in vary(response)


def test_anonymous_session_of_a_clinic_without_anonymous_chats(web: WebServer, north: str) -> None:
    response = web.post(f"/api/clinics/{north}/anonymous-session", headers={"Origin": NORTH})

    assert response.status_code == 403
    assert response.json() == {
        "error": "anonymous_not_allowed",
        "message": MESSAGES["anonymous_not_allowed"],
    }
    # The clinic's own page may read why, so the widget can say it.
    assert response.headers["Access-Control-Allow-Origin"] == NORTH


def test_anonymous_session_of_another_clinic_that_allows_it(web: WebServer, north: str) -> None:
    registry.update(north, allow_anonymous=True)

    response = web.post(f"/api/clinics/{north}/anonymous-session", headers={"Origin": NORTH})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == NORTH
    assert patient_tokens.verify_token(response.json()["token"], origin=NORTH).clinic == north


@pytest.mark.parametrize("slug", ["nowhere", "Not_A_Slug"])
def test_anonymous_session_of_an_unknown_clinic(web: WebServer, slug: str) -> None:
    response = web.post(
        f"/api/clinics/{slug}/anonymous-session", headers={"Origin": web.demo_origins[0]}
    )
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_clinic"


# ----------------------------------------------------------------------------- demo page


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(dict(attrs))
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline_scripts.append(data)
        if self._in == "title":
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def test_the_demo_page_embeds_the_widget_like_a_clinic_would(web: WebServer) -> None:
    response = web.get("/")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = _Page()
    page.feed(response.text)
    assert page.scripts == [{"src": f"{web.url}/widget.js", "data-clinic": "demo", "async": None}]
    assert page.inline_scripts == []
    assert page.handlers == []
    assert "Demo clinic" in page.title
    assert "not a therapist" in response.text
    assert_security_headers(response)


def test_the_demo_page_policy_allows_the_widget_and_no_inline_script(web: WebServer) -> None:
    directives = csp_directives(web.get("/").headers["Content-Security-Policy"])

    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert "*" not in scripts
    assert "'unsafe-inline'" not in directives["default-src"]
    # The widget's own script and its connections are allowed, or the demo would not work.
    assert "'self'" in scripts or web.url in scripts
    connections = directives["connect-src"]
    assert RASA_URL in connections
    assert RASA_URL.replace("http://", "ws://") in connections
    assert web.url in connections or "'self'" in connections
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


def test_the_demo_page_creates_the_demo_clinic(web: WebServer) -> None:
    web.get("/")
    demo = registry.get_clinic("demo")
    assert demo is not None
    assert demo.origins == web.demo_origins
    assert demo.allow_anonymous is True


# ----------------------------------------------------------------------------- widget.js


def test_widget_js_is_served(web: WebServer) -> None:
    """The build output is present in this checkout (another part of the work builds it)."""
    assert web_app.WIDGET_FILE.is_file()
    expected = web_app.WIDGET_FILE.read_bytes()

    response = web.get("/widget.js", headers={"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0].strip() == "text/javascript"
    assert response.content == expected
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "max-age" in response.headers["Cache-Control"]
    assert_security_headers(response)


def test_widget_js_is_compressed_for_browsers_that_ask(web: WebServer) -> None:
    response = web.get("/widget.js", headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = response.raw.read(decode_content=False)

    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == web_app.WIDGET_FILE.read_bytes()
    assert len(raw) < web_app.WIDGET_FILE.stat().st_size


@pytest.mark.slow
def test_widget_js_not_built_is_503_with_a_comment(server_without_widget: WebServer) -> None:
    response = server_without_widget.get("/widget.js")

    assert response.status_code == 503
    assert response.headers["Content-Type"].split(";")[0].strip() == "text/javascript"
    body = response.text.strip()
    assert body.startswith("/*") and body.endswith("*/")
    assert "not been built" in body
    assert "make install" in body
    assert_security_headers(response)
    # Everything else keeps working without the widget.
    assert server_without_widget.get("/healthz").status_code == 200
    assert server_without_widget.get("/").status_code == 200


# ----------------------------------------------------------------------------- openapi


def test_openapi_is_published(web: WebServer) -> None:
    response = web.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "get" in paths["/api/clinics/{slug}/widget-config"]
    assert "post" in paths["/api/clinics/{slug}/anonymous-session"]
    assert "get" in paths["/healthz"]
    assert "/widget.js" not in paths
    assert web.get("/docs").status_code == 404
