"""Slow clients and oversized heads: a crowd that sends its requests a byte at a time, and
request heads too large to be honest, while Jira's deliveries keep coming.

What must hold: every ordinary delivery is acknowledged meanwhile, the crowd is cut off (408)
once the read timeout passes, every oversized head is refused with 431, and nothing
half-sent is stored."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

from bench.common import fixture, percentile
from drills.table import Row
from drills.world import served, workdir
from tests.e2e.service import Bridge

READ_TIMEOUT = 2.0
# (trickling clients, oversized heads, ordinary deliveries)
SIZES = {"long": (1000, 200, 200), "short": (100, 8, 10)}
HEADS = [
    b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n",
    b"".join(b"X-Many-%d: v\r\n" % i for i in range(5000)),
    b"".join(b"X-%d: v\r\n" % i for i in range(150)),
    b"X-Big: " + b"a" * 17000 + b"\r\n",
]


def connect(bridge: Bridge) -> socket.socket:
    return socket.create_connection(("127.0.0.1", bridge.port), timeout=10)


def answers(socks: list[socket.socket], within: float) -> list[bytes | None]:
    """What the service sent on each connection before it closed it (b"" when it sent
    nothing), or None for a connection still open after `within` seconds."""
    received: dict[socket.socket, bytes] = {sock: b"" for sock in socks}
    open_ = set(socks)
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while open_ and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                sock = key.fileobj
                try:
                    chunk = sock.recv(65536)
                except ConnectionError:
                    chunk = b""
                received[sock] += chunk
                if not chunk:
                    selector.unregister(sock)
                    open_.discard(sock)
    return [None if sock in open_ else received[sock] for sock in socks]


def answer(sock: socket.socket, within: float) -> bytes | None:
    return answers([sock], within)[0]


class Trickle:
    """Each socket sends one byte now and then, so no idle timeout ever sees it idle."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.3):
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()


def crowd_heads(crowd: list[socket.socket]) -> None:
    """Half the crowd trickles its bodies, half its headers."""
    body_head = (b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100000\r\n\r\n{")
    for i, sock in enumerate(crowd):
        sock.sendall(body_head if i % 2 else b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nX-Slow: ")


def oversized(bridge: Bridge, count: int) -> int:
    """Oversized heads sent; how many were refused with 431."""
    refused = 0
    for n in range(count):
        with connect(bridge) as sock:
            with contextlib.suppress(ConnectionError):
                sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\n" + HEADS[n % len(HEADS)]
                             + b"Content-Length: 2\r\n\r\n{}")
            refused += (answer(sock, within=5) or b"").startswith(b"HTTP/1.1 431 ")
    return refused


def slow_clients(size: str = "short", database: str = "sqlite") -> Row:
    crowd_size, heads, ordinary = SIZES[size]
    row = Row("slow clients + oversized heads", database)
    with workdir("clients") as folder, served(folder, database, tracker=False, BRIDGE_LOG_LEVEL="WARNING",
                                              BRIDGE_REQUEST_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT)) as (bridge, _, _u):
        bridge.start()
        crowd: list[socket.socket] = []
        try:
            crowd += [connect(bridge) for _ in range(crowd_size)]
            crowd_heads(crowd)
            latencies: list[float] = []
            with Trickle(crowd):
                refused = oversized(bridge, heads)
                for n in range(ordinary):
                    began = time.monotonic()
                    if bridge.post(fixture("summary_only_change.json"), f"meanwhile-{n}").status_code == 200:
                        latencies.append(time.monotonic() - began)
                got = answers(crowd, within=READ_TIMEOUT + 5)  # closed ones have their answer waiting
            cut_off = sum(a is not None and a.startswith(b"HTTP/1.1 408 ") for a in got)
            still_open = sum(a is None for a in got)
        finally:
            for sock in crowd:
                sock.close()
        stored = {r["delivery_key"] for r in bridge.api("/api/deliveries", limit="1000")}
        latencies.sort()
        row.figures = {
            "trickling clients": crowd_size, "cut off with 408": cut_off, "still open": still_open,
            "oversized heads": heads, "refused with 431": refused,
            "deliveries meanwhile": f"{len(latencies)}/{ordinary}",
            "their p50/max ms": "/".join(f"{(percentile(latencies, p) or 0) * 1000:.0f}" for p in (50, 100)),
            "stored half-sent": len(stored - {f"meanwhile-{n}" for n in range(ordinary)}),
        }
        row.expect(len(latencies) == ordinary, f"only {len(latencies)} of {ordinary} deliveries acknowledged")
        row.expect(still_open == 0 and cut_off > crowd_size * 0.9, f"crowd: {cut_off} cut off, {still_open} open")
        row.expect(refused == heads, f"{heads - refused} oversized heads not refused with 431")
        row.expect(row.figures["stored half-sent"] == 0, "something half-sent was stored")
    return row
