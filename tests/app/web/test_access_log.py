"""The web app's logs keep request paths without query strings or data-link tokens.

The filter itself (:mod:`bot.web.access_log`) is checked on log records built the way
uvicorn builds them; then a real uvicorn process, started with the runner's own command and
its normal INFO log level, is asked for dashboard searches and data links, and everything
it wrote to stdout and stderr is read back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests
import websocket
from hypothesis import given
from hypothesis import strategies as st
from logged_server import LoggedServer, logged_server
from servers import Browser
from uvicorn.logging import AccessFormatter

from bot.web import access_log
from bot.web.access_log import REDACTED, PrivatePaths, private_path

SECRET = "access-log-test-secret-0123456789abcdef0123456789"
#: Search words and a token that must never reach the logs.
SEARCH = "Zanzibar-marmalade-confession"
SEARCH_2 = "my-brother-Tobias"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwLXRlc3QifQ.Sig-Secret_0123456789abcdefXYZ"


def access_record(path: str, status: int = 200) -> logging.LogRecord:
    """A record exactly as uvicorn's HTTP protocol logs a request line."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", path, "1.1", status),
        None,
    )


# ----------------------------------------------------------------------------- private_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/healthz", "/healthz"),
        ("/therapist/patients/p-1?q=my+secret&kind=checkin", "/therapist/patients/p-1"),
        ("/therapist/login?next=/therapist/patients/p-1%3Fq%3Dsecret", "/therapist/login"),
        ("/?", "/"),
        (f"/api/my-data/{TOKEN}", f"/api/my-data/{REDACTED}"),
        (f"/api/my-data/{TOKEN}?format=json", f"/api/my-data/{REDACTED}"),
        (f"/api/my-data/{TOKEN}/export.csv", f"/api/my-data/{REDACTED}/export.csv"),
        (f"//api//my-data//{TOKEN}", f"//api//my-data//{REDACTED}"),
        (f"/API/MY-DATA/{TOKEN}", f"/API/MY-DATA/{REDACTED}"),
        ("/api/my-data/", "/api/my-data/"),
        ("/static/widget.js#fragment", "/static/widget.js"),
    ],
)
def test_private_path(path: str, expected: str) -> None:
    assert private_path(path) == expected


PATH_CHARS = st.characters(codec="ascii", exclude_characters="?#")
PATHS = st.text(PATH_CHARS, max_size=60).map(lambda rest: "/" + rest)
TOKENS = st.text(
    st.characters(codec="ascii", categories=["L", "N"], include_characters="-_.~%"), min_size=1
)


@given(path=PATHS, query=st.text(max_size=60))
def test_the_query_string_never_survives(path: str, query: str) -> None:
    result = private_path(f"{path}?{query}")
    assert result == private_path(path)
    assert "?" not in result


@given(path=PATHS)
def test_private_path_is_idempotent_and_changes_only_data_links(path: str) -> None:
    once = private_path(path)
    assert private_path(once) == once
    if "my-data/" not in path.lower():
        assert once == path


@given(
    before=st.sampled_from(["/api", "", "/api/", "/x/y"]),
    slashes=st.integers(min_value=1, max_value=3),
    token=TOKENS,
    after=st.sampled_from(["", "/", "/export.json", "/entries/4"]),
    query=st.text(max_size=30),
)
def test_a_data_link_token_never_survives(
    before: str, slashes: int, token: str, after: str, query: str
) -> None:
    path = f"{before}/my-data{'/' * slashes}{token}{after}?{query}"
    result = private_path(path)
    assert result == f"{before}/my-data{'/' * slashes}{REDACTED}{after}"


# ----------------------------------------------------------------------------- the filter


def test_the_filter_rewrites_uvicorns_request_line() -> None:
    record = access_record(f"/therapist/patients/p-1?q={SEARCH}", 200)
    assert PrivatePaths().filter(record) is True
    formatted = AccessFormatter(fmt='%(client_addr)s - "%(request_line)s" %(status_code)s')
    line = formatted.format(record)
    assert line == '127.0.0.1:50000 - "GET /therapist/patients/p-1 HTTP/1.1" 200 OK'


def test_the_filter_rewrites_uvicorns_websocket_line() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" 403',
        ("127.0.0.1:50000", f"/api/my-data/{TOKEN}?q={SEARCH}"),
        None,
    )
    PrivatePaths().filter(record)
    assert record.getMessage() == f'127.0.0.1:50000 - "WebSocket /api/my-data/{REDACTED}" 403'


def test_the_filter_leaves_other_records_alone() -> None:
    for args in [(), ("http", "127.0.0.1", 8000), ({"a": 1},), ("relative?q=1",)]:
        record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "m", args, None)
        before = record.args
        assert PrivatePaths().filter(record) is True
        assert record.args == before


def test_install_adds_one_filter_per_logger_however_often_it_runs() -> None:
    access_log.install()
    access_log.install()
    for name in access_log.LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, PrivatePaths) for f in filters) == 1


# ----------------------------------------------------------------------------- real uvicorn


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    with logged_server(tmp_path_factory.mktemp("access-log"), SECRET) as server:
        yield server


@pytest.mark.slow
def test_the_access_log_has_paths_but_no_searches_or_tokens(logged: LoggedServer) -> None:
    browser = Browser(logged).sign_in(logged.info.therapist)
    patient = f"/therapist/patients/{logged.info.main}"
    searched = browser.get(f"{patient}?q={SEARCH}&kind=checkin&from=2020-01-01")
    assert searched.status_code == 200
    assert SEARCH in searched.text  # the search reached the page: it was really made
    assert browser.get(f"/therapist/login?next={patient}%3Fq%3D{SEARCH_2}").status_code == 303
    for path in (f"/api/my-data/{TOKEN}", f"/api/my-data/{TOKEN}/export.json?q={SEARCH}"):
        requests.get(logged.url + path, timeout=15)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(
            f"ws://127.0.0.1:{logged.url.rsplit(':', 1)[1]}/api/my-data/{TOKEN}?q={SEARCH}",
            timeout=15,
        )
    # One more request whose line is known, so that everything before it has been written.
    requests.get(f"{logged.url}/healthz?probe={SEARCH_2}", timeout=15)

    output = logged.output()
    for secret in (SEARCH, SEARCH_2, TOKEN, TOKEN.split(".")[-1]):
        assert secret not in output
    assert f'"GET {patient} HTTP/1.1" 200' in output
    assert '"GET /therapist/login HTTP/1.1" 303' in output
    assert f'"GET /api/my-data/{REDACTED} HTTP/1.1" 4' in output
    assert f'"GET /api/my-data/{REDACTED}/export.json HTTP/1.1" 4' in output
    assert f'"WebSocket /api/my-data/{REDACTED}"' in output
    assert '"GET /healthz HTTP/1.1" 200' in output
