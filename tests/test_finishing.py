"""Deliveries ending together are written together, and each task learns how its own write went."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bridge.finishing import Finisher
from bridge.store import DONE, Finished


class Recorder:
    """A `finish_many` that records each group and can be held mid-write."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.fail_with: Exception | None = None

    def __call__(self, results: list[Finished]) -> None:
        self.release.wait(10)
        self.groups.append([r.delivery_id for r in results])
        if self.fail_with is not None:
            raise self.fail_with


async def test_a_delivery_ending_alone_is_written_at_once():
    recorder = Recorder()
    finisher = Finisher(recorder)
    await finisher.finish(Finished(1, DONE))
    await finisher.finish(Finished(2, DONE))
    assert recorder.groups == [[1], [2]]


async def test_deliveries_ending_during_a_write_share_the_next_one():
    recorder = Recorder()
    recorder.release.clear()
    finisher = Finisher(recorder)
    first = asyncio.create_task(finisher.finish(Finished(1, DONE)))
    await asyncio.sleep(0.05)  # the first group is being written
    later = [asyncio.create_task(finisher.finish(Finished(n, DONE))) for n in (2, 3, 4)]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(t.done() for t in later)  # nobody returns before its write
    recorder.release.set()
    await asyncio.gather(first, *later)
    assert recorder.groups == [[1], [2, 3, 4]]


async def test_every_delivery_of_a_refused_group_learns_of_it():
    recorder = Recorder()
    recorder.release.clear()
    finisher = Finisher(recorder)
    first = asyncio.create_task(finisher.finish(Finished(1, DONE)))
    await asyncio.sleep(0.05)
    recorder.fail_with = RuntimeError("database is locked")
    later = [asyncio.create_task(finisher.finish(Finished(n, DONE))) for n in (2, 3)]
    await asyncio.sleep(0.05)
    recorder.release.set()
    with pytest.raises(RuntimeError):
        await first  # its own write failed too: the failure was set before it ended
    for task in later:
        with pytest.raises(RuntimeError, match="locked"):
            await task
    recorder.fail_with = None
    await finisher.finish(Finished(5, DONE))  # the next one is written as usual
    assert recorder.groups[-1] == [5]
