"""Status changes judged (by the tracker's change id) and the periodic jobs' cursors.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_changes",
        sa.Column("tracker", sa.String(32), primary_key=True),
        sa.Column("change_id", sa.String(160), primary_key=True),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("job", sa.String(64), primary_key=True),
        sa.Column("tracker", sa.String(32), primary_key=True),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_table("status_changes")
