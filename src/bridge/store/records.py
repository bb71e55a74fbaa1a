"""The one object the worker, the executor and the operations API are handed: deliveries,
the audit log and the operators' queries together, each its own class on one engine.
Synchronous SQLAlchemy Core; the async side calls it through `asyncio.to_thread`."""

from __future__ import annotations

from bridge.store.audit import Audit
from bridge.store.deliveries import Deliveries
from bridge.store.queries import Queries


class Store(Deliveries, Audit, Queries):
    """Deliveries, audit and queries on one engine (each is usable alone as well)."""
