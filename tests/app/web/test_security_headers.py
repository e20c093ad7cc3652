"""Every answer of the web app carries the security headers: pages, JSON, the widget's
script, static files, and every kind of error (400, 403, 404, 405, 422 and 500).

Against a real uvicorn process serving the seeded dashboard database. The 500 comes from a
real fault: the database loses a table under a running server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from logged_server import LoggedServer, logged_server
from servers import DASHBOARD_CSP, Browser

SECRET = "headers-test-secret-0123456789abcdef0123456789abcdef"
TIMEOUT = 30

#: Written out, not imported: a change to the app's constant must show up here.
EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DASHBOARD = {**EVERYWHERE, "Cache-Control": "no-store", "Content-Security-Policy": DASHBOARD_CSP}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    with logged_server(tmp_path_factory.mktemp("headers"), SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def therapist(server: LoggedServer) -> Browser:
    return Browser(server).sign_in(server.info.therapist)


def assert_headers(response: requests.Response, expected: dict[str, str]) -> None:
    for name, value in expected.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/healthz", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/widget.js", 200),
        ("GET", "/static/demo.css", 200),
        ("GET", "/static/dashboard.css", 200),
        ("GET", "/api/clinics/harbour/widget-config", 403),  # not from harbour's origins
        ("GET", "/api/clinics/nowhere/widget-config", 404),
        ("GET", "/clinics/harbour/safety", 200),
        ("GET", "/clinics/nowhere/safety", 404),
        ("POST", "/api/clinics/harbour/anonymous-session", 403),
        ("GET", "/api/clinics/harbour/anonymous-session", 405),
        ("DELETE", "/healthz", 405),
        ("OPTIONS", "/api/clinics/harbour/widget-config", 204),
        ("HEAD", "/static/demo.css", 200),
        ("GET", "/no-such-page", 404),
        ("GET", "/static/no-such-file.js", 404),
        ("GET", "/static/../bot/settings.py", 404),
    ],
)
@pytest.mark.slow
def test_public_answers(server: LoggedServer, method: str, path: str, status: int) -> None:
    response = requests.request(
        method, server.url + path, headers={"Origin": "https://evil.example"}, timeout=TIMEOUT
    )
    assert response.status_code == status
    assert_headers(response, EVERYWHERE)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/therapist/login", 200),
        ("/therapist/", 303),
        ("/therapist/patients/anyone", 303),
        ("/therapist/no-such-page", 303),
    ],
)
def test_dashboard_answers_to_strangers(server: LoggedServer, path: str, status: int) -> None:
    response = Browser(server).get(path)
    assert response.status_code == status
    assert_headers(response, DASHBOARD)


@pytest.mark.slow
def test_dashboard_answers_to_a_therapist(server: LoggedServer, therapist: Browser) -> None:
    patient = f"/therapist/patients/{server.info.main}"
    expected = {
        "/therapist/": 200,
        patient: 200,
        f"{patient}?q=kitchen&kind=checkin&from=2000-01-01&to=soon": 200,
        f"{patient}/export.csv": 200,
        f"{patient}/export.json": 200,
        f"{patient}/export.pdf": 200,
        f"/therapist/patients/{server.info.other}": 404,  # another clinic's patient
        f"{patient}/export.xml": 404,
        "/therapist/no-such-page": 404,
        "/therapist/audit": 404,  # not an administrator
    }
    for path, status in expected.items():
        response = therapist.get(path)
        assert response.status_code == status, path
        assert_headers(response, DASHBOARD)


def test_dashboard_refusals(server: LoggedServer, therapist: Browser) -> None:
    patient = f"/therapist/patients/{server.info.main}"
    refusals = [
        # No CSRF token.
        (therapist.post(f"{patient}/flags/{server.info.open_flag_id}/acknowledge"), 403),
        # A file where the e-mail address should be: FastAPI's own validation error.
        (
            requests.post(
                f"{server.url}/therapist/login",
                files={"email": ("a.txt", b"x")},
                timeout=TIMEOUT,
            ),
            422,
        ),
        # A body that claims to be multipart and is not.
        (
            requests.post(
                f"{server.url}/therapist/login",
                data=b"not multipart",
                headers={"Content-Type": "multipart/form-data"},
                timeout=TIMEOUT,
            ),
            400,
        ),
    ]
    for response, status in refusals:
        assert response.status_code == status, response.text
        assert_headers(response, DASHBOARD)


@pytest.mark.slow
def test_a_server_error_carries_the_headers_too(tmp_path: Path) -> None:
    with logged_server(tmp_path, SECRET) as broken:
        therapist = Browser(broken).sign_in(broken.info.therapist)
        with sqlite3.connect(broken.database) as connection:
            connection.execute("ALTER TABLE clinics RENAME TO clinics_gone")
        for response in (
            requests.get(f"{broken.url}/api/clinics/harbour/widget-config", timeout=TIMEOUT),
            therapist.get(f"/therapist/patients/{broken.info.main}"),
        ):
            assert response.status_code == 500
            assert response.text == "Internal Server Error"
            assert_headers(response, {**EVERYWHERE, "Cache-Control": "no-store"})
        assert "Exception in ASGI application" in broken.output()
