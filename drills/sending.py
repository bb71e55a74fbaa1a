"""Sending deliveries the way Jira does: signed, each with its own id, and sent again until
it is acknowledged (a refused connection, a timeout, a 5xx: Jira resends)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from bench.common import sign
from tests.e2e.service import SECRET, Bridge


def signed(payload: dict, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return body, {"X-Hub-Signature": sign(body, SECRET), "X-Atlassian-Webhook-Identifier": delivery_id,
                  "Content-Type": "application/json"}


@dataclass
class Sender:
    """Sends every delivery until a 200; counts what that took."""

    bridge: Bridge
    give_up_after: float = 300.0
    acknowledged: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)  # id → a 4xx that is not worth resending
    posts: int = 0
    resends: int = 0
    answers: Counter = field(default_factory=Counter)  # status (None: no answer) → how many
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=10)
        return client

    def send(self, delivery_id: str, payload: dict) -> None:
        body, headers = signed(payload, delivery_id)
        deadline = time.monotonic() + self.give_up_after
        first = True
        while time.monotonic() < deadline:
            with self._lock:
                self.posts += 1
                self.resends += 0 if first else 1
            first = False
            try:
                status = self._client().post(f"{self.bridge.url}/webhooks/jira", content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            with self._lock:
                self.answers[status] += 1
            if status == 200:
                with self._lock:
                    self.acknowledged.add(delivery_id)
                return
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                with self._lock:
                    self.refused[delivery_id] = status
                return
            time.sleep(0.1)

    def send_all(self, deliveries: Iterable[tuple[str, dict]], threads: int = 8) -> None:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(lambda d: self.send(*d), deliveries):
                pass

    def send_paced(self, deliveries: Sequence[tuple[str, dict]], seconds: float, threads: int = 16) -> None:
        """Each delivery sent first at its own moment, evenly over `seconds`."""
        began = time.monotonic()
        step = seconds / max(len(deliveries), 1)

        def at_its_time(index: int) -> None:
            time.sleep(max(0.0, began + index * step - time.monotonic()))
            self.send(*deliveries[index])

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(at_its_time, range(len(deliveries))):
                pass
