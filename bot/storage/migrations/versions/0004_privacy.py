"""Privacy: patient text sealed at rest, erasure requests, per-clinic retention.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

``journal_entries.fields`` becomes a text column holding a sealed JSON document
(:class:`bot.storage.sealed.SealedJSON`), and every value stored before - journal answers,
the messages that raised risk flags, the events in Rasa's tracker store - is sealed with the
newest data key (:mod:`bot.storage.rekey`), which this migration creates if there is none yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage import rekey

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("erasure_review", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("journal_entries") as batch:
        batch.alter_column(
            "fields",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="fields::text",
        )

    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'erased', 'declined')", name=op.f("ck_erasure_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_erasure_requests_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_erasure_requests_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    op.create_index(
        "ix_erasure_requests_clinic_id_status",
        "erasure_requests",
        ["clinic_id", "status"],
        unique=False,
    )

    rekey.reseal_connection(op.get_bind())


def downgrade() -> None:
    # Sealed values stay sealed: decrypting the whole database on a downgrade would write
    # patient text back in the clear. Restore a backup taken before the upgrade instead.
    op.drop_index("ix_erasure_requests_clinic_id_status", table_name="erasure_requests")
    op.drop_table("erasure_requests")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("erasure_review")
        batch.drop_column("retention_days")
