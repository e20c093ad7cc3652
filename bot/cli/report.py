"""``python -m bot report …``: counts a clinic may share beyond its care team.

``report referrals --clinic SLUG --month YYYY-MM``: crisis replies and risk flags of one clinic
in one month (:mod:`bot.records.referrals`), as a readable table, JSON or CSV. Counts only:
no patient id, no message text. Each run is recorded in the audit log.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.cli.common import CommandError, SubParsers, cli_actor, command_group, database_errors

if TYPE_CHECKING:
    from bot.records.referrals import ReferralReport

#: The CSV's columns: which part of the report, what was counted, its level, the counts.
CSV_COLUMNS = ("section", "kind", "level", "count", "messages")


def _table(headings: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(line[i]) for line in [list(headings), *cells]) for i in range(len(headings))]
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(headings))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if number else value.ljust(width)
            for value, width, number in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return [line(list(headings)), line(["-" * width for width in widths])] + [
        line(row) for row in cells
    ]


def _print_table(report: ReferralReport) -> None:
    print(f"Crisis replies and risk flags at {report.clinic} in {report.month} (UTC)")
    print()
    print("Crisis replies sent")
    if report.crisis_replies:
        replies = [(r.kind, r.level, r.count) for r in report.crisis_replies]
        total = sum(r.count for r in report.crisis_replies)
        print("\n".join(_table(("kind", "level", "replies"), [*replies, ("total", "", total)])))
    else:
        print("none")
    print()
    print("Risk flags raised")
    if report.risk_flags:
        flags = [(r.kind, r.level, r.count, r.messages) for r in report.risk_flags]
        total = (
            "total",
            "",
            sum(r.count for r in report.risk_flags),
            sum(r.messages for r in report.risk_flags),
        )
        print("\n".join(_table(("category", "level", "flags", "messages"), [*flags, total])))
    else:
        print("none")
    print()
    print("Counts only, without patients' ids or words; a small count may still point to someone.")


def _referrals(args: argparse.Namespace) -> int:
    from bot.clinics import audit
    from bot.records.referrals import ReportError, referral_report

    try:
        with database_errors():
            report = referral_report(args.clinic, args.month)
            audit.record(
                "referrals_report",
                actor=cli_actor(),
                clinic_id=report.clinic_id,
                detail={"month": report.month, "format": args.format},
            )
    except ReportError as error:
        raise CommandError(str(error)) from error
    if args.format == "json":
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in report.crisis_replies:
            writer.writerow(("crisis_reply", row.kind, row.level, row.count, ""))
        for row in report.risk_flags:
            writer.writerow(("risk_flag", row.kind, row.level, row.count, row.messages))
    else:
        _print_table(report)
    return 0


def register_report(subparsers: SubParsers) -> None:
    reports = command_group(
        subparsers,
        "report",
        help="counts for a clinic's safety reviews",
        description="Counts a clinic may share: no patient ids, no messages.",
    )
    referrals = reports.add_parser(
        "referrals",
        help="crisis replies and risk flags of one clinic in one month",
        description=(
            "Count the crisis replies the assistant sent (by kind) and the risk flags it raised "
            "(by category and level) for one clinic in one calendar month (UTC). No patient "
            "ids and no text; small counts are printed as they are."
        ),
    )
    referrals.add_argument("--clinic", required=True, metavar="SLUG")
    referrals.add_argument("--month", required=True, metavar="YYYY-MM")
    referrals.add_argument("--format", choices=("table", "json", "csv"), default="table")
    referrals.set_defaults(handler=_referrals)
