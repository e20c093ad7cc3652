"""``python -m bot therapist …`` and ``python -m bot audit``: dashboard accounts and the audit log.

Registrars in the style of :mod:`bot.cli`, which lists them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime

from bot.cli import CommandError, SubParsers, command_group, database_errors


def _cli_actor() -> str:
    """Who ran a command, for the audit log: the operating-system account."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (some containers)
        user = "unknown"
    return f"cli:{user}"


# ----------------------------------------------------------------------------- therapist


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (one line, for scripts) or typed twice at a prompt that does not echo it."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    try:
        first = getpass.getpass("Password (at least 12 characters): ")
        second = getpass.getpass("The same password again: ")
    except (EOFError, KeyboardInterrupt) as error:
        raise CommandError("No password was given.") from error
    if first != second:
        raise CommandError("The two passwords differ; nothing was created.")
    return first


def _therapist_create(args: argparse.Namespace) -> int:
    from bot import therapists

    password = _read_password(args)
    with database_errors():
        try:
            therapist = therapists.create(args.clinic, args.email, password, admin=args.admin)
        except therapists.TherapistError as error:
            raise CommandError(str(error)) from error
    role = "administrator" if therapist.is_admin else "therapist"
    print(f"Created {role} {therapist.email} at {therapist.clinic_slug} ({therapist.clinic_name}).")
    return 0


def register_therapist(subparsers: SubParsers) -> None:
    actions = command_group(
        subparsers,
        "therapist",
        help="dashboard accounts for therapists and clinic administrators",
        description="Manage who can sign in to the therapists' dashboard.",
    )
    create = actions.add_parser(
        "create",
        help="add a dashboard account",
        description="Add a dashboard account to a clinic. The password is read from stdin "
        "(--password-stdin) or asked for twice at a prompt; at least 12 characters.",
    )
    create.add_argument("--clinic", required=True, metavar="SLUG")
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true", help="may also read the clinic's audit log")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first stdin line"
    )
    create.set_defaults(handler=_therapist_create)


# ----------------------------------------------------------------------------- audit


def _moment(text: str, *, end: bool = False) -> datetime:
    """argparse type for ``--since``: an ISO date or date and time (UTC unless said)."""
    from bot.audit import parse_moment

    try:
        return parse_moment(text, end=end)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date like 2026-11-27 or 2026-11-27T14:00"
        ) from None


def _moment_end(text: str) -> datetime:
    """argparse type for ``--until``: a bare date includes the whole of that day."""
    return _moment(text, end=True)


def _audit(args: argparse.Namespace) -> int:
    """Print a clinic's audit log; reading it is itself recorded first, like on the web page."""
    from sqlalchemy import select

    from bot import audit, clinics
    from bot.storage import db
    from bot.storage.models import Clinic

    if args.action is not None and args.action not in audit.ACTIONS:
        raise CommandError(f"Unknown action {args.action!r}; one of: {', '.join(audit.ACTIONS)}.")
    with database_errors():
        db.ensure_schema()
        with db.session_scope(write=False) as session:
            clinic_id = session.scalar(select(Clinic.id).where(Clinic.slug == args.clinic))
        if clinic_id is None:
            try:
                clinics.check_slug(args.clinic)
            except clinics.ClinicError as error:
                raise CommandError(str(error)) from error
            raise CommandError(f"No clinic with the slug {args.clinic!r}.")
        filters = {
            "action": args.action,
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
        }
        audit.record(
            "view_audit",
            actor=_cli_actor(),
            clinic_id=clinic_id,
            detail={key: value for key, value in filters.items() if value},
        )
        rows = audit.query(
            clinic_id, action=args.action, since=args.since, until=args.until, limit=args.limit
        )
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        detail = json.dumps(row.detail, ensure_ascii=False, sort_keys=True) if row.detail else ""
        fields = (
            row.at.isoformat(timespec="seconds"),
            row.actor,
            row.action,
            row.outcome,
            row.target or "-",
            row.ip or "-",
            detail,
        )
        # Tabs and newlines inside a value would break the columns (and could fake rows).
        print("\t".join(" ".join(field.split()) for field in fields).rstrip("\t"))
    return 0


def register_audit(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="print a clinic's audit log",
        description="Print a clinic's audit log, newest first: time (UTC), who, action, "
        "outcome, target, address and details, tab-separated.",
    )
    parser.add_argument("--clinic", required=True, metavar="SLUG")
    parser.add_argument("--action", help="only this action, e.g. login or view_patient")
    parser.add_argument("--since", type=_moment, metavar="ISO", help="from this date/time on")
    parser.add_argument("--until", type=_moment_end, metavar="ISO", help="before this date/time")
    parser.add_argument("--limit", type=int, default=500, help="at most this many rows")
    parser.add_argument("--json", action="store_true", help="as a JSON array")
    parser.set_defaults(handler=_audit)
