"""Validated measures: what the care team scheduled, and what the patient answered.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

- ``measure_schedules``: a measure (PHQ-9, GAD-7, AUDIT-C) a therapist asked a patient to
  fill in, once or every few days, from a day on; cancelled or completed, never deleted.
- ``measure_results``: the answers the patient gave in the chat (scores only), the total,
  its band and whether PHQ-9 item 9 was above 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEASURES = "measure IN ('phq9', 'gad7', 'audit_c')"


def upgrade() -> None:
    op.create_table(
        "measure_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint(_MEASURES, name=op.f("ck_measure_schedules_measure")),
        sa.CheckConstraint(
            "every_days IS NULL OR every_days > 0",
            name=op.f("ck_measure_schedules_every_days_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_measure_schedules_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_schedules")),
    )
    op.create_index(
        "ix_measure_schedules_patient_id", "measure_schedules", ["patient_id"], unique=False
    )
    op.create_table(
        "measure_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=64), nullable=False),
        sa.Column("safety_item_positive", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_MEASURES, name=op.f("ck_measure_results_measure")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_measure_results_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["measure_schedules.id"],
            name=op.f("fk_measure_results_schedule_id_measure_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_results")),
    )
    op.create_index(
        "ix_measure_results_patient_id", "measure_results", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_measure_results_patient_id", table_name="measure_results")
    op.drop_table("measure_results")
    op.drop_index("ix_measure_schedules_patient_id", table_name="measure_schedules")
    op.drop_table("measure_schedules")
