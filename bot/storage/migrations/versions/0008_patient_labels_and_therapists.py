"""Patients the care team recognises: the clinic's label, the assigned therapist, link use.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

- ``patients.label``: the clinic's own name for a patient (initials and a chart number, say),
  sealed at rest like patient text. Existing patients have none: the dashboard shows a short id.
- ``patients.therapist_id``: the therapist the patient is assigned to (``NULL``: nobody;
  set to ``NULL`` when the therapist's account is deleted).
- ``patient_links.first_used_at``: when a link first opened a chat, so that staff can tell an
  unused link from an active one. Links used before this revision count as unused until
  their next use.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("label", sa.Text(), nullable=True))
        batch.add_column(sa.Column("therapist_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_patients_therapist_id_therapists"),
            "therapists",
            ["therapist_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_patients_therapist_id", ["therapist_id"], unique=False)
    with op.batch_alter_table("patient_links") as batch:
        batch.add_column(sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_links") as batch:
        batch.drop_column("first_used_at")
    with op.batch_alter_table("patients") as batch:
        batch.drop_index("ix_patients_therapist_id")
        batch.drop_constraint(op.f("fk_patients_therapist_id_therapists"), type_="foreignkey")
        batch.drop_column("therapist_id")
        batch.drop_column("label")
