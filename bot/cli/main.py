"""``python -m bot …``: command-line tools for operators and for patients' data requests.

Each command is one ``register_*`` function that adds its sub-parser and sets ``handler``
(a function taking the parsed arguments and returning the exit code). :func:`_all_commands`
lists them: ``run``, ``export`` and ``db`` here, the other groups in sibling modules, which
import only :mod:`bot.cli.common`. Handlers import the application lazily so that ``--help``
and commands that need no database stay fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.cli.common import (
    CommandError,
    Handler,
    Registrar,
    SubParsers,
    command_group,
    database_errors,
)

# The export formats live in bot.records.exports (the dashboard writes the same files); these names
# stay importable from here for scripts written against the command line's module.
from bot.records.exports import CSV_BASE_COLUMNS as CSV_BASE_COLUMNS
from bot.records.exports import LIST_SEPARATOR as LIST_SEPARATOR
from bot.records.exports import flatten_fields as flatten_fields
from bot.records.exports import neutralise_formula as neutralise_formula
from bot.records.exports import write_export_csv, write_export_json

# ----------------------------------------------------------------------------- export


def _utf8_stdout() -> TextIO:
    # Exports must not depend on the terminal's locale; UTF-8 cannot encode lone
    # surrogates, so those (and only those) are written as backslash escapes.
    stdout = sys.stdout
    if hasattr(stdout, "reconfigure"):
        stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    return stdout


def _export(args: argparse.Namespace) -> int:
    from bot.journal.entries import export_patient

    with database_errors():
        export = export_patient(args.patient)
    if export is None:
        raise CommandError(f"No patient with id {args.patient!r} in this database.")
    stdout = _utf8_stdout()
    if args.format == "csv":
        write_export_csv(export, stdout)
    elif args.format == "fhir":
        # Only this format loads the FHIR export (and, through it, the FHIR models).
        from bot.records.fhir import write_fhir_json

        write_fhir_json(export, stdout)
    else:
        write_export_json(export, stdout)
    stdout.flush()
    return 0


def register_export(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="print everything stored about one patient",
        description=(
            "Print one patient's journal (and, in JSON and FHIR, risk flags) to stdout; "
            "fhir is a FHIR R4B Bundle for a clinic's EHR."
        ),
    )
    parser.add_argument(
        "--patient", required=True, metavar="SENDER_ID", help="conversation sender id"
    )
    parser.add_argument("--format", choices=("json", "csv", "fhir"), default="json")
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
    actions = command_group(
        subparsers, "db", help="database maintenance", description="Database maintenance."
    )
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
    from bot.cli.clinics import register_clinic, register_patient
    from bot.cli.keys import register_keys
    from bot.cli.notify import register_notify
    from bot.cli.purge import register_purge
    from bot.cli.report import register_report
    from bot.cli.staff import register_audit, register_therapist

    return (
        register_run,
        register_export,
        register_db,
        register_clinic,
        register_patient,
        register_therapist,
        register_audit,
        register_notify,
        register_keys,
        register_purge,
        register_report,
    )


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
