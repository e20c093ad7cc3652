"""The web app's JSON API against its own published ``/openapi.json``, with schemathesis.

A real uvicorn process, started the way ``make run`` starts it, publishes the schema and
answers every generated request for every operation in it. Every built-in check runs: no
server errors, only documented status codes and content types, bodies that match the
declared response schemas (:mod:`bot.web.api_docs`), and refusal of requests that break
the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from servers import base_environment, serving, web_app_service

from bot.clinics import registry
from bot.runner import free_port
from bot.storage import db
from bot.web.app import create_app

SECRET = "fuzz-test-secret-0123456789abcdef0123456789abcdef"
NORTH = "https://north.example"
TIMEOUT = 15


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a database with the demo clinic and one real clinic, "north"."""
    directory: Path = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {
        **base_environment(directory, port, SECRET),
        "COMPANION_NOTIFY_INTERVAL": "0",
        "COMPANION_DEMO_MODE": "1",
        # Hundreds of generated requests from one address: the limits have tests of their own.
        "COMPANION_ANONYMOUS_SESSIONS_PER_IP": "off",
        "COMPANION_ANONYMOUS_SESSIONS": "off",
    }
    db.upgrade(env["DATABASE_URL"])
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        db.reset_engines()
        registry.create("north", "North clinic", origins=[NORTH], allow_anonymous=True)
        db.reset_engines()
    with serving(web_app_service(port), env):
        yield f"http://127.0.0.1:{port}"


#: The schema the app publishes, read at collection time so that every operation becomes a
#: test of its own; ``test_the_served_schema_is_the_one_tested`` checks that the running
#: server publishes exactly this. (schemathesis' lazy ``from_fixture`` loader does not run
#: on pytest 9.2: it sets a node attribute that pytest no longer has.)
PUBLISHED = create_app().openapi()
schema = schemathesis.openapi.from_dict(PUBLISHED)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_published_schema(
    web_url: str, case: schemathesis.Case
) -> None:
    case.call_and_validate(base_url=web_url, timeout=TIMEOUT)


def test_the_served_schema_is_the_one_tested(web_url: str) -> None:
    served = requests.get(f"{web_url}/openapi.json", timeout=TIMEOUT)
    assert served.status_code == 200
    assert served.json() == PUBLISHED


def test_the_schema_lists_the_json_api_and_nothing_else(web_url: str) -> None:
    """Pages, static files and the dashboard are not API operations; the API is all there."""
    published = requests.get(f"{web_url}/openapi.json", timeout=TIMEOUT).json()
    operations = {
        (method.upper(), path) for path, methods in published["paths"].items() for method in methods
    }
    assert {
        ("GET", "/healthz"),
        ("GET", "/api/clinics/{slug}/widget-config"),
        ("POST", "/api/clinics/{slug}/anonymous-session"),
    } <= operations
    assert all(path.startswith(("/api/", "/healthz")) for _, path in operations)


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["demo", "north", "nowhere", "NORTH", "-", "a" * 300])
@pytest.mark.parametrize("origin", [None, NORTH, "https://evil.example"])
def test_known_and_unknown_clinics_conform_to_the_schema(
    web_url: str, slug: str, origin: str | None
) -> None:
    """The generated slugs are almost never a real clinic's: these are, with and without
    the clinic's origin, so the successful answers are checked against the schema too."""
    headers = {"Origin": origin} if origin else None
    operations = [
        schema["/api/clinics/{slug}/widget-config"]["GET"],
        schema["/api/clinics/{slug}/anonymous-session"]["POST"],
    ]
    for operation in operations:
        case = operation.Case(path_parameters={"slug": slug}, headers=headers)
        response = case.call_and_validate(base_url=web_url, timeout=TIMEOUT)
        assert response.status_code in {200, 403, 404}, (operation.label, response.text)
