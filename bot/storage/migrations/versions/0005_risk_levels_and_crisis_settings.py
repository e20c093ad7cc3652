"""Risk-flag levels, clinics' crisis settings, and the safety plan as a journal kind.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

- ``risk_flags.level`` (urgent, elevated, info): every flag raised so far came from the crisis
  reply, so existing flags are ``urgent``. ``risk_flags.erased_at`` marks a flag kept, without
  its message, after the patient erased their data and before the care team was told of it.
- ``clinics``: ``emergency_number`` (911), ``response_time`` ("within one working day"),
  ``notify_levels`` (urgent and elevated) and ``peer_support_line`` (off) - the same values
  as ``bot/content/clinic_defaults.yml``. A clinic still on the old default crisis lines
  (988 and 911, which it never chose) gets the new default US set, whose lines say which
  crisis replies name them; a clinic that set its own keeps them untouched.
- ``journal_entries.kind`` may also be ``safety_plan``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('integration', 'trigger', 'checkin')"
_NEW_KINDS = "kind IN ('integration', 'trigger', 'checkin', 'safety_plan')"
_LEVELS = "level IN ('urgent', 'elevated', 'info')"

# Frozen here on purpose: a migration must do the same thing whenever it runs, whatever the
# defaults file says by then.
_OLD_DEFAULT_LINES: list[dict[str, Any]] = [
    {"name": "Suicide & Crisis Lifeline (call or text)", "number": "988"},
    {"name": "Emergency services", "number": "911"},
]
_NEW_DEFAULT_LINES: list[dict[str, Any]] = [
    {
        "name": "988 Suicide & Crisis Lifeline",
        "number": "988",
        "detail": "call or text 988, or chat at 988lifeline.org",
        "kinds": ["suicide", "self_harm", "harm_others", "ask", "recent"],
    },
    {"name": "Emergency services", "number": "911"},
    {"name": "Poison Help", "number": "1-800-222-1222", "kinds": ["overdose"]},
    {
        "name": "National Domestic Violence Hotline",
        "number": "1-800-799-7233",
        "detail": "or text START to 88788",
        "kinds": ["violence"],
    },
    {
        "name": "RAINN National Sexual Assault Hotline",
        "number": "1-800-656-4673",
        "kinds": ["violence"],
    },
    {
        "name": "Childhelp National Child Abuse Hotline",
        "number": "1-800-422-4453",
        "kinds": ["child"],
    },
    {"name": "Never Use Alone", "number": "1-800-484-3731", "kinds": ["lapse"]},
]

_clinics = sa.table("clinics", sa.column("id", sa.Integer()), sa.column("crisis_lines", sa.JSON()))


def _replace_lines(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Every clinic whose crisis lines are exactly ``old`` (or none) gets ``new``."""
    connection = op.get_bind()
    for clinic_id, lines in connection.execute(sa.select(_clinics.c.id, _clinics.c.crisis_lines)):
        if isinstance(lines, str):
            lines = json.loads(lines)
        if not lines or lines == old:
            connection.execute(
                _clinics.update().where(_clinics.c.id == clinic_id).values(crisis_lines=new)
            )


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column(
                "emergency_number", sa.String(length=32), nullable=False, server_default="911"
            )
        )
        batch.add_column(
            sa.Column(
                "response_time",
                sa.Text(),
                nullable=False,
                server_default="within one working day",
            )
        )
        batch.add_column(
            sa.Column(
                "notify_levels",
                sa.JSON(),
                nullable=False,
                server_default='["urgent", "elevated"]',
            )
        )
        batch.add_column(
            sa.Column("peer_support_line", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _replace_lines(_OLD_DEFAULT_LINES, _NEW_DEFAULT_LINES)

    with op.batch_alter_table("risk_flags") as batch:
        batch.add_column(
            sa.Column("level", sa.String(length=16), nullable=False, server_default="urgent")
        )
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_risk_flags_level"), _LEVELS)

    with op.batch_alter_table("journal_entries") as batch:
        batch.drop_constraint(op.f("ck_journal_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_journal_entries_kind"), _NEW_KINDS)


def downgrade() -> None:
    connection = op.get_bind()
    plans = connection.execute(
        sa.text("SELECT count(*) FROM journal_entries WHERE kind = 'safety_plan'")
    ).scalar_one()
    if plans:
        raise RuntimeError(
            f"{plans} safety plans are stored, which revision 0004 cannot hold: "
            "restore a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("journal_entries") as batch:
        batch.drop_constraint(op.f("ck_journal_entries_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_journal_entries_kind"), _OLD_KINDS)

    with op.batch_alter_table("risk_flags") as batch:
        batch.drop_constraint(op.f("ck_risk_flags_level"), type_="check")
        batch.drop_column("erased_at")
        batch.drop_column("level")

    _replace_lines(_NEW_DEFAULT_LINES, _OLD_DEFAULT_LINES)
    with op.batch_alter_table("clinics") as batch:
        for column in ("peer_support_line", "notify_levels", "response_time", "emergency_number"):
            batch.drop_column(column)
