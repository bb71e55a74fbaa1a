"""Development links: which development items the bridge linked each ticket to.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dev_links",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("workflow", sa.String(128)),
        sa.Column("state", sa.String(255)),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "tracker", "ticket", "provider", "item", name="uq_dev_links_ticket_item"
        ),
    )
    op.create_index("ix_dev_links_provider_item", "dev_links", ["provider", "item"])


def downgrade() -> None:
    op.drop_table("dev_links")
