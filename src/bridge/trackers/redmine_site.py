"""Redmine (and Easy Project, built on it) as a kind of site: its REST client keyed by
`X-Redmine-API-Key`, webhooks signed or carrying a token, and polling where it sends none."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import httpx

from bridge.trackers.http import RetryPolicy
from bridge.trackers.kinds import Connection, TrackerKind, site_client
from bridge.trackers.redmine import RedmineTracker
from bridge.trackers.redmine_hooks import redmine_hook
from bridge.trackers.redmine_parsing import parse_body
from bridge.web.hooks import Hook

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.sites import SiteConfig


def connect(
    site: SiteConfig, settings: Settings, retry: RetryPolicy, transport: httpx.AsyncBaseTransport | None
) -> Connection:
    key = {"X-Redmine-API-Key": site.api_key.get_secret_value()} if site.api_key else None
    client = site_client(site.url, settings, transport, headers=key)
    tracker = RedmineTracker(
        client,
        name=site.name,
        customer_roles=site.customer_roles,
        retry=retry,
        cache_seconds=settings.group_cache_seconds,
    )
    return Connection(tracker, client)


def hook(site: SiteConfig, settings: Settings) -> Hook:
    secret = site.webhook_secret.get_secret_value().encode() if site.webhook_secret else None
    return redmine_hook(secret)


REDMINE = TrackerKind(
    name="redmine",
    connect=connect,
    hook=hook,
    offline=lambda name: partial(parse_body, tracker=name),
    ticket_url=lambda url, key: f"{url.rstrip('/')}/issues/{key}",
    # `updated_on` has one-second resolution and no index to lag behind
    overlap=timedelta(seconds=1),
    poll_interval=lambda site: site.poll_interval,
)
