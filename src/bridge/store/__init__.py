"""Persistence: the durable inbox, decisions, actions (SQLAlchemy; SQLite or PostgreSQL)."""

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
from bridge.store.jobs import JobRecords
from bridge.store.inbox import Incoming, InboxClosed, InboxWriter
from bridge.store.records import (
    DEAD,
    DONE,
    PENDING,
    PROCESSING,
    REJECTED,
    REPLAYABLE,
    RETRYING,
    STATES,
    Held,
    Claimed,
    DecisionRecord,
    Finished,
    PendingAction,
    Store,
)
from bridge.store.tables import MAX_ID

__all__ = [
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
    "SchemaAhead",
    "SchemaBehind",
    "Held",
    "Claimed",
    "DecisionRecord",
    "Finished",
    "InboxClosed",
    "InboxWriter",
    "JobRecords",
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
