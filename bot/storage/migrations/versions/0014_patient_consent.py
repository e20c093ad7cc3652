"""Consent before anything is stored: clinics' consent texts and patients' agreements.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-14

- ``clinics.consent_text``: the clinic's own consent text (``NULL``: the default of
  ``bot/content/consent.yml``) and ``clinics.consent_version``, raised with every change of
  the text; existing clinics start at version 1 with the default text.
- ``patient_consents``: one row per "I agree" (the text's version and when), stamped with
  ``withdrawn_at`` when the patient withdraws it in the chat. Patients who chatted before this
  revision have no row: they are asked on their next message, like a new patient.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("consent_text", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("consent_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "patient_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_patient_consents_version_positive")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_consents_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_consents")),
    )
    op.create_index(
        "ix_patient_consents_patient_id_agreed_at",
        "patient_consents",
        ["patient_id", "agreed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_patient_consents_patient_id_agreed_at", table_name="patient_consents")
    op.drop_table("patient_consents")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("consent_version")
        batch.drop_column("consent_text")
