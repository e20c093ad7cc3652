"""``python -m bot notify …``: risk-flag notifications by hand.

The web app sends them by itself (:class:`bot.clinics.notify.NotifierThread`); this is for an
operator who wants to see what is stuck and why, to send now after fixing the mail
settings, or to hand a clinic the key that signs its webhook requests.
Registrar in the style of :mod:`bot.cli`, which lists it.
"""

from __future__ import annotations

import argparse

from bot.cli.common import CommandError, SubParsers, database_errors


def _notify(args: argparse.Namespace) -> int:
    from bot.clinics import notify

    if args.webhook_key is not None:
        from bot.clinics import registry

        with database_errors():
            clinic = registry.get_clinic(args.webhook_key)
        if clinic is None:
            raise CommandError(f"No clinic with the slug {args.webhook_key!r}.")
        print(notify.webhook_key(clinic.slug))
        return 0
    with database_errors():
        report = notify.send_pending(ignore_backoff=args.retry_now)
    print(report.summary())
    return 0 if report.ok else 1


def register_notify(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "notify",
        help="send due risk-flag notifications now; print a clinic's webhook key",
        description="Send the risk-flag notifications that are due (the web app does this "
        "every few seconds by itself), or print the key that signs a clinic's webhook "
        "requests. Exits with 1 if a notification failed.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--once", action="store_true", help="one pass over the unsent notifications, then exit"
    )
    what.add_argument(
        "--webhook-key",
        metavar="SLUG",
        help="print the key that signs this clinic's webhook requests (give it to the clinic)",
    )
    parser.add_argument(
        "--retry-now",
        action="store_true",
        help="with --once: do not wait out the pause after a failed attempt",
    )
    parser.set_defaults(handler=_notify)
