"""``python -m bot …``: command-line tools for operators and for patients' data requests.

Each command is one ``register_*`` function that adds its sub-parser and sets ``handler``
(a function taking the parsed arguments and returning the exit code). :func:`_all_commands`
lists them; a new command is a new registrar, and when this file grows the registrars can
move to sibling modules unchanged. Handlers import the application lazily so that
``--help`` and commands that need no database stay fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, TextIO

SubParsers = Any  # argparse's sub-parser action type is private
Registrar = Callable[[SubParsers], None]
Handler = Callable[[argparse.Namespace], int]

#: Base CSV columns, before one column per (flattened) journal field.
CSV_BASE_COLUMNS: tuple[str, ...] = (
    "number",
    "kind",
    "status",
    "created_at",
    "session_date",
    "mood",
    "craving",
)
LIST_SEPARATOR = "; "
# A cell starting with one of these is run as a formula by spreadsheet programs
# (OWASP "CSV injection"); a leading apostrophe makes it plain text again.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


# ----------------------------------------------------------------------------- export


def neutralise_formula(cell: str) -> str:
    """Prefix ``'`` to text a spreadsheet would evaluate; anything else is returned as is."""
    if cell.startswith(_FORMULA_PREFIXES):
        return "'" + cell
    return cell


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _cell_text(value: Any) -> str:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(_scalar_text(item) for item in value)
    return _scalar_text(value)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out)
    else:
        out[prefix] = _cell_text(value)


def flatten_fields(fields: dict[str, Any]) -> dict[str, str]:
    """One text cell per field: lists joined by ``"; "``, nested dicts as ``key.sub``."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        _flatten(key, value, out)
    return out


def _known_field_columns() -> list[str]:
    from bot.journal import FIELD_KEYS, URGE_SURFING_KEYS

    columns: list[str] = []
    for keys in FIELD_KEYS.values():
        for key in keys:
            if key == "urge_surfing":
                columns.extend(f"urge_surfing.{sub}" for sub in URGE_SURFING_KEYS)
            elif key not in columns:
                columns.append(key)
    return columns


def _field_columns(rows: Iterable[dict[str, str]]) -> list[str]:
    """Known fields in question order, then any others in order of first appearance."""
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(row))
    known = [column for column in _known_field_columns() if column in present]
    return known + [column for column in present if column not in known]


def write_export_csv(export: dict[str, Any], stream: IO[str]) -> None:
    """Write one CSV row per journal entry; patient text is kept verbatim apart from
    the apostrophe that defuses spreadsheet formulas."""
    entries: list[dict[str, Any]] = export["entries"]
    flattened = [flatten_fields(entry["fields"]) for entry in entries]
    field_columns = _field_columns(flattened)
    writer = csv.writer(stream)
    writer.writerow([neutralise_formula(c) for c in (*CSV_BASE_COLUMNS, *field_columns)])
    for entry, fields in zip(entries, flattened, strict=True):
        base = [_scalar_text(entry[column]) for column in CSV_BASE_COLUMNS]
        extra = [fields.get(column, "") for column in field_columns]
        writer.writerow([neutralise_formula(cell) for cell in (*base, *extra)])


def write_export_json(export: dict[str, Any], stream: IO[str]) -> None:
    """Pretty JSON with every character as typed (no ``\\u`` escapes for non-ASCII)."""
    json.dump(export, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


def _utf8_stdout() -> TextIO:
    # Exports must not depend on the terminal's locale; UTF-8 cannot encode lone
    # surrogates, so those (and only those) are written as backslash escapes.
    stdout = sys.stdout
    if hasattr(stdout, "reconfigure"):
        stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    return stdout


def _export(args: argparse.Namespace) -> int:
    from bot.journal import export_patient

    with database_errors():
        export = export_patient(args.patient)
    if export is None:
        raise CommandError(f"No patient with id {args.patient!r} in this database.")
    stdout = _utf8_stdout()
    if args.format == "csv":
        write_export_csv(export, stdout)
    else:
        write_export_json(export, stdout)
    stdout.flush()
    return 0


def register_export(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="print everything stored about one patient",
        description="Print one patient's journal (and, in JSON, risk flags) to stdout.",
    )
    parser.add_argument(
        "--patient", required=True, metavar="SENDER_ID", help="conversation sender id"
    )
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.set_defaults(handler=_export)


# ----------------------------------------------------------------------------- db


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.storage import db

    with database_errors():
        db.upgrade()
        revision = db.current_revision()
    print(f"{db.display_url()} is at schema revision {revision}.")
    return 0


def register_db(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "db", help="database maintenance", description="Database maintenance."
    )
    actions = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = actions.add_parser(
        "upgrade",
        help="apply schema migrations to DATABASE_URL",
        description="Apply all schema migrations to the database named by DATABASE_URL.",
    )
    upgrade.set_defaults(handler=_db_upgrade)


# ----------------------------------------------------------------------------- run


def _run(args: argparse.Namespace) -> int:
    from bot.runner import run

    return run(rasa_port=args.rasa_port, action_port=args.action_port, web_port=args.web_port)


def register_run(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="start the Rasa server, the action server and the web app",
        description="Start the Rasa server, the action server and the web app; Ctrl-C stops them.",
    )
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=8000)
    parser.set_defaults(handler=_run)


# ----------------------------------------------------------------------------- main


def _all_commands() -> tuple[Registrar, ...]:
    from bot.cli_clinics import register_clinic, register_patient

    return (register_run, register_export, register_db, register_clinic, register_patient)


def build_parser(commands: Sequence[Registrar] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Integration companion: command-line tools.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in commands if commands is not None else _all_commands():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process arguments), run the command, return its status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CommandError as error:
        print(error, file=sys.stderr)
        return 1
