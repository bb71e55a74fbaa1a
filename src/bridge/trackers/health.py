"""Whether the tracker answers the bridge, for `/readyz`, the worker and `bridge doctor`.

Wrong credentials must not look healthy. Until a check succeeds, readiness names the tracker
and what is wrong with it, and the worker takes nothing from the inbox when the problem is
one that no retry can get past (credentials, the URL, TLS): deliveries are still accepted
and wait there, so nothing is lost, and every call is not answered with a 401 that could
get the account locked. A tracker that is merely unavailable does not stop the worker:
deliveries wait for it one by one (see `Worker`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bridge.trackers.base import Tracker, TrackerProblem

log = logging.getLogger(__name__)

NOT_CHECKED = TrackerProblem("not checked yet", blocking=False)


@dataclass
class TrackerHealth:
    """The last check's outcome; checks come every `every` seconds, and every `retry`
    seconds while the tracker is failing."""

    tracker: Tracker
    every: float = 30.0
    retry: float = 5.0
    problem: TrackerProblem | None = NOT_CHECKED
    checked_at: float = float("-inf")

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def blocking(self) -> bool:
        """Whether the worker must wait: no call can succeed until someone fixes this."""
        return self.problem is not None and self.problem.blocking

    def describe(self) -> str:
        return "ok" if self.problem is None else f"{self.tracker.name}: {self.problem.text}"

    async def check(self) -> TrackerProblem | None:
        """Ask the tracker now; log when the answer changes."""
        problem = await self.tracker.check()
        self.checked_at = time.monotonic()
        if problem is not None and problem != self.problem:
            log.error("tracker %s is not usable: %s", self.tracker.name, problem.text)
        elif problem is None and self.problem not in (None, NOT_CHECKED):
            log.info("tracker %s answers again", self.tracker.name)
        self.problem = problem
        return problem

    async def check_when_due(self) -> None:
        """The scheduler's tick: a check when one is due."""
        wait = self.every if self.problem is None else self.retry
        if time.monotonic() - self.checked_at >= wait:
            await self.check()

    def refused(self, problem: TrackerProblem) -> None:
        """A call on the worker's path was refused for a reason no retry gets past (the
        credentials): hold the worker until a check succeeds."""
        if problem != self.problem:
            log.error("tracker %s is not usable: %s", self.tracker.name, problem.text)
        self.problem = problem
