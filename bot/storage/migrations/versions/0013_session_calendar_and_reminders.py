"""Ketamine sessions per patient, follow-ups after them, and patients' reminder opt-ins.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14

- ``recorded_sessions``: a patient's session day (and optional ``HH:MM``), recorded by staff
  on the dashboard or told by the patient in the chat; one per patient and day.
- ``session_follow_ups``: the check-in offered at day 1, 3 or 7 after a session, once per
  channel (the chat's greeting, e-mail); for e-mail also the outbox row with its attempts.
- ``reminder_subscriptions``: a patient's opt-in to reminders, the address sealed at rest.
- ``clinics.quiet_hours``: when no reminder is sent, in the clinic's time zone
  (``clinics.timezone``, 0012); ``21:00-08:00`` for existing clinics.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column(
                "quiet_hours", sa.String(length=11), nullable=False, server_default="21:00-08:00"
            )
        )
    op.create_table(
        "recorded_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("session_on", sa.Date(), nullable=False),
        sa.Column("session_time", sa.String(length=5), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("recorded_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('staff', 'patient')", name=op.f("ck_recorded_sessions_source")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_recorded_sessions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recorded_sessions")),
        sa.UniqueConstraint(
            "patient_id", "session_on", name=op.f("uq_recorded_sessions_patient_id_session_on")
        ),
    )
    op.create_table(
        "session_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('chat', 'email')", name=op.f("ck_session_follow_ups_channel")
        ),
        sa.CheckConstraint("mark IN (1, 3, 7)", name=op.f("ck_session_follow_ups_mark")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["recorded_sessions.id"],
            name=op.f("fk_session_follow_ups_session_id_recorded_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_session_follow_ups_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_follow_ups")),
        sa.UniqueConstraint(
            "session_id",
            "mark",
            "channel",
            name=op.f("uq_session_follow_ups_session_id_mark_channel"),
        ),
    )
    op.create_index(
        "ix_session_follow_ups_patient_id", "session_follow_ups", ["patient_id"], unique=False
    )
    op.create_table(
        "reminder_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_via", sa.String(length=10), nullable=True),
        sa.CheckConstraint("channel IN ('email')", name=op.f("ck_reminder_subscriptions_channel")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_reminder_subscriptions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_subscriptions")),
    )
    op.create_index(
        "ix_reminder_subscriptions_patient_id",
        "reminder_subscriptions",
        ["patient_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reminder_subscriptions_patient_id", table_name="reminder_subscriptions")
    op.drop_table("reminder_subscriptions")
    op.drop_index("ix_session_follow_ups_patient_id", table_name="session_follow_ups")
    op.drop_table("session_follow_ups")
    op.drop_table("recorded_sessions")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("quiet_hours")
