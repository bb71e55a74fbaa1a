"""How long a request may take to arrive and how large its head may be.

Every open connection costs a file descriptor and memory whatever it sends, so a client
that sends its request a byte at a time, or a head of megabytes, must not keep them: a
crowd of such clients would otherwise use up the process's files and hold up Jira's
deliveries. The HTTP server does not bound this itself: uvicorn's httptools protocol has no
timeout before a response and buffers any head, h11's bounds the head but answers 400 and
has no timeout either. So the service runs httptools through the protocol below (its
`on_*` methods are httptools' parser callbacks):

- a request must arrive whole, head and body, within `read_timeout` of its first byte (of
  the connection opening, for the first one), or it gets 408 and the connection is closed;
- a head with more than `max_headers` fields, or more than `max_header_bytes` of names and
  values, gets 431 and the connection is closed; a head still growing past that (plus room
  for the request line) is refused as it arrives, before it is buffered whole.

After such an answer the connection lingers a moment, discarding what the client still
sends, so that the client reads the answer rather than a reset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 1.0
REQUEST_LINE_ROOM = 8192
FIELD_FRAMING = 4  # ": " and CRLF


@dataclass(frozen=True)
class RequestLimits:
    read_timeout: float
    max_header_bytes: int
    max_headers: int

    @property
    def max_head_bytes(self) -> int:
        """The whole head as it arrives: fields, their framing and the request line."""
        return self.max_header_bytes + FIELD_FRAMING * self.max_headers + REQUEST_LINE_ROOM

    def head_problem(self, headers: list[tuple[bytes, bytes]], count_bytes: bool = True) -> str | None:
        if len(headers) > self.max_headers:
            return f"more than {self.max_headers} header fields"
        if count_bytes and sum(len(n) + len(v) for n, v in headers) > self.max_header_bytes:
            return f"header fields larger than {self.max_header_bytes} bytes"
        return None


def bounded_http(limits: RequestLimits) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn as `http=`."""
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    limits: RequestLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._refused = False
        self._reading_head = True
        self._head_bytes = 0
        self._small_head = False
        # One timer per connection, moved lazily: a request only notes when it must end.
        self._read_by: float | None = self.loop.time() + self.limits.read_timeout
        self._timer: asyncio.TimerHandle | None = self.loop.call_at(self._read_by, self._on_timer)
        self._closing: asyncio.TimerHandle | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._timer, self._closing):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        was_head = self._reading_head
        if was_head:  # a head that fits in what arrived so far needs no counting
            self._small_head = self._head_bytes + len(data) <= self.limits.max_header_bytes
        super().data_received(data)
        if was_head and self._reading_head and not self._refused:  # all of it was head
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_head_bytes:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_by is None:
            self._read_by = self.loop.time() + self.limits.read_timeout
            if self._timer is None:
                self._timer = self.loop.call_at(self._read_by, self._on_timer)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._reading_head = False
        self._head_bytes = 0
        problem = self.limits.head_problem(self.headers, count_bytes=not self._small_head)
        if problem is not None:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, problem)
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._reading_head = True
        self._read_by = None
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        if self._refused:
            return
        self._read_by = None  # the connection is no longer HTTP's
        super().handle_websocket_upgrade()

    def _on_timer(self) -> None:
        self._timer = None
        if self._read_by is None:  # nothing is being read; the next request sets it again
            return
        if self._read_by > self.loop.time():  # a later request is being read
            self._timer = self.loop.call_at(self._read_by, self._on_timer)
            return
        reason = f"the request did not arrive within {self.limits.read_timeout:g} seconds"
        self._refuse(HTTPStatus.REQUEST_TIMEOUT, reason)

    def _refuse(self, status: HTTPStatus, reason: str) -> None:
        """Answer `status` unless an answer is already under way, then close."""
        if self._refused:
            return
        self._refused = True
        self._read_by = None
        cycle = self.cycle
        in_flight = cycle is not None and not cycle.response_complete
        # Reading a head, the cycle in flight (if any) is an earlier request's; reading a
        # body, it is this one's, and only its own answer may come first.
        if self._reading_head or cycle is None:
            may_answer = not in_flight
        else:
            may_answer = not cycle.response_started
        if in_flight:  # the application's answer, if it ever comes, goes nowhere
            cycle.disconnected = True
            cycle.message_event.set()
        if self.transport.is_closing():
            return
        if not may_answer:
            self.transport.close()
            return
        self.transport.write(_answer(status, reason))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._closing = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _answer(status: HTTPStatus, reason: str) -> bytes:
    body = orjson.dumps({"error": reason})
    return b"".join([
        f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode(),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ])
