"""Request lines in the web app's logs without search terms or patients' data links.

uvicorn logs every request line at INFO, query string included. The dashboard's search
box puts what a therapist looks for - often a patient's own words - into the query
string, and a patient's data link (``/api/my-data/<token>``) carries the token that opens
their data. Logs are kept longer, copied further and read by more people than the
database, so neither may reach them: :class:`PrivatePaths` logs the path alone, with the
token replaced by ``…``.
"""

from __future__ import annotations

import logging
import re

#: uvicorn logs HTTP request lines on "uvicorn.access" and WebSocket handshakes on
#: "uvicorn.error"; both put the path with its query string into the record's arguments.
LOGGERS = ("uvicorn.access", "uvicorn.error")
REDACTED = "…"

# The segment after "my-data", however the path is spelt: a mistyped or doubled-slash link
# that the router does not match still carries a real token.
_TOKEN_SEGMENT = re.compile(r"(/my-data/+)[^/]+", re.IGNORECASE)


def private_path(path: str) -> str:
    """``path`` without its query string or fragment, and without a data link's token.

    uvicorn percent-encodes the path itself before appending ``?`` and the query string,
    so the first ``?`` always starts the query.
    """
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return _TOKEN_SEGMENT.sub(rf"\g<1>{REDACTED}", bare)


class PrivatePaths(logging.Filter):
    """Rewrites every request path among a record's arguments with :func:`private_path`.

    Never drops a record: that a request happened, and its status, stay in the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                private_path(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers, once per process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, PrivatePaths) for existing in logger.filters):
            logger.addFilter(PrivatePaths())
