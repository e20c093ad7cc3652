"""How patients reach their care team, and their messages to it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

- ``clinics.care_team_contact`` (how to reach the care team: a phone number, an e-mail
  address, a portal) and ``clinics.care_team_hours`` (when someone answers): what the
  assistant says when a patient asks for a person. Empty until the clinic sets them; the
  assistant then tells the patient to use the contact details the clinic gave them.
- ``risk_flags.level`` may also be ``request``: a message a patient left for the care team,
  shown and announced like a flag but never read as risk. A clinic still on the old default
  notified levels (urgent and elevated) is also notified of requests; a clinic that chose its
  own levels keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_LEVELS = "level IN ('urgent', 'elevated', 'info')"
_NEW_LEVELS = "level IN ('urgent', 'elevated', 'info', 'request')"
# Frozen here on purpose: a migration must do the same whenever it runs.
_OLD_NOTIFIED = ["urgent", "elevated"]
_NEW_NOTIFIED = ["urgent", "elevated", "request"]

_clinics = sa.table("clinics", sa.column("id", sa.Integer()), sa.column("notify_levels", sa.JSON()))


def _replace_notified(old: list[str], new: list[str]) -> None:
    connection = op.get_bind()
    for clinic_id, levels in connection.execute(sa.select(_clinics.c.id, _clinics.c.notify_levels)):
        if isinstance(levels, str):
            levels = json.loads(levels)
        if levels == old:
            connection.execute(
                _clinics.update().where(_clinics.c.id == clinic_id).values(notify_levels=new)
            )


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("care_team_contact", sa.Text(), nullable=True))
        batch.add_column(sa.Column("care_team_hours", sa.Text(), nullable=True))
    _replace_notified(_OLD_NOTIFIED, _NEW_NOTIFIED)
    with op.batch_alter_table("risk_flags") as batch:
        batch.drop_constraint(op.f("ck_risk_flags_level"), type_="check")
        batch.create_check_constraint(op.f("ck_risk_flags_level"), _NEW_LEVELS)


def downgrade() -> None:
    connection = op.get_bind()
    requests = connection.execute(
        sa.text("SELECT count(*) FROM risk_flags WHERE level = 'request'")
    ).scalar_one()
    if requests:
        raise RuntimeError(
            f"{requests} messages to care teams are stored, which revision 0005 cannot hold: "
            "restore a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("risk_flags") as batch:
        batch.drop_constraint(op.f("ck_risk_flags_level"), type_="check")
        batch.create_check_constraint(op.f("ck_risk_flags_level"), _OLD_LEVELS)
    _replace_notified(_NEW_NOTIFIED, _OLD_NOTIFIED)
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("care_team_hours")
        batch.drop_column("care_team_contact")
