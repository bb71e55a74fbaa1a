"""The durable inbox's write side: group commit.

Every delivery must be committed before the tracker hears 200. One commit per request with
`synchronous=FULL` caps out near a few thousand a second, so a single writer thread takes
whatever arrived while the previous commit was syncing and commits it together; each
waiting request is answered once its row is durable. A row the database refuses fails only
its own request: the group is then committed row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine

from bridge.store.db import write_lock
from bridge.store.deliveries import DeliveryState
from bridge.store.values import clean_text

log = logging.getLogger(__name__)

MAX_BATCH = 512
# 8 values a row: 100 rows stay under 999 bound values, the limit of SQLite before 3.32
ROWS_PER_STATEMENT = 100


@dataclass(slots=True)
class Incoming:
    tracker: str
    delivery_key: str
    headers: dict[str, str]
    body: bytes
    state: str = DeliveryState.PENDING  # or REJECTED, with the reason in `error`
    error: str | None = None


class InboxClosed(RuntimeError):
    pass


class InboxWriter:
    """Commits incoming deliveries in groups from one thread.

    `put` is awaited by the web edge; it returns after the delivery's transaction committed
    (duplicates are dropped by the unique key and also return normally).
    """

    def __init__(
        self,
        engine: Engine,
        on_commit: Callable[[], None] | None = None,
        *,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        if sqlite_synchronous not in ("FULL", "NORMAL"):
            raise ValueError("sqlite_synchronous must be FULL or NORMAL")
        self._engine = engine
        self._synchronous = sqlite_synchronous
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[tuple[Incoming, asyncio.Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._rate = _Rate()
        self._conn: Any = None  # the writer thread's own driver connection
        self._closed = False
        # Plain SQL through the driver: this runs for every delivery, on the hot path.
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self._sqlite else "%s"
        self._row_marks = f"({', '.join([mark] * 8)})"
        self._sql: dict[int, str] = {}  # statement by number of rows
        # The driver's errors that mean the database itself is failing, not one row
        dbapi = engine.dialect.dbapi
        self._failing: tuple[type[BaseException], ...] = (dbapi.OperationalError, dbapi.InterfaceError)

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

    def rate(self) -> float:
        """Deliveries committed per second, over about the last second."""
        return self._rate.per_second()

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
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit(self, batch: list[tuple[Incoming, asyncio.Future[None]]]) -> None:
        now: datetime | str = datetime.now(UTC)
        if self._sqlite:  # stored as SQLAlchemy stores DateTime on SQLite
            now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        errors: list[BaseException | None]
        try:
            self._insert([_row(item, now) for item, _ in batch])
            errors = [None] * len(batch)
        except Exception as exc:  # the requests learn of it and answer 503
            if isinstance(exc, self._failing) or len(batch) == 1:
                log.exception("inbox commit of %d deliveries failed", len(batch))
                errors = [exc] * len(batch)
            else:  # one row the database refuses must not fail the rest of its group
                log.warning("inbox commit of %d deliveries failed (%s); each alone", len(batch), exc)
                errors = [self._insert_alone(item, now) for item, _ in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], BaseException | None]]] = {}
        for (_, fut), error in zip(batch, errors, strict=True):
            by_loop.setdefault(fut.get_loop(), []).append((fut, error))
        for loop, answers in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, answers)
            except RuntimeError:  # loop closed: nobody is waiting any more
                pass
        committed = errors.count(None)
        if committed:
            self._rate.add(committed)
            if self.on_commit is not None:
                self.on_commit()

    def _insert_alone(self, item: Incoming, now: datetime | str) -> BaseException | None:
        try:
            self._insert([_row(item, now)])
        except Exception as exc:
            log.exception("inbox could not store delivery %.80r", item.delivery_key)
            return exc
        return None

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction on the writer's own driver connection: on this path the pool's
        per-transaction bookkeeping would cost more than the insert itself."""
        if self._conn is None:
            self._conn = self._engine.raw_connection()
            self._conn.detach()  # its own settings never leak back into the pool
            if self._sqlite:  # acknowledged means durable: this commit syncs the WAL
                self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn = self._conn
        try:
            with write_lock(self._engine):
                cursor = conn.cursor()
                for start in range(0, len(rows), ROWS_PER_STATEMENT):
                    part = rows[start : start + ROWS_PER_STATEMENT]
                    cursor.execute(self._insert_sql(len(part)), [v for row in part for v in row])
                cursor.close()
                conn.commit()
        except Exception:
            self._conn = None  # start afresh: the connection may be broken
            with contextlib.suppress(Exception):
                conn.rollback()
            with contextlib.suppress(Exception):
                conn.close()
            raise


    def _insert_sql(self, n: int) -> str:
        """One INSERT for the whole batch: the driver lets go of the GIL once per statement,
        and each time it wants it back it may wait for the event loop's next switch."""
        sql = self._sql.get(n)
        if sql is None:
            sql = self._sql[n] = (
                "INSERT INTO deliveries (tracker, delivery_key, received_at, headers, body, state,"
                f" attempts, last_error) VALUES {', '.join([self._row_marks] * n)}"
                " ON CONFLICT (tracker, delivery_key) DO NOTHING"
            )
        return sql


def _row(item: Incoming, now: datetime | str) -> tuple[Any, ...]:
    headers = orjson.dumps(item.headers).decode()
    return (item.tracker, item.delivery_key, now, headers, item.body, item.state, 0, clean_text(item.error))


def _resolve(answers: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for fut, error in answers:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


class _Rate:
    """A count per second over two rolling half-second buckets; cheap enough per batch."""

    SPAN = 0.5

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._current = 0
        self._previous = 0

    def _roll(self, now: float) -> None:
        while now - self._start >= self.SPAN:
            self._previous, self._current = self._current, 0
            self._start += self.SPAN
            if now - self._start >= self.SPAN:  # idle for a while: both buckets are empty
                self._previous = 0
                self._start = now

    def add(self, n: int) -> None:
        self._roll(time.monotonic())
        self._current += n

    def per_second(self) -> float:
        now = time.monotonic()
        self._roll(now)
        return (self._previous + self._current) / (self.SPAN + (now - self._start))
