"""Engine creation and schema migration, for SQLite and PostgreSQL alike.

Opening the database is where a mistake in `BRIDGE_DATABASE_URL` shows, so every way it can
fail is one `DatabaseProblem` naming the URL without its password and the cause in a line.
Only `bridge serve` and `bridge migrate` create and migrate a database; the commands that
read (or queue a replay) open one that must already be there at the current schema, so a
mistyped URL is reported instead of answered with an empty new database.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).with_name("migrations")
# libpq waits for a host that does not answer as long as the operating system lets it
CONNECT_TIMEOUT_SECONDS = 10


class DatabaseProblem(Exception):
    """The database at `url` (kept as it may be shown, without its password) cannot be used
    as it is; the message says why in one line."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = public_url(url)


class NoDatabase(DatabaseProblem):
    """Nothing is at the URL: a SQLite file that does not exist, or one only in memory."""


class DatabaseUnreachable(DatabaseProblem):
    """The database cannot be connected to or opened; the message gives the driver's cause."""


class SchemaBehind(DatabaseProblem):
    """The database is not migrated to this bridge's schema (or holds none at all)."""


class SchemaAhead(DatabaseProblem):
    """A newer ticket-bridge migrated the database to a schema this one does not know."""


def public_url(url: str | URL) -> str:
    """The URL as it may be shown: no password, wherever it is given; a SQLite file by its
    absolute path, since a relative one depends on the folder the command ran in."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:"):
        database = str(Path(database).absolute())
    shown = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=database,
        query={k: v for k, v in parsed.query.items() if "password" not in k.lower()},
    )
    return shown.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    """An engine for SQLite (WAL mode; the file's folder is created) or PostgreSQL.

    On SQLite, ordinary connections commit with `synchronous=NORMAL`: the worker's
    bookkeeping then costs no fsync of its own and becomes durable with the next inbox
    commit, which the inbox writer makes with `synchronous=FULL` (see `InboxWriter`). What a
    power cut can take back is the last moments of bookkeeping, never an acknowledged
    delivery, and redoing it is safe: the worker re-reads the ticket before it acts.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _postgres_engine(parsed)
    if parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnreachable(url, f"cannot open {public_url(url)}: {exc}") from exc
    return _sqlite_engine(parsed, wal=True)


def open_existing(url: str) -> Engine:
    """An engine on a database that is already there at the current schema. Nothing is
    created, not even a folder or a SQLite journal, and nothing is migrated."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:") or not Path(parsed.database).is_file():
            raise NoDatabase(url, f"no database at {public_url(url)}")
        engine = _sqlite_engine(parsed, wal=False)
    else:
        engine = _postgres_engine(parsed)
    try:
        with _connected(engine) as conn:
            _check_schema(conn, _given_url(engine))
    except DatabaseProblem:
        engine.dispose()
        raise
    return engine


def _sqlite_engine(parsed: URL, *, wal: bool) -> Engine:
    engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
    pragmas = ["journal_mode=WAL"] if wal else []
    pragmas += ["synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"]

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    return engine


def _postgres_engine(parsed: URL) -> Engine:
    given = parsed.render_as_string(hide_password=False)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    timeout = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=timeout)
    engine._bridge_url = given  # type: ignore[attr-defined]  # problems name the URL as given
    return engine


@contextlib.contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    """A connection, or `DatabaseUnreachable` saying in one line why there is none."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise _unreachable(engine, exc) from exc
    with conn:
        yield conn


def _given_url(engine: Engine) -> str:
    return getattr(engine, "_bridge_url", None) or engine.url.render_as_string(hide_password=False)


def _unreachable(engine: Engine, exc: DBAPIError) -> DatabaseUnreachable:
    url = _given_url(engine)
    verb = "open" if engine.dialect.name == "sqlite" else "connect to"
    return DatabaseUnreachable(url, f"cannot {verb} {public_url(url)}: {_driver_cause(exc)}")


def _driver_cause(exc: DBAPIError) -> str:
    """The driver's reason in one line, without the preamble libpq puts before it (which
    names the host already in the URL) and with its hint, if it gives one."""
    lines = [line.strip() for line in str(exc.orig).splitlines() if line.strip()]
    if not lines:
        return type(exc.orig).__name__
    failed = [line for line in lines if "failed: " in line]
    cause = (failed[-1] if failed else lines[0]).rsplit("failed: ", 1)[-1]
    cause = cause.removeprefix("FATAL:").strip()
    hint = next((line for line in lines if line.startswith("Is the server")), None)
    return f"{cause} ({hint[0].lower()}{hint[1:]})" if hint else cause


def _alembic() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The schema revision this bridge's migrations lead to."""
    return str(ScriptDirectory.from_config(_alembic()).get_current_head())


def _check_schema(conn: Connection, url: str, *, behind_is_fine: bool = False) -> None:
    """Refuse a schema this bridge does not know, and (unless about to migrate) one behind."""
    try:
        current = MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:  # e.g. a file that is not a SQLite database
        raise _unreachable(conn.engine, exc) from exc
    script = ScriptDirectory.from_config(_alembic())
    head = script.get_current_head()
    shown = public_url(url)
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaAhead(
            url,
            f"the database at {shown} has schema {current}, which this bridge does not know "
            f"(it needs {head})",
        )
    if behind_is_fine or current == head:
        return
    if current is None:
        raise SchemaBehind(url, f"the database at {shown} holds no ticket-bridge schema yet")
    raise SchemaBehind(
        url,
        f"the database at {shown} is not migrated to the current schema "
        f"(it has {current}, this bridge needs {head})",
    )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (Alembic), inside one transaction. A schema this
    bridge does not know (a newer bridge's) is left as it is: `SchemaAhead`."""
    cfg = _alembic()
    with _connected(engine) as conn, conn.begin():
        _check_schema(conn, _given_url(engine), behind_is_fine=True)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def dialect_insert(engine: Engine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `engine`'s database, the kind that has `on_conflict_do_…`."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


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
