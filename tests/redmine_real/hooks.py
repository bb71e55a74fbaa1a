"""Where the real Redmine's test plugin (plugin/redmine_bridge_hook) posts its deliveries: a
loopback relay that keeps every delivery for the tests to read and, once a test sets
`forward_to`, passes each on unchanged (body and Content-Type) to that URL — the bridge's
webhook endpoint, say. Redmine's server is started once per session with the relay's URL, so
the target can change between tests without restarting it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    forwarded_status: int | None  # the target's answer, None when not forwarded or unreachable

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)["payload"]

    @property
    def journal(self) -> dict[str, Any]:
        """The journal of an "updated" delivery; empty for "opened"."""
        return self.payload.get("journal") or {}


class HookRelay:
    def __init__(self) -> None:
        self.forward_to: str | None = None
        self._deliveries: list[Delivery] = []
        self._lock = threading.Condition()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = relay._forward(body, self.headers.get("Content-Type", "application/json"))
                relay._record(Delivery(self.path, dict(self.headers.items()), body, status))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/redmine-hook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="redmine-hook-relay", daemon=True)
        self._thread.start()

    def _forward(self, body: bytes, content_type: str) -> int | None:
        target = self.forward_to
        if target is None:
            return None
        try:
            return httpx.post(target, content=body, headers={"Content-Type": content_type}, timeout=10).status_code
        except httpx.HTTPError:
            return None

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)
            self._lock.notify_all()

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def for_issue(self, issue_id: int) -> list[Delivery]:
        return [d for d in self.deliveries if d.payload["issue"]["id"] == issue_id]

    def wait_for(self, matches: Callable[[Delivery], bool], timeout: float = 15.0) -> Delivery:
        """The first delivery `matches` accepts, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = next((d for d in self._deliveries if matches(d)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching delivery within {timeout}s; got {len(self._deliveries)}")
                self._lock.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
