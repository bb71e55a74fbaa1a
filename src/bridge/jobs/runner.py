"""Running a periodic job once at a time, whoever asks: the scheduler of each replica or an
operator's `bridge sweep`.

On PostgreSQL a job runs under a session advisory lock named after it, so of several
replicas only one sweeps at a time and the others skip that round. On SQLite (one process)
the scheduler's own `max_instances=1` is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)
T = TypeVar("T")


def lock_id(job: str) -> int:
    """A stable 64-bit advisory lock id for a job's name."""
    return int.from_bytes(hashlib.sha256(f"ticket-bridge:{job}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def exclusive(engine: Engine, job: str) -> Iterator[bool]:
    """Whether this process may run `job` now (held until the block ends)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id(job)}).scalar()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id(job)})
            conn.commit()


async def run_exclusive(engine: Engine, job: str, work: Callable[[], Awaitable[T]]) -> T | None:
    """Run `work` unless another process runs the same job right now (then None)."""
    lock = exclusive(engine, job)
    allowed = await asyncio.to_thread(lock.__enter__)
    try:
        if not allowed:
            log.info("%s: another process is running it; skipped this round", job)
            return None
        return await work()
    finally:
        await asyncio.to_thread(lock.__exit__, None, None, None)
