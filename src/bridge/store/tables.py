"""Database tables. The schema itself is owned by the Alembic migrations beside this file;
these definitions must match them (a test compares the two)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

Id = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2**63 - 1  # both databases keep ids as signed 64-bit integers

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tracker", String(32), nullable=False),
    Column("delivery_key", String(255), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # pending → processing → done | dead | retrying (→ processing again at retry_at);
    # rejected: malformed, kept for inspection only
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),  # calls made to the tracker for it
    Column("claims", Integer, nullable=False, default=0, server_default="0"),  # times taken up
    Column("claimed_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("last_error", Text),
    # set once a delivery waits for the tracker: its ticket (later deliveries of the same
    # ticket wait behind it), when to try again, and since when the tracker has failed it
    Column("ticket", String(255)),
    Column("retry_at", DateTime(timezone=True)),
    Column("retrying_since", DateTime(timezone=True)),
    UniqueConstraint("tracker", "delivery_key", name="uq_deliveries_tracker_key"),
    Index("ix_deliveries_state_id", "state", "id"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("tracker", String(32), nullable=False),
    Column("ticket", String(64), index=True),
    Column("event", String(64)),
    Column("actor", String(255)),
    Column("actor_role", String(16)),
    Column("from_status", String(255)),
    Column("to_status", String(255)),
    # a customer's quick moves judged as one way: the status the first of them left
    Column("chain_from", String(255)),
    Column("workflow", String(128)),
    Column("verdict", String(32), nullable=False, index=True),
    Column("rule", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
)

actions = Table(
    "actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("decision_id", Id, ForeignKey("decisions.id"), nullable=False, index=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("ticket", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    # pending → done | failed | skipped (the ticket moved on before a retry); dry_run:
    # recorded, never sent
    Column("outcome", String(16), nullable=False),
    Column("error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Status changes judged, by the tracker's id of the change: one that arrives both as a
# webhook and through reconcile is judged once, whichever comes first.
status_changes = Table(
    "status_changes",
    metadata,
    Column("tracker", String(32), primary_key=True),
    Column("change_id", String(160), primary_key=True),  # ticket/id
    Column("delivery_id", Id, nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# How far each periodic job has read, so that the next run goes on from there.
cursors = Table(
    "cursors",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("tracker", String(32), primary_key=True),
    Column("position", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The billing ledger: each final export (a run), the tickets it billed with what finance saw
# of them, and every line billed on them, so that a run can be exported again as it was and
# no worklog is billed twice. Timestamps are stored in UTC beside the offset from UTC (in
# seconds) they were given with, so that they come back written as they were.
billing_runs = Table(
    "billing_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tracker", String(32), nullable=False, index=True),
    Column("period_first", Date, nullable=False),
    Column("period_last", Date, nullable=False),
    Column("zone", String(64), nullable=False),  # IANA name, e.g. Europe/Prague
    Column("requested_by", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("tickets", Integer, nullable=False),
    Column("seconds", BigInteger, nullable=False),
)

billed_tickets = Table(
    "billed_tickets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("billing_runs.id"), nullable=False),
    Column("tracker", String(32), nullable=False),
    Column("position", Integer, nullable=False),  # its order in the run
    Column("ticket", String(64), nullable=False),
    Column("summary", String(255), nullable=False),
    Column("issue_type", String(128), nullable=False),
    Column("organization", Text, nullable=False),
    Column("reporter", String(255), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False),
    Column("done_at_offset", Integer, nullable=False),
    Column("approval", String(16), nullable=False),
    Column("workflow", String(128), nullable=False),
    UniqueConstraint("run_id", "position", name="uq_billed_tickets_run_position"),
    Index("ix_billed_tickets_tracker_ticket", "tracker", "ticket"),
)

billed_lines = Table(
    "billed_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("bill_id", Id, ForeignKey("billed_tickets.id"), nullable=False),
    Column("run_id", Id, ForeignKey("billing_runs.id"), nullable=False),
    Column("tracker", String(32), nullable=False),
    Column("ticket", String(64), nullable=False),
    Column("position", Integer, nullable=False),  # its order in its bill
    Column("kind", String(16), nullable=False),  # work | late | adjustment | rounding
    Column("seconds", Integer, nullable=False),
    Column("worklog_id", String(64)),  # None: a rounding line
    Column("author", String(255), nullable=False),
    Column("started", DateTime(timezone=True)),
    Column("started_offset", Integer),
    Column("comment", Text, nullable=False),
    Column("reason", Text, nullable=False),
    UniqueConstraint("bill_id", "position", name="uq_billed_lines_bill_position"),
    Index("ix_billed_lines_tracker_ticket", "tracker", "ticket"),
    Index("ix_billed_lines_tracker_worklog", "tracker", "worklog_id"),
    # A worklog is billed as work (or late work) once; later lines on it only adjust.
    Index(
        "uq_billed_lines_tracker_worklog",
        "tracker",
        "worklog_id",
        unique=True,
        postgresql_where=text("kind IN ('work', 'late')"),
        sqlite_where=text("kind IN ('work', 'late')"),
    ),
)

# The development items each ticket was linked to, as the bridge linked them: when an item is
# done, the tickets to move on are read from here rather than searched for in the tracker.
# `state` is the item's state as last heard (None: never read), `done` whether the workflow
# counted it as done then.
dev_links = Table(
    "dev_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tracker", String(32), nullable=False),
    Column("ticket", String(64), nullable=False),
    Column("provider", String(32), nullable=False),  # azure-devops | jira
    Column("item", String(64), nullable=False),  # normalised: "4711", "DEV-12"
    Column("workflow", String(128)),  # the ticket's, when linked: it judges the ticket again
    Column("state", String(255)),
    Column("done", Boolean, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tracker", "ticket", "provider", "item", name="uq_dev_links_ticket_item"),
    Index("ix_dev_links_provider_item", "provider", "item"),
)
