"""The running parts of one site: its tracker adapter and what works through it.

Every site has its own tracker connection, health, executor, periodic jobs and billing;
the inbox, the worker and the database are shared, and every row they write names the site
(the `tracker` column), so two sites' tickets with the same key never mix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bridge.billing.export import Billing
from bridge.executor import Executor
from bridge.jobs.rounds import Jobs
from bridge.trackers.base import Tracker
from bridge.trackers.health import TrackerHealth
from bridge.trackers.http import RestClient
from bridge.trackers.kinds import TrackerKind
from bridge.workflows.loader import WorkflowSet

@dataclass
class SiteServices:
    name: str
    kind: TrackerKind
    url: str  # the site's base URL; "" when offline
    tracker: Tracker
    client: RestClient | None  # None: no tracker configured (dry)
    health: TrackerHealth
    executor: Executor
    jobs: Jobs
    billing: Billing
    workflows: Callable[[], WorkflowSet]
    poll_interval: float  # seconds between reconcile (polling) passes; 0: none

    def ticket_url(self, key: str) -> str:
        return self.kind.ticket_url(self.url, key) if self.url else key


class UnknownSite(LookupError):
    """A site was asked for by a name that is none of the configured sites'."""

    def __init__(self, name: str, known: Mapping[str, object]) -> None:
        super().__init__(f"no site is named {name!r}; the sites are {', '.join(known) or 'none'}")


def chosen_site(sites: Mapping[str, SiteServices], name: str | None) -> SiteServices:
    """The site `name`, or the only one (the first, when several and none is named)."""
    if name is None:
        return next(iter(sites.values()))
    try:
        return sites[name]
    except KeyError:
        raise UnknownSite(name, sites) from None
