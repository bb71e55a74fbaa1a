"""What every drill stands on: a Jira stand-in, a bridge on a chosen database pointed at it,
and a direct look into that database (the API pages at 1,000 rows; the drills count more)."""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.databases import database_url
from tests.e2e.service import CUSTOMER, SECRET, Bridge, Standin

__all__ = ["CUSTOMER", "SECRET", "Bridge", "Standin", "Inbox", "served", "workdir"]


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"drill-{name}-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def served(folder: Path, database: str, *, tracker: bool = True, **env: str) -> Iterator[tuple[Bridge, Standin | None, str]]:
    """A stand-in (unless `tracker` is false) and a bridge on `database` ("sqlite" or
    "postgresql": a fresh schema, dropped afterwards), both stopped at the end; yields
    (bridge, stand-in, database URL). The bridge is not started: drills start it as they need."""
    standin = Standin() if tracker else None
    try:
        if standin is not None:
            standin.reset()
        with database_url(database, folder) as url:
            bridge = Bridge(folder, standin.url if standin else None, **{"BRIDGE_DATABASE_URL": url, **env})
            try:
                yield bridge, standin, url
            finally:
                bridge.stop()
    finally:
        if standin is not None:
            standin.stop()


class Inbox:
    """The bridge's tables, read directly."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def states(self) -> Counter:
        return Counter(dict(self.rows("SELECT state, count(*) FROM deliveries GROUP BY state")))

    def keys(self) -> dict[str, str]:
        return dict(self.rows("SELECT delivery_key, state FROM deliveries"))

    def busy(self) -> int:
        states = self.states()
        return states["pending"] + states["processing"] + states["retrying"]

    def close(self) -> None:
        self.engine.dispose()


def change_calls(standin: Standin) -> Counter:
    """Successful change calls the bridge made, per (ticket, transitions|comment)."""
    return Counter(
        (c["path"].split("/")[-2], c["path"].rsplit("/", 1)[1])
        for c in standin.control("GET", "/calls")  # type: ignore[union-attr]
        if c["method"] == "POST" and c["status"] in (200, 201, 204)
    )
