"""A delivery's `attempts` counts its calls to the tracker; how often the worker took it up
is `claims`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claims", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE deliveries SET claims = attempts")


def downgrade() -> None:
    op.execute("UPDATE deliveries SET attempts = claims")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claims")
