"""Engine creation and schema migration, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")


def create_db_engine(url: str) -> Engine:
    """An engine for SQLite (WAL mode; the file's folder is created) or PostgreSQL.

    On SQLite, ordinary connections commit with `synchronous=NORMAL`: the worker's
    bookkeeping then costs no fsync of its own and becomes durable with the next inbox
    commit, which the inbox writer makes with `synchronous=FULL` (see `InboxWriter`). What a
    power cut can take back is the last moments of bookkeeping, never an acknowledged
    delivery, and redoing it is safe: the worker re-reads the ticket before it acts.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (Alembic), inside one transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


_write_locks_guard = threading.Lock()


def write_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """The lock this process's SQLite writers queue on (nothing for PostgreSQL).

    SQLite's own busy handler polls with sleeps of up to 100 ms, which would stall webhook
    answers behind the worker's commits; a lock hands over at once.
    """
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    with _write_locks_guard:
        lock = getattr(engine, "_bridge_write_lock", None)
        if lock is None:
            lock = threading.Lock()
            engine._bridge_write_lock = lock  # type: ignore[attr-defined]
    return lock


@contextlib.contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A write transaction, queued behind the other writers of this process on SQLite."""
    with write_lock(engine), engine.begin() as conn:
        yield conn
