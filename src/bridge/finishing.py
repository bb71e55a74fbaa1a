"""The worker's own group commits: deliveries' ends, and decisions before their actions.

Under load many deliveries are decided, and end, within a few milliseconds of one another.
Each write in a transaction of its own costs a hop to a thread and a commit (and the GIL
handed back and forth around every statement); written together, they share them. A write
goes out once the group being written before it is committed, so alone it waits for
nothing; whoever asked for it goes on only once it is written, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bridge.store import Finished

T = TypeVar("T")
R = TypeVar("R")


class Grouped(Generic[T, R]):
    """Hands what arrives while one group is being written to `write` as the next group.
    `write` answers each entry's result or the exception that refused it; what it raises
    reaches the whole group."""

    def __init__(self, write: Callable[[list[T]], Sequence[R | BaseException]]) -> None:
        self._write_group = write
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def put(self, entry: T) -> R:
        """`entry`'s result once its group is written."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((entry, done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        group: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queued:
                group, self._queued = self._queued, []
                try:
                    results = await asyncio.to_thread(self._write_group, [entry for entry, _ in group])
                except Exception as exc:
                    results = [exc] * len(group)
                for (_, done), result in zip(group, results, strict=True):
                    _settle(done, result)
                group = []
        except BaseException as exc:  # cancelled: nobody may wait for a write that will not come
            for _, done in group + self._queued:
                _settle(done, exc)
            self._queued = []
            raise
        finally:
            self._writing = None


def _settle(done: asyncio.Future[R], result: R | BaseException) -> None:
    if done.done():
        return
    if isinstance(result, asyncio.CancelledError):
        done.cancel()
    elif isinstance(result, BaseException):
        done.set_exception(result)
    else:
        done.set_result(result)


class Finisher:
    """Ends deliveries in groups through `finish` (`Deliveries.finish_many`: one
    transaction, each result alone if the group is refused)."""

    def __init__(self, finish: Callable[[list[Finished]], None]) -> None:
        def write(results: list[Finished]) -> list[None]:
            finish(results)
            return [None] * len(results)

        self._grouped: Grouped[Finished, None] = Grouped(write)

    async def finish(self, result: Finished) -> None:
        """Return once `result` is written; raise what writing its group raised."""
        await self._grouped.put(result)
