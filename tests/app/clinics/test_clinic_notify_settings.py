"""A clinic's risk-flag notification settings: e-mail addresses and a webhook address."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.clinics import registry
from bot.clinics.registry import ClinicError
from bot.settings import PROJECT_ROOT

BASE_KEYS = {
    "slug",
    "name",
    "origins",
    "crisis_lines",
    "accent_color",
    "greeting",
    "allow_anonymous",
    "patient_url",
    "emergency_number",
    "response_time",
    "notify_levels",
    "peer_support_line",
}


def create(**options) -> registry.ClinicView:
    return registry.create("north", "North", origins=["https://north.example"], **options)


# ----------------------------------------------------------------------------- service


def test_a_clinic_without_notifications_keeps_its_old_shape(clinic_db: str) -> None:
    view = create()

    assert view.notify_emails == [] and view.webhook_url is None
    assert set(view.as_dict()) == BASE_KEYS


def test_create_with_notifications(clinic_db: str, database_path: Path) -> None:
    view = create(
        notify_emails=[" care@North.Example ", "On.Call+risk@north.example", "CARE@north.example"],
        webhook_url=" https://hooks.north.example/risk?team=7 ",
    )

    assert view.notify_emails == ["care@north.example", "On.Call+risk@north.example"]
    assert view.webhook_url == "https://hooks.north.example/risk?team=7"
    assert view.as_dict() == {
        **{key: value for key, value in view.as_dict().items() if key in BASE_KEYS},
        "notify_emails": ["care@north.example", "On.Call+risk@north.example"],
        "webhook_url": "https://hooks.north.example/risk?team=7",
    }
    assert registry.get_clinic("north") == view
    with sqlite3.connect(database_path) as connection:
        emails, url = connection.execute(
            "SELECT notify_emails, webhook_url FROM clinics WHERE slug = 'north'"
        ).fetchone()
    assert json.loads(emails) == view.notify_emails
    assert url == view.webhook_url


def test_update_replaces_and_clears_notifications(clinic_db: str) -> None:
    create(notify_emails=["care@north.example"], webhook_url="https://hooks.north.example/")

    changed = registry.update("north", notify_emails=["team@north.example"])
    assert changed.notify_emails == ["team@north.example"]
    assert changed.webhook_url == "https://hooks.north.example/"
    assert registry.update("north", name="North Clinic").notify_emails == ["team@north.example"]

    cleared = registry.update("north", notify_emails=[], webhook_url="")
    assert cleared.notify_emails == [] and cleared.webhook_url is None
    assert set(cleared.as_dict()) == BASE_KEYS


@pytest.mark.parametrize(
    "address",
    [
        "",
        "care",
        "care@",
        "@north.example",
        "care@north example",
        "care@north.example\nBcc: x@evil.example",
        "care@north.example,x@evil.example",
        "Care Team <care@north.example>",
        '"care"@north.example',
        "care@-north.example",
        "care@north..example",
        "care@@north.example",
        "c" * 65 + "@north.example",
        "care@" + "a" * 250 + ".example",
    ],
)
def test_unusable_addresses_are_refused(clinic_db: str, address: str) -> None:
    with pytest.raises(ClinicError, match="e-mail address"):
        create(notify_emails=[address])
    assert registry.get_clinic("north") is None


def test_at_most_twenty_addresses(clinic_db: str) -> None:
    twenty = [f"care{i}@north.example" for i in range(20)]
    assert create(notify_emails=twenty).notify_emails == twenty
    with pytest.raises(ClinicError, match="At most 20"):
        registry.update("north", notify_emails=[*twenty, "one.more@north.example"])


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.north.example/risk",
        "https://hooks.north.example:8443/risk?token=abc",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]:9000/",
        "http://monitor.localhost/",
    ],
)
def test_usable_webhook_addresses(clinic_db: str, url: str) -> None:
    assert create(webhook_url=url).webhook_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.north.example/risk", "not HTTPS"),
        ("http://10.0.0.5/hook", "not HTTPS"),
        ("ftp://hooks.north.example/", "webhook address"),
        ("hooks.north.example/risk", "webhook address"),
        ("javascript:alert(1)", "webhook address"),
        ("https://hooks.north.example/#part", "webhook address"),
        ("https://user:secret@hooks.north.example/", "user name or password"),
        ("https://hooks.north.example:0/", "port 0"),
        ("https://hooks.north.example:99999/", "not a web address"),
        ("https://hooks.north.example/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_unusable_webhook_addresses(clinic_db: str, url: str, reason: str) -> None:
    with pytest.raises(ClinicError, match=reason):
        create(webhook_url=url)


def test_a_refused_update_changes_nothing(clinic_db: str) -> None:
    before = create(notify_emails=["care@north.example"], webhook_url="https://h.example/")
    with pytest.raises(ClinicError):
        registry.update("north", name="Renamed", notify_emails=["not an address"])
    with pytest.raises(ClinicError):
        registry.update("north", webhook_url="http://h.example/")
    assert registry.get_clinic("north") == before


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(clinic_db: str, tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(PROJECT_ROOT),
                "COMPANION_VAR_DIR": str(tmp_path / "var"),
            },
            capture_output=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    return run


@pytest.mark.slow
def test_clinic_create_and_update_with_notifications(cli) -> None:
    created = cli(
        "clinic",
        "create",
        "--slug",
        "north",
        "--name",
        "North",
        "--origin",
        "https://north.example",
        "--notify-email",
        "care@north.example",
        "--notify-email",
        "lead@north.example",
        "--webhook-url",
        "https://hooks.north.example/risk",
    )
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert shown["notify_emails"] == ["care@north.example", "lead@north.example"]
    assert shown["webhook_url"] == "https://hooks.north.example/risk"
    assert registry.get_clinic("north").as_dict() == shown

    replaced = cli("clinic", "update", "--slug", "north", "--notify-email", "oncall@north.example")
    assert json.loads(replaced.stdout)["notify_emails"] == ["oncall@north.example"]

    cleared = cli("clinic", "update", "--slug", "north", "--no-notify-email", "--webhook-url", "")
    assert cleared.returncode == 0, cleared.stderr
    assert set(json.loads(cleared.stdout)) == BASE_KEYS
    view = registry.get_clinic("north")
    assert view.notify_emails == [] and view.webhook_url is None


@pytest.mark.slow
def test_clinic_cli_refuses_bad_notification_settings(cli) -> None:
    base = ["clinic", "create", "--slug", "north", "--name", "North"]
    base += ["--origin", "https://north.example"]

    bad_email = cli(*base, "--notify-email", "care at north")
    assert bad_email.returncode == 1 and bad_email.stdout == ""
    assert "is not an e-mail address" in bad_email.stderr
    assert len(bad_email.stderr.splitlines()) == 1

    plain_http = cli(*base, "--webhook-url", "http://hooks.north.example/")
    assert plain_http.returncode == 1 and "not HTTPS" in plain_http.stderr
    assert registry.get_clinic("north") is None

    assert cli(*base, "--no-notify").returncode == 0
    both = cli(
        "clinic", "update", "--slug", "north", "--notify-email", "a@north.example",
        "--no-notify-email",
    )  # fmt: skip
    assert both.returncode == 2 and "not allowed with" in both.stderr
