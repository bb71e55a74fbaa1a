"""Reading a paged listing one page ahead.

A search's pages come one call each, and the bridge spends about as long on a page (decoding
it, reading its worklogs and changelogs) as the tracker does answering. Asking for the next
page as soon as a page names it, and only then handing the page on, lets the two overlap: a
sweep takes about the longer of the two instead of their sum (bench/README.md, section 4).

At most one call is ahead. Its failure is raised where its page would have been, after every
page before it; a reader that stops early has the call cancelled and waited for, so nothing
is left running once the listing is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

Params = TypeVar("Params")
Page = TypeVar("Page")


async def read_ahead(
    fetch: Callable[[Params], Coroutine[Any, Any, Page]],
    first: Params,
    following: Callable[[Params, Page], Params | None],
) -> AsyncIterator[Page]:
    """The pages `fetch` answers, from `first` on; `following` names the page after a page
    (None after the last), and that page is asked for before the page is yielded."""
    params, page = first, await fetch(first)
    ahead: asyncio.Task[Page] | None = None
    try:
        while (after := following(params, page)) is not None:
            ahead = asyncio.create_task(fetch(after))
            yield page
            page = await ahead
            params, ahead = after, None
        yield page
    finally:
        if ahead is not None:
            await _abandon(ahead)


async def _abandon(task: asyncio.Task[Page]) -> None:
    """Cancel `task` and wait until it has ended. Its failure concerns no one: its page was
    never reached. A cancellation of the task waiting here is passed on, not swallowed."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        pass
