"""Risk flags that stand for several messages, and digest notices.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

- ``risk_flags.message_count`` (1 for every existing flag), ``last_message_at`` (the flag's
  own time for every existing flag) and ``latest_messages`` (sealed patient text, empty for
  every existing flag): messages of one patient and category that follow each other closely
  are kept as one flag (:func:`bot.journal.entries.record_risk_flag`).
- ``risk_flags.coalesce_key``, unique per patient: the category of the flag that takes the
  patient's next messages of that category. Existing flags take none (``NULL``): the next
  message starts a flag of its own.
- ``risk_flags.notified_in_digest``: the clinic was told of the flag in a digest notice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("risk_flags") as batch:
        batch.add_column(
            sa.Column("message_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("latest_messages", sa.Text(), nullable=True))
        batch.add_column(sa.Column("coalesce_key", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("notified_in_digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE risk_flags SET last_message_at = created_at")
    with op.batch_alter_table("risk_flags") as batch:
        batch.alter_column(
            "last_message_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.create_check_constraint(
            op.f("ck_risk_flags_message_count_positive"), "message_count >= 1"
        )
        batch.create_unique_constraint(
            op.f("uq_risk_flags_patient_id_coalesce_key"), ["patient_id", "coalesce_key"]
        )


def downgrade() -> None:
    connection = op.get_bind()
    coalesced = connection.execute(
        sa.text("SELECT count(*) FROM risk_flags WHERE message_count > 1")
    ).scalar_one()
    if coalesced:
        raise RuntimeError(
            f"{coalesced} risk flags stand for several messages, which revision 0006 cannot "
            "hold: restore a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("risk_flags") as batch:
        batch.drop_constraint(op.f("uq_risk_flags_patient_id_coalesce_key"), type_="unique")
        batch.drop_constraint(op.f("ck_risk_flags_message_count_positive"), type_="check")
        for column in (
            "notified_in_digest",
            "coalesce_key",
            "latest_messages",
            "last_message_at",
            "message_count",
        ):
            batch.drop_column(column)
