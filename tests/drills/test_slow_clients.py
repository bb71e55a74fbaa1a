"""Slow and oversized clients against the real service: a crowd that sends its requests a
byte at a time must neither hold up Jira's deliveries nor keep its connections, and a
request head too large to be honest is refused before it is buffered whole."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load_fixture
from tests.e2e.conftest import Bridge

READ_TIMEOUT = 2.0
CROWD = 200


def impatient(folder: Path) -> Bridge:
    return Bridge(folder, None, BRIDGE_REQUEST_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT))


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """Shared by the tests that store nothing."""
    b = impatient(tmp_path_factory.mktemp("impatient")).start()
    yield b
    b.stop()


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


def test_a_crowd_of_trickling_clients_holds_up_nothing_and_is_cut_off(tmp_path: Path):
    bridge = impatient(tmp_path).start()
    crowd: list[socket.socket] = []
    try:
        crowd += [connect(bridge) for _ in range(CROWD)]
        crowd_drill(bridge, crowd)
    finally:
        for sock in crowd:
            sock.close()
        bridge.stop()


def crowd_drill(bridge: Bridge, crowd: list[socket.socket]) -> None:
    body_head = b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    for i, sock in enumerate(crowd):  # half trickle their bodies, half their headers
        sock.sendall(body_head if i % 2 else b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nX-Slow: ")
    opened = time.monotonic()
    with Trickle(crowd):
        started = time.monotonic()
        delivered = bridge.post(load_fixture("customer_forbidden_transition.json"), "d-meanwhile")
        assert delivered.status_code == 200 and time.monotonic() - started < 1.0
        got = answers(crowd, within=READ_TIMEOUT + 3)
    cut_off_after = time.monotonic() - opened

    assert None not in got and cut_off_after < READ_TIMEOUT + 3
    assert all(a == b"" or a.startswith(b"HTTP/1.1 408 ") for a in got)
    assert sum(a.startswith(b"HTTP/1.1 408 ") for a in got) > CROWD * 0.9
    (only,) = bridge.api("/api/deliveries")
    assert only["delivery_key"] == "d-meanwhile"  # nothing half-sent was stored


def test_a_quick_client_keeps_its_connection_however_long_it_stays(bridge: Bridge):
    with connect(bridge) as sock:
        for _ in range(2):  # the pause between requests is longer than the read timeout
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
            got = b""
            while not got.endswith(b'{"status":"ok"}'):
                got += sock.recv(65536) or pytest.fail(f"closed after {got!r}")
            assert got.startswith(b"HTTP/1.1 200 OK\r\n")
            time.sleep(READ_TIMEOUT + 0.5)


def test_a_request_whose_body_stops_coming_gets_408(bridge: Bridge):
    with connect(bridge) as sock:
        sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nContent-Length: 10\r\n\r\n{")
        sent = time.monotonic()
        got = answer(sock, within=READ_TIMEOUT + 3) or b""
    assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"connection: close" in got.lower()
    assert READ_TIMEOUT - 0.5 < time.monotonic() - sent < READ_TIMEOUT + 2


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n",
        b"".join(b"X-Many-%d: v\r\n" % i for i in range(5000)),
        b"".join(b"X-%d: v\r\n" % i for i in range(150)),  # small, but too many
        b"X-Big: " + b"a" * 17000 + b"\r\n",  # just over the size, arriving with the rest
    ],
    ids=["one-1MB-header", "5000-headers", "150-headers", "17KB-header"],
)
def test_a_head_too_large_gets_431(bridge: Bridge, head: bytes):
    with connect(bridge) as sock:
        sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\n" + head + b"Content-Length: 2\r\n\r\n{}")
        got = answer(sock, within=5) or b""
    assert got.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), got[:200]
    assert bridge.api("/api/deliveries") == []


def test_a_head_that_keeps_growing_is_refused_before_it_ends(bridge: Bridge):
    with connect(bridge) as sock:
        sent = time.monotonic()
        with contextlib.suppress(ConnectionError):  # refused while still sending
            sock.sendall(b"POST /webhooks/jira HTTP/1.1\r\nHost: bridge\r\nX-Big: " + b"a" * (1024 * 1024))
        got = answer(sock, within=READ_TIMEOUT) or b""
    assert got.startswith(b"HTTP/1.1 431 ") and b"request head too large" in got
    assert time.monotonic() - sent < READ_TIMEOUT


def test_the_open_files_limit_is_raised_to_what_the_system_allows(tmp_path: Path):
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256 or not Path("/proc/self/limits").exists():
        pytest.skip("needs Linux and a finite hard limit on open files above 256")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # inherited by the service
    try:
        served = Bridge(tmp_path, None).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        limits = Path(f"/proc/{served.proc.pid}/limits").read_text()
    finally:
        served.stop()
    (line,) = [line for line in limits.splitlines() if line.startswith("Max open files")]
    assert line.split()[3:5] == [str(hard), str(hard)]
