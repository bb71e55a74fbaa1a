"""Slow and oversized clients against the real service (the crowd is the drill in
drills/clients.py, short): a crowd that sends its requests a
byte at a time must neither hold up Jira's deliveries nor keep its connections, and a
request head too large to be honest is refused before it is buffered whole."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.clients import READ_TIMEOUT, answer, connect, slow_clients
from tests.e2e.conftest import Bridge


def impatient(folder: Path) -> Bridge:
    return Bridge(folder, None, BRIDGE_REQUEST_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT))


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """Shared by the tests that store nothing."""
    b = impatient(tmp_path_factory.mktemp("impatient")).start()
    yield b
    b.stop()


def test_a_crowd_of_trickling_clients_holds_up_nothing_and_is_cut_off():
    row = slow_clients("short")
    assert row.failures == [], (row.failures, row.figures)
    assert row.figures["cut off with 408"] > 90 and row.figures["refused with 431"] == 8


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
