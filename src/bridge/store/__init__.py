"""Persistence: the durable inbox, deliveries through their states, the audit log of
decisions and actions, the operators' queries, the billing ledger, the development links
(SQLAlchemy; SQLite or PostgreSQL)."""

from __future__ import annotations

from bridge.store.db import (
    DatabaseProblem,
    DatabaseUnreachable,
    NoDatabase,
    SchemaAhead,
    SchemaBehind,
    create_db_engine,
    head_revision,
    is_sqlite,
    migrate,
    open_existing,
    public_url,
)
from bridge.store.audit import ActionOutcome, Audit, DecisionRecord, PendingAction
from bridge.store.deliveries import (
    REPLAYABLE,
    STATES,
    Claimed,
    Deliveries,
    DeliveryState,
    Finished,
    Held,
)
from bridge.store.inbox import Incoming, InboxClosed, InboxWriter
from bridge.store.jobs import JobRecords
from bridge.store.ledger import BillingRun, Ledger, LedgerConflict
from bridge.store.links import Link, Links
from bridge.store.queries import Queries
from bridge.store.records import Store
from bridge.store.tables import MAX_ID

# The states by their old names, for the modules that compare with them.
PENDING = DeliveryState.PENDING
PROCESSING = DeliveryState.PROCESSING
RETRYING = DeliveryState.RETRYING
DONE = DeliveryState.DONE
DEAD = DeliveryState.DEAD
REJECTED = DeliveryState.REJECTED

__all__ = [
    "ActionOutcome",
    "DEAD",
    "DONE",
    "DatabaseProblem",
    "DatabaseUnreachable",
    "MAX_ID",
    "NoDatabase",
    "PENDING",
    "PROCESSING",
    "REJECTED",
    "REPLAYABLE",
    "RETRYING",
    "STATES",
    "Audit",
    "BillingRun",
    "Deliveries",
    "DeliveryState",
    "Queries",
    "SchemaAhead",
    "SchemaBehind",
    "Held",
    "Claimed",
    "DecisionRecord",
    "Finished",
    "InboxClosed",
    "InboxWriter",
    "JobRecords",
    "Ledger",
    "LedgerConflict",
    "Link",
    "Links",
    "Incoming",
    "PendingAction",
    "Store",
    "create_db_engine",
    "head_revision",
    "is_sqlite",
    "migrate",
    "open_existing",
    "public_url",
]
