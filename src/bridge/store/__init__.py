"""Persistence: the durable inbox, decisions, actions (SQLAlchemy; SQLite or PostgreSQL)."""

from __future__ import annotations

from bridge.store.db import create_db_engine, is_sqlite, migrate
from bridge.store.jobs import JobRecords
from bridge.store.inbox import Incoming, InboxClosed, InboxWriter
from bridge.store.records import (
    DEAD,
    DONE,
    PENDING,
    PROCESSING,
    REJECTED,
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
    "MAX_ID",
    "PENDING",
    "PROCESSING",
    "REJECTED",
    "RETRYING",
    "STATES",
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
    "is_sqlite",
    "migrate",
]
