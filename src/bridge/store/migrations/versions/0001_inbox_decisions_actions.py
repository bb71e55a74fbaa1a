"""Inbox of deliveries, decisions and the actions they took.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("delivery_key", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("tracker", "delivery_key", name="uq_deliveries_tracker_key"),
    )
    op.create_index("ix_deliveries_state_id", "deliveries", ["state", "id"])
    op.create_table(
        "decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("ticket", sa.String(64)),
        sa.Column("event", sa.String(64)),
        sa.Column("actor", sa.String(255)),
        sa.Column("actor_role", sa.String(16)),
        sa.Column("from_status", sa.String(255)),
        sa.Column("to_status", sa.String(255)),
        sa.Column("workflow", sa.String(128)),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    op.create_index("ix_decisions_delivery_id", "decisions", ["delivery_id"])
    op.create_index("ix_decisions_ticket", "decisions", ["ticket"])
    op.create_index("ix_decisions_verdict", "decisions", ["verdict"])
    op.create_table(
        "actions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("decision_id", Id, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_actions_decision_id", "actions", ["decision_id"])


def downgrade() -> None:
    op.drop_table("actions")
    op.drop_table("decisions")
    op.drop_table("deliveries")
