"""``python -m bot clinic …`` and ``python -m bot patient …``: clinics, patients' links and
the erasure of a patient's data.

Registrars in the style of :mod:`bot.cli`, which lists them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timedelta
from typing import Any

from bot.cli.common import CommandError, SubParsers, cli_actor, command_group, database_errors
from bot.safety.clinic_lines import LINE_KINDS

_DURATION = re.compile(r"\s*(\d{1,7})\s*([mhdw])\s*")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w`` as a timedelta (argparse type)."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write a number and m, h, d or w, e.g. 30d"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_retention(text: str) -> int:
    """``--retention-days``: a number of days, or ``none`` (stored as 0: no period)."""
    value = text.strip().lower()
    if value == "none":
        return 0
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a retention period: write a number of days, or none"
        )
    return int(value)


def _crisis_lines(values: list[str] | None) -> list[dict[str, Any]] | None:
    from bot.clinics.registry import ClinicError, parse_crisis_line

    if not values:
        return None
    try:
        return [parse_crisis_line(value) for value in values]
    except ClinicError as error:
        raise CommandError(str(error)) from error


def _print_clinic(clinic: Any) -> None:
    print(json.dumps(clinic.as_dict(), ensure_ascii=False, indent=2))


#: Why a clinic without an e-mail address or webhook is refused (one line, on stderr).
NO_CHANNEL_REFUSED = (
    "Refusing to create a clinic that tells nobody about risk flags: without --notify-email "
    "or --webhook-url, a flag (a suicide risk too) reaches nobody until someone opens the "
    "dashboard. Give --notify-email ADDRESS or --webhook-url URL, or pass --no-notify to "
    "accept that."
)


def _no_channel_warning(slug: str) -> str:
    """Said whenever a clinic is left without a notification channel."""
    return (
        f"Warning: clinic {slug!r} has no notification channel. Its risk flags, suicide risks "
        "included, reach nobody until someone opens the dashboard. Set one with "
        f"`python -m bot clinic update --slug {slug} --notify-email ADDRESS` "
        "(or --webhook-url URL)."
    )


def _next_steps(clinic: Any) -> str:
    """What ``clinic create`` tells the operator after the JSON: the tag to paste (on stderr,
    so that stdout stays the clinic's JSON for scripts) and what is left to do."""
    from bot.clinics import registry

    pages = " or ".join(clinic.origins)
    steps = [
        f"Paste this tag into the clinic's pages (on {pages}):",
        f"  {registry.embed_tag(clinic.slug)}",
        "Next steps:",
        "  - give each patient their personal link: "
        f"python -m bot patient invite --clinic {clinic.slug} --expires 30d",
        "  - create the dashboard accounts: "
        f"python -m bot therapist create --clinic {clinic.slug} --email ADDRESS [--admin] "
        f"(python -m bot therapist list --clinic {clinic.slug} shows them)",
    ]
    channels = clinic.notification_channels
    if channels:
        steps.append(f"  - risk flags are announced by {', '.join(channels)}")
    else:
        steps.append(
            "  - set the notification channel: "
            f"python -m bot clinic update --slug {clinic.slug} --notify-email ADDRESS "
            "(or --webhook-url URL)"
        )
    return "\n".join(steps)


def _clinic_save(args: argparse.Namespace) -> int:
    """``clinic create`` and ``clinic update``: the same settings, all optional on update."""
    from bot.clinics import registry

    settings: dict[str, Any] = {
        "crisis_lines": _crisis_lines(args.crisis_line),
        "accent_color": args.accent_color,
        "greeting": args.greeting,
        "allow_anonymous": args.allow_anonymous,
        "patient_url": args.patient_url,
        "notify_emails": args.notify_email,
        "webhook_url": args.webhook_url,
        "retention_days": args.retention_days,
        "erasure_review": args.erasure_review,
        "emergency_number": args.emergency_number,
        "response_time": args.response_time,
        "notify_levels": args.notify_level,
        "peer_support_line": args.peer_support_line,
        "care_team_contact": args.care_team_contact,
        "care_team_hours": args.care_team_hours,
        "flag_actions": args.flag_action,
        "timezone": args.timezone,
        "quiet_hours": args.quiet_hours,
    }
    creating = args.clinic_command == "create"
    if creating:
        _check_notification_choice(args)
    before = None
    with database_errors():
        try:
            if creating:
                clinic = registry.create(args.slug, args.name, origins=args.origin, **settings)
            else:
                before = registry.get_clinic(args.slug)
                clinic = registry.update(
                    args.slug,
                    name=args.name,
                    origins=args.origin,
                    add_origins=args.add_origin,
                    consent_text=_consent_text(args.consent_file),
                    **settings,
                )
        except registry.ClinicError as error:
            raise CommandError(str(error)) from error
    _print_clinic(clinic)
    removed_last = before is not None and bool(before.notification_channels)
    if not clinic.notification_channels and (creating or removed_last):
        print(_no_channel_warning(clinic.slug), file=sys.stderr)
    if creating:
        print(_next_steps(clinic), file=sys.stderr)
    return 0


def _consent_text(path: str | None) -> str | None:
    """The text of ``--consent-file`` (UTF-8, a blank line between paragraphs), or None."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"--consent-file {path}: {error}") from error


def _check_notification_choice(args: argparse.Namespace) -> None:
    """A new clinic names how it hears of risk flags, or says with --no-notify that it
    chooses to hear of none: a suicide flag nobody is told of must be a decision, not an
    oversight. (The demo clinic, made by the web app, has no channel and is not made here.)"""
    channel = bool(args.notify_email) or bool(args.webhook_url)
    if args.no_notify and channel:
        raise CommandError(
            "--no-notify contradicts --notify-email and --webhook-url: give one or the other."
        )
    if not args.no_notify and not channel:
        raise CommandError(NO_CHANNEL_REFUSED)


def _clinic_list(args: argparse.Namespace) -> int:
    from bot.clinics import registry

    with database_errors():
        found = registry.list_clinics()
    if args.json:
        print(json.dumps([c.as_dict() for c in found], ensure_ascii=False, indent=2))
        return 0
    for clinic in found:
        anonymous = "anonymous chats allowed" if clinic.allow_anonymous else "personal links only"
        print(
            f"{clinic.slug}\t{clinic.name}\t{' '.join(clinic.origins) or '(no origins)'}\t{anonymous}"
        )
    return 0


def _settings_arguments(parser: argparse.ArgumentParser, *, create: bool) -> None:
    parser.add_argument("--slug", required=True, help="short name used in the widget's tag")
    parser.add_argument("--name", required=create, help="the clinic's name as patients see it")
    parser.add_argument(
        "--origin",
        action="append",
        required=create,
        metavar="URL",
        help="a web origin whose pages embed the widget, e.g. https://clinic.example "
        + ("(repeat for several)" if create else "(replaces the list; repeatable)"),
    )
    if not create:
        parser.add_argument(
            "--add-origin", action="append", metavar="URL", help="add an origin to the list"
        )
    parser.add_argument(
        "--crisis-line",
        action="append",
        metavar="NAME=NUMBER[;kinds=KIND,…][;detail=TEXT]",
        help="a crisis line for 'Get help now', and for the crisis replies of its kinds "
        f"({', '.join(LINE_KINDS)}); detail is said after the number "
        + ("(repeatable; default: the US lines)" if create else "(replaces the list; repeatable)"),
    )
    parser.add_argument(
        "--emergency-number",
        metavar="NUMBER",
        help="the number urgent crisis replies give first" + (" (default: 911)" if create else ""),
    )
    parser.add_argument(
        "--response-time",
        metavar="TEXT",
        help="when the care team usually reads a risk flag, as crisis replies say it after "
        "'usually'" + (" (default: 'within one working day')" if create else ""),
    )
    parser.add_argument(
        "--notify-level",
        action="append",
        metavar="LEVEL",
        help="a risk-flag level (urgent, elevated, info, or request: a patient's message for "
        "the care team) announced by e-mail or webhook; urgent always is "
        + (
            "(repeatable; default: urgent, elevated and request)"
            if create
            else "(replaces the list; repeatable)"
        ),
    )
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument(
        "--peer-support-line",
        dest="peer_support_line",
        action="store_true",
        default=None,
        help="after a session, offer the Fireside Project's psychedelic peer-support line",
    )
    peer.add_argument(
        "--no-peer-support-line",
        dest="peer_support_line",
        action="store_false",
        help="do not offer the peer-support line" + (" (the default)" if create else ""),
    )
    parser.add_argument(
        "--care-team-contact",
        metavar="TEXT",
        help="how a patient reaches the care team, told to one who asks for a person, e.g. "
        "'call (555) 010-0100 or e-mail care@clinic.example'"
        + ("" if create else " ('' removes it)"),
    )
    parser.add_argument(
        "--care-team-hours",
        metavar="TEXT",
        help="when someone answers, e.g. 'Monday to Friday, 9 am to 5 pm'"
        + ("" if create else " ('' removes it)"),
    )
    parser.add_argument(
        "--flag-action",
        action="append",
        metavar="TEXT",
        help="what staff can record as done when they acknowledge a risk flag on the dashboard, "
        "e.g. 'Called the patient' "
        + (
            "(repeatable; default: Called the patient, Safety plan reviewed, Seen in session, "
            "No action needed)"
            if create
            else "(replaces the list; repeatable)"
        ),
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the clinic's IANA time zone, e.g. Europe/London: the dashboard and the PDF show "
        "times in it, and session days and reminders' quiet hours are counted in it"
        + (" (default: UTC)" if create else ""),
    )
    parser.add_argument(
        "--quiet-hours",
        metavar="HH:MM-HH:MM",
        help="when no reminder e-mail is sent, in the clinic's time zone"
        + (" (default: 21:00-08:00)" if create else "; '' for none"),
    )
    if not create:
        parser.add_argument(
            "--consent-file",
            metavar="FILE",
            help="the clinic's own consent text (UTF-8, a blank line between paragraphs): what "
            "patients agree to before anything is kept; a changed text is a new version, "
            "and every patient is asked again",
        )
    parser.add_argument("--accent-color", metavar="#RRGGBB")
    parser.add_argument("--greeting", help="the widget's first message")
    parser.add_argument("--patient-url", metavar="URL", help="the page personal links open")
    emails = parser.add_mutually_exclusive_group()
    emails.add_argument(
        "--notify-email",
        action="append",
        metavar="ADDRESS",
        help="an address told about each new risk flag, without what the patient wrote "
        + ("(repeatable)" if create else "(replaces the list; repeatable)"),
    )
    if not create:
        emails.add_argument(
            "--no-notify-email",
            dest="notify_email",
            action="store_const",
            const=[],
            help="tell no address about new risk flags",
        )
    parser.add_argument(
        "--webhook-url",
        metavar="URL",
        help="an https:// address that receives a signed POST for each new risk flag"
        + ("" if create else " ('' switches it off)"),
    )
    if create:
        parser.add_argument(
            "--no-notify",
            action="store_true",
            help="create the clinic without --notify-email or --webhook-url (refused otherwise): "
            "its risk flags, suicide risks too, then reach nobody until someone opens the "
            "dashboard",
        )
    anonymous = parser.add_mutually_exclusive_group()
    anonymous.add_argument(
        "--allow-anonymous",
        dest="allow_anonymous",
        action="store_true",
        default=False if create else None,
        help="let visitors chat without a personal link (demo clinics only)",
    )
    anonymous.add_argument("--no-anonymous", dest="allow_anonymous", action="store_false")
    parser.add_argument(
        "--retention-days",
        type=parse_retention,
        metavar="N|none",
        help="delete conversations older than N days (`python -m bot purge`); none keeps them",
    )
    review = parser.add_mutually_exclusive_group()
    review.add_argument(
        "--erasure-review",
        dest="erasure_review",
        action="store_true",
        default=None,
        help="the clinic must keep records: a patient's erasure becomes a request for staff",
    )
    review.add_argument(
        "--no-erasure-review",
        dest="erasure_review",
        action="store_false",
        help="a patient's erasure happens at once",
    )


def register_clinic(subparsers: SubParsers) -> None:
    actions = command_group(
        subparsers, "clinic", help="create, update and list clinics", description="Manage clinics."
    )
    create = actions.add_parser(
        "create",
        help="add a clinic",
        description="Add a clinic and print its settings as JSON; the script tag for its pages "
        "and the next steps go to stderr. A clinic needs --notify-email or --webhook-url "
        "(how staff hear of risk flags), or --no-notify.",
    )
    _settings_arguments(create, create=True)
    create.set_defaults(handler=_clinic_save)
    update = actions.add_parser(
        "update", help="change a clinic's settings", description="Change a clinic's settings."
    )
    _settings_arguments(update, create=False)
    update.set_defaults(handler=_clinic_save)
    listing = actions.add_parser("list", help="list clinics", description="List clinics.")
    listing.add_argument("--json", action="store_true", help="all settings, as JSON")
    listing.set_defaults(handler=_clinic_list)


# ----------------------------------------------------------------------------- patient


def _patient_invite(args: argparse.Namespace) -> int:
    from bot.clinics import audit, patients, therapists
    from bot.patient_tokens import AccessDenied

    with database_errors():
        try:
            invite = patients.invite(
                args.clinic, args.expires, label=args.label, therapist=args.therapist
            )
        except AccessDenied as error:
            raise CommandError(f"No clinic with the slug {args.clinic!r}.") from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        audit.record(
            "invite_patient",
            actor=cli_actor(),
            clinic_id=therapists.clinic_id(args.clinic),
            target=invite.sender_id,
            detail={"link_id": invite.link_id, "therapist": invite.therapist},
        )
    print(invite.url)
    named = f" ({invite.label})" if invite.label else ""
    assigned = f", assigned to {invite.therapist}" if invite.therapist else ""
    print(
        f"patient {invite.sender_id}{named}{assigned}, link {invite.link_id}, valid until "
        f"{invite.expires_at.isoformat()}. Give the link to the patient only; "
        "it is not shown again.",
        file=sys.stderr,
    )
    return 0


def _patient_revoke(args: argparse.Namespace) -> int:
    from bot.clinics import patients

    with database_errors():
        count = patients.revoke(sender_id=args.patient, link_id=args.link)
    if count == 0:
        raise CommandError("No active link matched: nothing was revoked.")
    print(f"Revoked {count} link{'s' if count != 1 else ''}.")
    return 0


def _confirmed(sender_id: str, assume_yes: bool) -> bool:
    """``--yes``, or the operator typed the patient id at the terminal; without a terminal
    to ask on, no confirmation is possible and the erasure is refused."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError(
            "Refusing to erase without confirmation: run it in a terminal, or pass --yes."
        )
    print(
        f"This erases every journal entry, risk flag and conversation of {sender_id}. "
        "It cannot be undone.\nType the patient id to confirm: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    return sys.stdin.readline().strip() == sender_id


def _patient_erase(args: argparse.Namespace) -> int:
    from bot.privacy import erasure

    if not _confirmed(args.patient, args.yes):
        raise CommandError("The id typed did not match: nothing was erased.")
    with database_errors():
        try:
            receipt = erasure.erase_patient(args.patient, cli_actor())
        except erasure.UnknownPatient as error:
            raise CommandError(f"No patient with id {args.patient!r} in this database.") from error
    for store, result in receipt.stores.items():
        state = (
            f"{result['erased']} erased" if "erased" in result else f"FAILED ({result['failed']})"
        )
        if result.get("kept_until_notified"):
            state += (
                f", {result['kept_until_notified']} kept without what the patient wrote "
                "until the care team is notified"
            )
        print(f"{store}\t{state}")
    if receipt.failed:
        raise CommandError(
            f"Erasing {', '.join(receipt.failed)} failed; the rest was erased. "
            "Fix the cause and run the command again."
        )
    print(f"Erased the data of {args.patient}; the receipt is in the audit log.", file=sys.stderr)
    return 0


def register_patient(subparsers: SubParsers) -> None:
    actions = command_group(
        subparsers,
        "patient",
        help="personal chat links for patients",
        description="Create and revoke patients' personal chat links.",
    )
    invite = actions.add_parser(
        "invite",
        help="a new patient and their personal link",
        description="Create a patient of the clinic and print their personal link.",
    )
    invite.add_argument("--clinic", required=True, metavar="SLUG")
    invite.add_argument(
        "--expires",
        type=parse_duration,
        default=timedelta(days=30),
        metavar="DURATION",
        help="how long the link works: e.g. 30d (default), 12h, 2w",
    )
    invite.add_argument(
        "--label",
        metavar="TEXT",
        help="the clinic's own name for the patient, e.g. initials and a chart number "
        "(stored encrypted; shown to the clinic's staff only)",
    )
    invite.add_argument(
        "--therapist",
        metavar="EMAIL",
        help="the therapist of this clinic the patient is assigned to",
    )
    invite.set_defaults(handler=_patient_invite)
    revoke = actions.add_parser(
        "revoke",
        help="switch off a patient's links",
        description="Switch off every link of a patient, or one link.",
    )
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--patient", metavar="SENDER_ID", help="every link of this patient")
    target.add_argument("--link", metavar="LINK_ID", help="one link")
    revoke.set_defaults(handler=_patient_revoke)
    erase = actions.add_parser(
        "erase",
        help="erase everything a patient wrote or said",
        description="Erase a patient's journal, risk flags and conversations (the patient "
        "and their links stay, as ids only); the receipt goes to the audit log.",
    )
    erase.add_argument("--patient", required=True, metavar="SENDER_ID")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(handler=_patient_erase)
