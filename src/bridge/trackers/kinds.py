"""The kinds of tracker a site can be, and what the service needs of each to serve a site.

A kind turns a site's configuration into a connected tracker adapter and tells the webhook
edge how that site's deliveries are authenticated and told apart. Adding a kind of tracker
means one module that builds its `TrackerKind`, and its entry in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from bridge import __version__
from bridge.engine import Event
from bridge.trackers.aiohttp_direct import DirectAiohttpTransport
from bridge.trackers.base import Tracker
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.web.hooks import Hook

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.sites import SiteConfig


@dataclass(frozen=True)
class Connection:
    """A site's tracker adapter and the HTTP client it owns (closed with the service)."""

    tracker: Tracker
    client: RestClient


@dataclass(frozen=True)
class TrackerKind:
    name: str
    # the adapter, over `transport` where given (tests), else the network
    connect: Callable[[SiteConfig, Settings, RetryPolicy, httpx.AsyncBaseTransport | None], Connection]
    hook: Callable[[SiteConfig, Settings], Hook]  # how the site's deliveries are received
    offline: Callable[[str], Callable[[bytes], Event]]  # a parser for the site name, no REST
    ticket_url: Callable[[str, str], str]  # (site URL, ticket key) → the ticket's page
    # How far back each reconcile (or polling) pass reads before its cursor: a change saved
    # as the last pass read is not missed. Jira's search index lags; Redmine's does not.
    overlap: timedelta = timedelta(minutes=5)
    # Seconds between reconcile passes: None takes BRIDGE_SWEEP_INTERVAL's.
    poll_interval: Callable[[SiteConfig], float | None] = lambda site: None


def site_client(
    url: str,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    user: str | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> RestClient:
    """A site's REST client: Basic auth with the user and token, a bearer token without a
    user, or the `headers` a tracker takes its key in; over `transport` (tests) or aiohttp,
    on which a tracker call costs about half the CPU of httpcore's."""
    if transport is None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        transport = DirectAiohttpTransport(limits=limits)
    return RestClient(
        url,
        transport=transport,
        user=user,
        token=token,
        headers=headers,
        timeout=settings.tracker_timeout_seconds,
        user_agent=f"ticket-bridge/{__version__}",
    )


def kinds() -> dict[str, TrackerKind]:
    """Every kind, by name."""
    from bridge.trackers.jira_site import JIRA
    from bridge.trackers.redmine_site import REDMINE

    return {JIRA.name: JIRA, REDMINE.name: REDMINE}
