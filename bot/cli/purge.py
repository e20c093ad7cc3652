"""``python -m bot purge``: delete conversations older than each clinic's retention period.

A registrar in the style of :mod:`bot.cli`, which lists it. Meant to run daily (cron, a
systemd timer); ``--dry-run`` shows what would go without deleting anything.
"""

from __future__ import annotations

import argparse

from bot.cli.common import CommandError, SubParsers, cli_actor, database_errors


def _purge(args: argparse.Namespace) -> int:
    from bot.privacy import retention

    with database_errors():
        try:
            results = retention.purge(
                clinic_slug=args.clinic, dry_run=args.dry_run, actor=cli_actor()
            )
        except LookupError as error:
            raise CommandError(f"No clinic with the slug {args.clinic!r}.") from error
    verb = "would delete" if args.dry_run else "deleted"
    if not results:
        print("No clinic has a retention period: nothing to purge.")
    for result in results:
        print(
            f"{result.clinic_slug}\t{verb} {result.events} conversation events older than "
            f"{result.retention_days} days (before {result.cutoff.isoformat()})"
        )
    return 0


def register_purge(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "purge",
        help="delete conversations older than each clinic's retention period",
        description="Delete conversation events older than each clinic's retention_days "
        "(never a conversation still going on); the receipts go to the audit log.",
    )
    parser.add_argument("--clinic", metavar="SLUG", help="only this clinic")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    parser.set_defaults(handler=_purge)
