"""``python -m bot therapist …`` and ``python -m bot audit``: dashboard accounts and the audit log.

Every change to an account (disable, enable, set-password, end-sessions) and every listing is
recorded in the audit log as ``cli:<operating-system user>``.

Registrars in the style of :mod:`bot.cli`, which lists them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli.common import CommandError, SubParsers, cli_actor, command_group, database_errors

if TYPE_CHECKING:
    from bot.clinics.therapists import AccountChange


# ----------------------------------------------------------------------------- therapist


def _read_password(args: argparse.Namespace, *, unchanged: str = "nothing was created") -> str:
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
        raise CommandError(f"The two passwords differ; {unchanged}.")
    return first


def _therapist_create(args: argparse.Namespace) -> int:
    from bot.clinics import therapists

    password = _read_password(args)
    with database_errors():
        try:
            therapist = therapists.create(args.clinic, args.email, password, admin=args.admin)
        except therapists.TherapistError as error:
            raise CommandError(str(error)) from error
    role = "administrator" if therapist.is_admin else "therapist"
    print(f"Created {role} {therapist.email} at {therapist.clinic_slug} ({therapist.clinic_name}).")
    return 0


def _sessions(count: int) -> str:
    return f"{count} session" + ("" if count == 1 else "s")


def _therapist_list(args: argparse.Namespace) -> int:
    """Print a clinic's accounts; like reading the audit log, reading the list is recorded."""
    from bot.clinics import audit, therapists

    with database_errors():
        clinic_id = therapists.clinic_id(args.clinic)
        if clinic_id is None:
            raise CommandError(f"No clinic with the slug {args.clinic!r}.")
        audit.record("view_staff", actor=cli_actor(), clinic_id=clinic_id)
        members = therapists.staff(clinic_id)
    if args.json:
        print(json.dumps([member.as_dict() for member in members], ensure_ascii=False, indent=2))
        return 0
    for member in members:
        status = (
            f"disabled since {member.disabled_at.isoformat(timespec='seconds')}"
            if member.disabled_at
            else "active"
        )
        last = member.last_login_at.isoformat(timespec="seconds") if member.last_login_at else "-"
        fields = (
            member.email,
            "administrator" if member.is_admin else "therapist",
            status,
            f"last sign-in {last}",
            f"{_sessions(member.live_sessions)} open",
        )
        print("\t".join(fields))
    return 0


def _account_change(action: str, args: argparse.Namespace) -> AccountChange:
    """Run one account change as the person at the terminal; a missing account is one line."""
    from bot.clinics import therapists

    changes = {
        "disable": therapists.disable,
        "enable": therapists.enable,
        "end-sessions": therapists.end_sessions,
    }
    with database_errors():
        try:
            return changes[action](by=cli_actor(), email=args.email)
        except therapists.AccountNotFound as error:
            raise CommandError(
                f"No account for {therapists.normalise_email(args.email)}."
            ) from error


def _therapist_disable(args: argparse.Namespace) -> int:
    change = _account_change("disable", args)
    who = f"{change.therapist.email} at {change.therapist.clinic_slug}"
    if change.changed:
        print(f"Disabled {who}; ended {_sessions(change.sessions_ended)}.")
    else:
        print(f"{who} was already disabled; ended {_sessions(change.sessions_ended)}.")
    return 0


def _therapist_enable(args: argparse.Namespace) -> int:
    change = _account_change("enable", args)
    who = f"{change.therapist.email} at {change.therapist.clinic_slug}"
    print(f"Enabled {who}." if change.changed else f"{who} was not disabled.")
    return 0


def _therapist_end_sessions(args: argparse.Namespace) -> int:
    change = _account_change("end-sessions", args)
    print(f"Ended {_sessions(change.sessions_ended)} of {change.therapist.email}.")
    return 0


def _therapist_set_password(args: argparse.Namespace) -> int:
    from bot.clinics import therapists

    password = _read_password(args, unchanged="the password was not changed")
    with database_errors():
        try:
            change = therapists.set_password(args.email, password, by=cli_actor())
        except therapists.AccountNotFound as error:
            raise CommandError(
                f"No account for {therapists.normalise_email(args.email)}."
            ) from error
        except therapists.TherapistError as error:
            raise CommandError(str(error)) from error
    print(
        f"Set a new password for {change.therapist.email}; "
        f"ended {_sessions(change.sessions_ended)}."
    )
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

    listing = actions.add_parser(
        "list",
        help="print a clinic's dashboard accounts",
        description="Print a clinic's accounts, tab-separated: e-mail, role, status, last "
        "sign-in (UTC) and open sessions. Reading the list is recorded in the audit log.",
    )
    listing.add_argument("--clinic", required=True, metavar="SLUG")
    listing.add_argument("--json", action="store_true", help="as a JSON array")
    listing.set_defaults(handler=_therapist_list)

    disable = actions.add_parser(
        "disable",
        help="stop an account from signing in and end its sessions",
        description="Stop an account from signing in, and end every session it has open at "
        "once. Its audit history stays; `therapist enable` undoes it.",
    )
    disable.add_argument("--email", required=True)
    disable.set_defaults(handler=_therapist_disable)

    enable = actions.add_parser(
        "enable",
        help="let a disabled account sign in again",
        description="Let a disabled account sign in again (its old sessions stay ended).",
    )
    enable.add_argument("--email", required=True)
    enable.set_defaults(handler=_therapist_enable)

    set_password = actions.add_parser(
        "set-password",
        help="give an account a new password and end its sessions",
        description="Give an account a new password, read from stdin (--password-stdin) or "
        "asked for twice at a prompt; every session of the account ends.",
    )
    set_password.add_argument("--email", required=True)
    set_password.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first stdin line"
    )
    set_password.set_defaults(handler=_therapist_set_password)

    end_sessions = actions.add_parser(
        "end-sessions",
        help="sign an account out everywhere",
        description="End every session an account has open (a lost or shared computer); "
        "the account can sign in again.",
    )
    end_sessions.add_argument("--email", required=True)
    end_sessions.set_defaults(handler=_therapist_end_sessions)


# ----------------------------------------------------------------------------- audit


def _moment(text: str, *, end: bool = False) -> datetime:
    """argparse type for ``--since``: an ISO date or date and time (UTC unless said)."""
    from bot.clinics.audit import parse_moment

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

    from bot.clinics import audit, registry
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
                registry.check_slug(args.clinic)
            except registry.ClinicError as error:
                raise CommandError(str(error)) from error
            raise CommandError(f"No clinic with the slug {args.clinic!r}.")
        filters = {
            "action": args.action,
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
        }
        audit.record(
            "view_audit",
            actor=cli_actor(),
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
