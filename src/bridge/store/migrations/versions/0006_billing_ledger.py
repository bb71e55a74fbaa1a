"""The billing ledger: final runs, the tickets they billed and every line billed on them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WORK_OR_LATE = sa.text("kind IN ('work', 'late')")


def upgrade() -> None:
    op.create_table(
        "billing_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("period_first", sa.Date, nullable=False),
        sa.Column("period_last", sa.Date, nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tickets", sa.Integer, nullable=False),
        sa.Column("seconds", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_billing_runs_tracker", "billing_runs", ["tracker"])
    op.create_table(
        "billed_tickets",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", Id, sa.ForeignKey("billing_runs.id"), nullable=False),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("summary", sa.String(255), nullable=False),
        sa.Column("issue_type", sa.String(128), nullable=False),
        sa.Column("organization", sa.Text, nullable=False),
        sa.Column("reporter", sa.String(255), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at_offset", sa.Integer, nullable=False),
        sa.Column("approval", sa.String(16), nullable=False),
        sa.Column("workflow", sa.String(128), nullable=False),
        sa.UniqueConstraint("run_id", "position", name="uq_billed_tickets_run_position"),
    )
    op.create_index("ix_billed_tickets_tracker_ticket", "billed_tickets", ["tracker", "ticket"])
    op.create_table(
        "billed_lines",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bill_id", Id, sa.ForeignKey("billed_tickets.id"), nullable=False),
        sa.Column("run_id", Id, sa.ForeignKey("billing_runs.id"), nullable=False),
        sa.Column("tracker", sa.String(32), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Integer, nullable=False),
        sa.Column("worklog_id", sa.String(64)),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("started_offset", sa.Integer),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.UniqueConstraint("bill_id", "position", name="uq_billed_lines_bill_position"),
    )
    op.create_index("ix_billed_lines_tracker_ticket", "billed_lines", ["tracker", "ticket"])
    op.create_index("ix_billed_lines_tracker_worklog", "billed_lines", ["tracker", "worklog_id"])
    op.create_index(
        "uq_billed_lines_tracker_worklog",
        "billed_lines",
        ["tracker", "worklog_id"],
        unique=True,
        postgresql_where=WORK_OR_LATE,
        sqlite_where=WORK_OR_LATE,
    )


def downgrade() -> None:
    op.drop_table("billed_lines")
    op.drop_table("billed_tickets")
    op.drop_table("billing_runs")
