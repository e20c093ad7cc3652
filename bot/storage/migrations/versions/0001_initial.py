"""Initial schema: clinics, patients, journal entries and risk flags.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Rasa's ``events`` table lives in the same database and is created by Rasa itself; this
revision neither creates nor touches it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported, from the models: a migration must keep meaning what it meant
# when it was written, whatever the models say later.
_KINDS = "kind IN ('integration', 'trigger', 'checkin')"
_STATUSES = "status IN ('complete', 'partial', 'interrupted')"


def _rating(column: str) -> str:
    return f"{column} IS NULL OR ({column} >= 0 AND {column} <= 10)"


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
        sa.UniqueConstraint("slug", name=op.f("uq_clinics_slug")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_patients_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("sender_id", name=op.f("uq_patients_sender_id")),
    )
    op.create_index(op.f("ix_patients_clinic_id"), "patients", ["clinic_id"], unique=False)
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=True),
        sa.Column("mood", sa.Integer(), nullable=True),
        sa.Column("craving", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("number >= 1", name=op.f("ck_journal_entries_number_positive")),
        sa.CheckConstraint(_KINDS, name=op.f("ck_journal_entries_kind")),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_journal_entries_status")),
        sa.CheckConstraint(_rating("mood"), name=op.f("ck_journal_entries_mood_range")),
        sa.CheckConstraint(_rating("craving"), name=op.f("ck_journal_entries_craving_range")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_journal_entries_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "patient_id", "number", name=op.f("uq_journal_entries_patient_id_number")
        ),
    )
    op.create_index(
        "ix_journal_entries_patient_id_created_at",
        "journal_entries",
        ["patient_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "risk_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_risk_flags_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_flags")),
    )
    op.create_index(
        "ix_risk_flags_patient_id_created_at",
        "risk_flags",
        ["patient_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_risk_flags_patient_id_created_at", table_name="risk_flags")
    op.drop_table("risk_flags")
    op.drop_index("ix_journal_entries_patient_id_created_at", table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_index(op.f("ix_patients_clinic_id"), table_name="patients")
    op.drop_table("patients")
    op.drop_table("clinics")
