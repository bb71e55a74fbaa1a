"""The durable inbox's write side: group commit.

Every delivery must be committed before the tracker hears 200. One commit per request with
`synchronous=FULL` caps out near a few thousand a second, so a single writer thread takes
whatever arrived while the previous commit was syncing and commits it together; each
waiting request is answered once its row is durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from bridge.store.records import PENDING
from bridge.store.tables import deliveries

log = logging.getLogger(__name__)

MAX_BATCH = 512


@dataclass(frozen=True)
class Incoming:
    tracker: str
    delivery_key: str
    headers: dict[str, str]
    body: bytes
    state: str = PENDING  # or REJECTED, with the reason in `error`
    error: str | None = None


class InboxClosed(RuntimeError):
    pass


class InboxWriter:
    """Commits incoming deliveries in groups from one thread.

    `put` is awaited by the web edge; it returns after the delivery's transaction committed
    (duplicates are dropped by the unique key and also return normally).
    """

    def __init__(self, engine: Engine, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[tuple[Incoming, asyncio.Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._closed = False
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._stmt = insert(deliveries).on_conflict_do_nothing(
            index_elements=["tracker", "delivery_key"]
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._thread = None

    async def put(self, item: Incoming) -> None:
        if self._closed:
            raise InboxClosed("the inbox is shutting down")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((item, fut))
        await fut

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            self._commit(batch)
        # answer whatever is still queued rather than leave requests hanging
        leftovers = []
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is not None:
                leftovers.append(nxt)
        if leftovers:
            self._commit(leftovers)

    def _commit(self, batch: list[tuple[Incoming, asyncio.Future[None]]]) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "tracker": item.tracker,
                "delivery_key": item.delivery_key,
                "received_at": now,
                "headers": item.headers,
                "body": item.body,
                "state": item.state,
                "attempts": 0,
                "last_error": item.error,
            }
            for item, _ in batch
        ]
        error: BaseException | None = None
        try:
            with self._engine.begin() as conn:
                conn.execute(self._stmt, rows)
        except Exception as exc:  # the requests learn of it and answer 503
            log.exception("inbox commit of %d deliveries failed", len(rows))
            error = exc
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, fut in batch:
            by_loop.setdefault(fut.get_loop(), []).append(fut)
        for loop, futs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, futs, error)
            except RuntimeError:  # loop closed: nobody is waiting any more
                pass
        if error is None and self._on_commit is not None:
            self._on_commit()


def _resolve(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futs:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
