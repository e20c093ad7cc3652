"""What every ``python -m bot`` command group shares: sub-parser groups, the one-line errors
and who ran a command, for the audit log."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SubParsers = Any  # argparse's sub-parser action type is private
Registrar = Callable[[SubParsers], None]
Handler = Callable[[argparse.Namespace], int]


def command_group(subparsers: SubParsers, name: str, *, help: str, description: str) -> SubParsers:
    """Add ``python -m bot NAME COMMAND ...`` and return where its commands are added."""
    parser = subparsers.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


class CommandError(Exception):
    """A failure to report as one line on stderr with exit status 1, without a traceback."""


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a database failure into one readable line (with the password masked).

    Only failures to reach or use the database (bad URL, missing driver, locked or
    unreachable database, a file path that cannot be created) are caught; programming
    errors keep their traceback.
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from bot.storage import db

    try:
        yield
    except (ArgumentError, DBAPIError, ImportError, OSError) as error:
        reason = getattr(error, "orig", None) or error
        raise CommandError(f"Could not use the database at {db.display_url()}: {reason}") from error


def cli_actor() -> str:
    """Who ran a command, for the audit log: the operating-system account."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (some containers)
        user = "unknown"
    return f"cli:{user}"
