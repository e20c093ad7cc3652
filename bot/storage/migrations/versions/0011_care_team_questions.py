"""Questions the care team writes for a patient's next session reflection.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14

- ``care_team_questions``: a question a therapist wrote for one patient (sealed at rest: it is
  clinical), who wrote it and when; its status (``pending`` until the next reflection asks it,
  then ``answered`` or ``skipped``, or ``withdrawn`` by staff before that); the patient's
  answer (sealed like every patient text) and the journal entry it was given in. Rows go with
  their patient (``ON DELETE CASCADE``); a deleted entry leaves the question without it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('pending', 'answered', 'skipped', 'withdrawn')"


def upgrade() -> None:
    op.create_table(
        "care_team_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_care_team_questions_status")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_care_team_questions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.id"],
            name=op.f("fk_care_team_questions_entry_id_journal_entries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_team_questions")),
    )
    op.create_index(
        "ix_care_team_questions_patient_id_status",
        "care_team_questions",
        ["patient_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_care_team_questions_patient_id_status", table_name="care_team_questions")
    op.drop_table("care_team_questions")
