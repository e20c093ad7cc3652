"""Clinic settings for the widget, and patient links (signed tokens that can be revoked).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Existing clinics get empty origins and crisis lines; the application fills in defaults
(988 and 911) when it reads a clinic without crisis lines, so no patient is ever shown an
empty "Get help now" list.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("origins", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("crisis_lines", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("accent_color", sa.String(length=7), nullable=False, server_default="#2f6f73")
        )
        batch.add_column(sa.Column("greeting", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("allow_anonymous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("patient_url", sa.String(length=2048), nullable=True))

    op.create_table(
        "patient_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('invite', 'anonymous')", name=op.f("ck_patient_links_kind")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_links_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_links")),
    )
    op.create_index("ix_patient_links_patient_id", "patient_links", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patient_links_patient_id", table_name="patient_links")
    op.drop_table("patient_links")
    with op.batch_alter_table("clinics") as batch:
        for column in (
            "patient_url",
            "allow_anonymous",
            "greeting",
            "accent_color",
            "crisis_lines",
            "origins",
        ):
            batch.drop_column(column)
