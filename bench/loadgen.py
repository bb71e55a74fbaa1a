"""Open-loop load generator of the revert and sustained benchmarks, run as its own process.

Sends `--rate` deliveries a second for `--duration` seconds to a bridge, on schedule: the
i-th delivery is due at start + i/rate and is sent then whether or not earlier ones were
answered (a new keep-alive connection is opened when none is idle). Each delivery is the
`customer_forbidden_transition.json` sample with the issue key SRV-<n> (n = --first, --first+1,
...), signed with --secret, with a unique X-Atlassian-Webhook-Identifier.

With `--forbidden-share F` below 1, only that share of the deliveries (spread evenly) are
forbidden moves; the others are `summary_only_change.json`, a harmless summary change that
needs no tracker call, on tickets SRV-<--harmless-first + i mod --harmless-tickets> (kept
apart from the forbidden moves' tickets).

The timestamps are time.monotonic() (CLOCK_MONOTONIC, system-wide on Linux), so they compare
with the Jira stand-in's call log; `wall_minus_monotonic` turns them into wall-clock time (to
compare with the bridge's own timestamps). Writes one JSON document to --out:
{"rate", "duration", "wall_minus_monotonic",
 "records": [{"key", "id", "kind", "due", "sent", "answered", "status"}, ...]}.

    python -m bench.loadgen --url http://127.0.0.1:8080/webhooks/jira --secret S \\
        --rate 200 --duration 20 --first 1 --out sent.json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import compact, fixture, sign

TEMPLATE = "customer_forbidden_transition.json"
HARMLESS = "summary_only_change.json"
FORBIDDEN, HARMLESS_KIND = "forbidden", "harmless"


def deliveries(first: int, count: int, secret: str, id_prefix: str, *, host: str,
               path: str) -> list[tuple[str, bytes]]:
    """(ticket key, raw HTTP request) for SRV-<first> ... SRV-<first+count-1>."""
    return [(key, raw) for key, raw, _, _ in mixed(first, count, secret, id_prefix, host=host, path=path)]


def is_forbidden(i: int, share: float) -> bool:
    """Whether the i-th delivery of a mix is a forbidden move: `share` of them, spread evenly."""
    return int((i + 1) * share) > int(i * share)


def mixed(first: int, count: int, secret: str, id_prefix: str, *, host: str, path: str,
          forbidden_share: float = 1.0, harmless_first: int = 1_000_000,
          harmless_tickets: int = 1000) -> list[tuple[str, bytes, str, str]]:
    """(ticket key, raw HTTP request, kind, delivery id) of `count` deliveries: forbidden moves
    on SRV-<first>, SRV-<first+1>, ... and harmless summary changes between them."""
    forbidden, harmless = fixture(TEMPLATE), fixture(HARMLESS)
    built = []
    moves = 0
    for i in range(count):
        if is_forbidden(i, forbidden_share):
            n, kind, base = first + moves, FORBIDDEN, forbidden
            moves += 1
        else:
            n, kind, base = harmless_first + i % harmless_tickets, HARMLESS_KIND, harmless
        key, ident = f"SRV-{n}", f"{id_prefix}-{first + i if forbidden_share >= 1 else i}"
        body = compact(_on_ticket(base, n, 500000 + first + i))
        built.append((key, _request(host, path, body, sign(body, secret), ident), kind, ident))
    return built


def _on_ticket(base: dict[str, Any], n: int, change: int) -> dict[str, Any]:
    payload = copy.deepcopy(base)
    payload["issue"]["key"] = f"SRV-{n}"
    payload["issue"]["id"] = str(100000 + n)
    payload["issue"]["self"] = payload["issue"]["self"].rsplit("/", 1)[0] + f"/{100000 + n}"
    payload["changelog"]["id"] = str(change)
    return payload


def _request(host: str, path: str, body: bytes, signature: str, ident: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json; charset=utf-8\r\n"
        "User-Agent: Atlassian Webhook HTTP Client\r\nX-Atlassian-Webhook-Flow: Primary\r\n"
        f"X-Hub-Signature: {signature}\r\nX-Atlassian-Webhook-Identifier: {ident}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class Connections:
    """Keep-alive HTTP/1.1 connections to one address; one request at a time on each.

    A connection idle for longer than `max_idle` is dropped rather than reused (uvicorn closes
    idle keep-alive connections after 5 s), and a request whose reused connection turns out
    closed before any answer is sent again once on a new connection (the same delivery id, so
    the receiver's dedupe makes that safe), as a webhook sender would.
    """

    def __init__(self, host: str, port: int, max_idle: float = 3.0) -> None:
        self.host, self.port, self.max_idle = host, port, max_idle
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0
        self.resent = 0

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def prewarm(self, count: int) -> None:
        for _ in range(count):
            reader, writer = await self.open()
            self.idle.append((reader, writer, time.monotonic()))

    def _take_idle(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since <= self.max_idle and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    async def send(self, raw: bytes) -> tuple[float, float, int]:
        """(sent, answered, status) of one request."""
        conn = self._take_idle()
        if conn is not None:
            try:
                return await self._exchange(conn, raw)
            except _ClosedEarly:
                self.resent += 1
        return await self._exchange(await self.open(), raw)

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        raw: bytes) -> tuple[float, float, int]:
        reader, writer = conn
        sent = time.monotonic()
        try:
            writer.write(raw)
            status_line = await reader.readline()
        except (ConnectionError, OSError) as exc:
            writer.close()
            raise _ClosedEarly from exc
        if not status_line:
            writer.close()
            raise _ClosedEarly
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        answered = time.monotonic()
        self.idle.append((reader, writer, answered))
        return sent, answered, status

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


class _ClosedEarly(ConnectionError):
    """The connection closed before any byte of the answer."""


async def run(url: str, secret: str, rate: float, duration: float, first: int,
              id_prefix: str, prewarm: int, forbidden_share: float = 1.0,
              harmless_first: int = 1_000_000, harmless_tickets: int = 1000) -> dict[str, Any]:
    parts = urlsplit(url)
    count = max(1, round(rate * duration))
    items = mixed(first, count, secret, id_prefix, host=parts.netloc, path=parts.path or "/",
                  forbidden_share=forbidden_share, harmless_first=harmless_first,
                  harmless_tickets=harmless_tickets)
    pool = Connections(parts.hostname or "127.0.0.1", parts.port or 80)
    await pool.prewarm(prewarm)
    records: list[dict[str, Any]] = []

    async def one(key: str, raw: bytes, due: float, kind: str, ident: str) -> None:
        record: dict[str, Any] = {"key": key, "id": ident, "kind": kind, "due": due, "sent": None,
                                  "answered": None, "status": None}
        records.append(record)
        try:
            record["sent"], record["answered"], record["status"] = await asyncio.wait_for(
                pool.send(raw), timeout=30)
        except (OSError, ConnectionError, TimeoutError, ValueError, EOFError, IndexError) as exc:
            record["error"] = repr(exc)

    start = time.monotonic() + 0.05
    tasks = []
    for i, (key, raw, kind, ident) in enumerate(items):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(key, raw, due, kind, ident)))
    await asyncio.gather(*tasks)
    pool.close()
    return {"rate": rate, "duration": duration, "connections_opened": pool.opened,
            "resent_on_new_connection": pool.resent,
            "wall_minus_monotonic": time.time() - time.monotonic(), "records": records}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT/webhooks/jira")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--first", type=int, default=1, help="first ticket number")
    parser.add_argument("--id-prefix", default="revert")
    parser.add_argument("--prewarm", type=int, default=16, help="connections opened up front")
    parser.add_argument("--forbidden-share", type=float, default=1.0,
                        help="share of forbidden moves; the rest are harmless summary changes")
    parser.add_argument("--harmless-first", type=int, default=1_000_000,
                        help="first ticket number of the harmless deliveries")
    parser.add_argument("--harmless-tickets", type=int, default=1000,
                        help="how many tickets the harmless deliveries are spread over")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    host = urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("only loopback targets are allowed")
    result = asyncio.run(run(args.url, args.secret, args.rate, args.duration, args.first,
                             args.id_prefix, args.prewarm, args.forbidden_share,
                             args.harmless_first, args.harmless_tickets))
    args.out.write_text(json.dumps(result), "utf-8")


if __name__ == "__main__":
    main()
