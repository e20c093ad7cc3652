"""What the care team did about a risk flag: actions, notes and follow-ups.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12

- ``flag_actions``: one row per acknowledgement of a risk flag on the dashboard - the action
  taken (from the clinic's list), a note by staff (sealed at rest like patient text: it is
  clinical), an optional follow-up date and when it was done, who acknowledged and when, and,
  once undone, who undid it and when. Rows are never deleted by an undo, so the history
  stays; they go with their flag (``ON DELETE CASCADE``). Flags acknowledged before this
  revision have no row: their ``acknowledged_at``/``acknowledged_by`` keep saying who and when.
- ``clinics.flag_actions``: the actions staff choose from, in the clinic's order; every
  existing clinic gets the default list (the same as ``bot/content/clinic_defaults.yml``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must do the same thing whenever it runs, whatever the
# defaults file says by then.
_DEFAULT_ACTIONS = [
    "Called the patient",
    "Safety plan reviewed",
    "Seen in session",
    "No action needed",
]


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column(
                "flag_actions",
                sa.JSON(),
                nullable=False,
                server_default=json.dumps(_DEFAULT_ACTIONS),
            )
        )
    op.create_table(
        "flag_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("follow_up", sa.Date(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=320), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=320), nullable=True),
        sa.Column("follow_up_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_done_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["flag_id"],
            ["risk_flags.id"],
            name=op.f("fk_flag_actions_flag_id_risk_flags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_actions")),
    )
    op.create_index("ix_flag_actions_flag_id", "flag_actions", ["flag_id"], unique=False)


def downgrade() -> None:
    connection = op.get_bind()
    recorded = connection.execute(sa.text("SELECT count(*) FROM flag_actions")).scalar_one()
    if recorded:
        raise RuntimeError(
            f"{recorded} actions taken on risk flags are stored, which revision 0008 cannot "
            "hold: restore a backup taken before the upgrade instead."
        )
    op.drop_index("ix_flag_actions_flag_id", table_name="flag_actions")
    op.drop_table("flag_actions")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("flag_actions")
