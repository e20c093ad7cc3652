"""The clinic's time zone: the dashboard and the PDF show its times in it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20

- ``clinics.timezone``: an IANA time zone name ("Europe/London"). Times stay stored in UTC;
  this only says how staff read them. Every existing clinic gets UTC, which is what the
  dashboard showed until now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must do the same thing whenever it runs, whatever the
# defaults file says by then.
_DEFAULT_TIMEZONE = "UTC"


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column(
                "timezone",
                sa.String(length=64),
                nullable=False,
                server_default=_DEFAULT_TIMEZONE,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("timezone")
