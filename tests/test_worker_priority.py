"""Under a burst the intake comes first; the worker still takes the inbox up, late at most
by its bound."""

from __future__ import annotations

import asyncio
import time

from bridge.store.inbox import _Rate
from tests.conftest import load_fixture
from tests.test_processing import Harness


def test_rate_counts_about_the_last_second(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    rate = _Rate()
    for _ in range(10):
        rate.add(100)
        now[0] += 0.1
    assert 900 <= rate.per_second() <= 1100
    now[0] += 5
    assert rate.per_second() == 0


async def test_worker_yields_to_a_burst_but_only_for_so_long(tmp_path):
    h = Harness(tmp_path)
    worker = h.services.worker
    burst = [True]
    worker._intake_rate = lambda: 10_000.0 if burst[0] else 0.0
    worker._yield_at_most = 0.5
    h.services.inbox.start()
    try:
        await h.deliver(load_fixture("summary_only_change.json"))
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.25)
        assert h.services.store.counts()["pending"] == 1  # still yielding to the burst
        deadline = time.monotonic() + 3
        while h.services.store.counts()["done"] == 0:
            assert time.monotonic() < deadline, "the worker never took the delivery up"
            await asyncio.sleep(0.05)
        worker.stop()
        await asyncio.wait_for(task, 5)
    finally:
        h.services.inbox.stop()
