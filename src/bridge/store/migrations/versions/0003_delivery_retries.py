"""Deliveries wait for a tracker outage to pass: their ticket, when to retry, since when.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("ticket", sa.String(255)))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("retrying_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("retrying_since")
        batch.drop_column("retry_at")
        batch.drop_column("ticket")
