"""Database trouble while deliveries come in: a lock on the SQLite file held by another
process, a full disk (SQLite on a small tmpfs, where one can be mounted), and PostgreSQL
going away (restarted in the long run; in the short one the bridge's own connections are
terminated, so that other users of the server are not disturbed).

What must hold: a delivery that could not be stored is not acknowledged (503 or no answer,
so the tracker sends it again); every acknowledged delivery is stored and processed; the
service lives through it and is ready again afterwards."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import fixture
from drills.sending import Sender
from drills.table import Row
from drills.world import Inbox, served, workdir
from tests.databases import POSTGRES_ADMIN_URL
from tests.e2e.service import wait_until

# (seconds the trouble lasts, deliveries sent over twice that time)
SIZES = {"long": (40, 400), "short": (2, 20)}


def edits(count: int, tag: str) -> list[tuple[str, dict]]:
    items = []
    for n in range(count):
        payload = fixture("summary_only_change.json")
        payload["issue"]["key"] = f"SRV-{500 + n}"
        items.append((f"{tag}-{n}", payload))
    return items


def through(row: Row, bridge, url: str, size: str, trouble: Callable[[float], None], tag: str) -> None:
    """Send deliveries over twice the trouble's length, the trouble in the first half; then
    settle and fill in `row`."""
    seconds, count = SIZES[size]
    sender = Sender(bridge, give_up_after=seconds * 10 + 60)
    sending = threading.Thread(target=sender.send_paced, args=(edits(count, tag), seconds * 2))
    sending.start()
    time.sleep(seconds * 0.2)
    trouble(seconds)
    sending.join()
    alive = bridge.proc is not None and bridge.proc.poll() is None
    inbox = Inbox(url)
    try:
        wait_until(lambda: inbox.busy() == 0, timeout=120, every=0.5)
        kept = inbox.keys()
    finally:
        inbox.close()
    lost = [d for d in sender.acknowledged if kept.get(d) != "done"]
    ready = wait_until(lambda: bridge.readyz()[0] == 200, timeout=30, every=0.5) if alive else False
    failed = {str(s): n for s, n in sender.answers.items() if s != 200}
    row.figures |= {
        "trouble s": seconds, "deliveries": count, "acknowledged": len(sender.acknowledged),
        "not acknowledged, resent": failed or 0, "lost": len(lost),
    }
    row.expect(len(sender.acknowledged) == count, f"{count - len(sender.acknowledged)} never acknowledged")
    row.expect(not lost, f"acknowledged and lost: {lost[:5]}")
    row.expect(not [s for s in sender.answers if s not in (200, 503, None)],
               f"answers other than 200/503: {failed}")
    row.expect(alive and bool(ready), "the service did not live through it")


def held_lock(size: str = "short", database: str = "sqlite") -> Row:
    row = Row("database: held SQLite lock", "sqlite")
    with workdir("lock") as folder, served(folder, "sqlite", tracker=False, BRIDGE_LOG_LEVEL="WARNING") as (bridge, _, url):
        bridge.start()

        def hold(seconds: float) -> None:
            other = sqlite3.connect(folder / "bridge.db", isolation_level=None, timeout=30)
            other.execute("BEGIN EXCLUSIVE")
            time.sleep(seconds)
            other.execute("ROLLBACK")
            other.close()

        through(row, bridge, url, size, hold, "lock")
    return row


@contextlib.contextmanager
def tmpfs(where: Path, megabytes: int) -> Iterator[bool]:
    """A tmpfs of `megabytes` at `where`, if this machine lets one be mounted (yields False if not)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], capture_output=True)


def full_disk(size: str = "short", database: str = "sqlite") -> Row:
    row = Row("database: full disk", "sqlite")
    with workdir("disk") as folder, tmpfs(folder / "disk", 16) as mounted:
        if not mounted:
            row.note = "not run: no tmpfs can be mounted here (needs root)"
            return row
        disk = folder / "disk"
        with served(folder, "sqlite", tracker=False, BRIDGE_LOG_LEVEL="WARNING",
                    BRIDGE_DATABASE_URL=f"sqlite:///{disk / 'bridge.db'}") as (bridge, _, _url):
            bridge.start()
            url = f"sqlite:///{disk / 'bridge.db'}"

            def fill(seconds: float) -> None:
                filler = disk / "filler"
                with contextlib.suppress(OSError), filler.open("wb") as out:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
                time.sleep(seconds)
                filler.unlink()

            through(row, bridge, url, size, fill, "disk")
            bridge.stop()  # before the tmpfs goes
    return row


def _bridge_backends(application: str) -> str:
    return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application}'"


def postgres_restart(size: str = "short", database: str = "postgresql") -> Row:
    """Long: the cluster restarted (`pg_ctlcluster ... restart`); short: the bridge's own
    connections terminated, which it meets the same way and which disturbs no one else."""
    row = Row("database: PostgreSQL " + ("restarted" if size == "long" else "connections killed"), "postgresql")
    application = f"bridge-drill-{uuid.uuid4().hex[:8]}"
    with workdir("pg") as folder, served(folder, "postgresql", tracker=False, BRIDGE_LOG_LEVEL="WARNING") as (bridge, _, url):
        url = f"{url}&application_name={application}"
        bridge.env["BRIDGE_DATABASE_URL"] = url
        bridge.start()

        def restart(seconds: float) -> None:
            if size == "long":
                version = sorted(os.listdir("/etc/postgresql"))[-1]
                subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                               check=True, capture_output=True, timeout=120)
                return
            admin = create_engine(POSTGRES_ADMIN_URL)
            try:
                ends = time.monotonic() + seconds
                killed = 0
                while time.monotonic() < ends:
                    with admin.begin() as conn:
                        killed += sum(1 for _ in conn.execute(text(_bridge_backends(application))))
                    time.sleep(0.3)
                row.figures["connections terminated"] = killed
            finally:
                admin.dispose()

        through(row, bridge, url, size, restart, "pg")
    return row
