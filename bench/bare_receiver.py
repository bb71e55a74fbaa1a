"""The reference "bare durable receiver": the least a durable webhook receiver must do.

A pure ASGI app (no framework). For a POST it reads the body and hands (delivery id, body)
to ONE writer thread, which inserts whatever arrived while its previous commit was syncing
in one transaction (group commit) into SQLite in WAL mode with `synchronous=FULL`, deduped
on the id (`INSERT ... ON CONFLICT DO NOTHING`); the request is answered 200 only after its
row is committed. Any other method answers 200 (a readiness probe).

It is served by uvicorn with the options the bridge uses (uvicorn's defaults: uvloop and
httptools when installed, one process; access log off):

    python -m bench.bare_receiver --db /tmp/x/bare.db --port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ID_HEADER = b"x-atlassian-webhook-identifier"
MAX_BATCH = 512
SCHEMA = "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, body BLOB NOT NULL)"
INSERT = "INSERT INTO deliveries (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
OK = b'{"status":"accepted"}'
OK_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(OK)).encode())]
FAILED = b'{"error":"not stored"}'
FAILED_HEADERS = [(b"content-type", b"application/json"),
                  (b"content-length", str(len(FAILED)).encode())]

Job = tuple[str, bytes, asyncio.Future[None]]


class GroupCommitWriter:
    """One thread, one connection: commits each batch, then resolves the batch's futures."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="bare-writer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=30)

    async def put(self, delivery_id: str, body: bytes) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.put((delivery_id, body, fut))
        await fut

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(SCHEMA)
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                db.execute("BEGIN")
                db.executemany(INSERT, [(i, b) for i, b, _ in batch])
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                error = exc
                if db.in_transaction:
                    db.execute("ROLLBACK")
            futs = [f for _, _, f in batch]
            try:
                futs[0].get_loop().call_soon_threadsafe(_resolve, futs, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass
        db.close()


def _resolve(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futs:
        if not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)


def create_app(db_path: Path) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    writer = GroupCommitWriter(db_path)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    writer.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    writer.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        if scope["method"] == "POST":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            delivery_id = next((v for k, v in scope["headers"] if k == ID_HEADER), None)
            if delivery_id is None:
                await _answer(send, 400, FAILED, FAILED_HEADERS)
                return
            try:
                await writer.put(delivery_id.decode("latin-1"), body)
            except sqlite3.Error:
                await _answer(send, 503, FAILED, FAILED_HEADERS)
                return
        await _answer(send, 200, OK, OK_HEADERS)

    return app


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.bare_receiver", description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (created)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    # as `bridge serve` calls it: uvicorn's defaults for loop/http, no access log, lifespan on
    uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level="info",
                access_log=False, lifespan="on", timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
