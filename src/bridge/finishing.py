"""Ending deliveries in groups: the worker's own group commit.

Under load many deliveries end within a few milliseconds of one another. Each ended in a
transaction of its own costs a hop to a thread and a commit (and the GIL handed back and
forth around every statement); ended together, they share them. A delivery's end is
written once the one being written before it is committed, so alone it waits for nothing;
its task finishes only when its row is written, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bridge.store import Finished


class Finisher:
    """Hands the results that arrive while one group is being written to `finish` as the
    next group (`Deliveries.finish_many`: one transaction, each result alone if the group
    is refused)."""

    def __init__(self, finish: Callable[[list[Finished]], None]) -> None:
        self._finish = finish
        self._queued: list[tuple[Finished, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def finish(self, result: Finished) -> None:
        """Return once `result` is written; raise what writing its group raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((result, done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        group: list[tuple[Finished, asyncio.Future[None]]] = []
        try:
            while self._queued:
                group, self._queued = self._queued, []
                try:
                    await asyncio.to_thread(self._finish, [result for result, _ in group])
                except Exception as exc:
                    _settle(group, exc)
                else:
                    _settle(group, None)
                group = []
        except BaseException as exc:  # cancelled: nobody may wait for a write that will not come
            _settle(group + self._queued, exc)
            self._queued = []
            raise
        finally:
            self._writing = None


def _settle(group: list[tuple[Finished, asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            done.cancel()
        else:
            done.set_exception(error)
