"""Jira as a kind of site: Cloud or Data Center, its REST client, its signed webhooks."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import httpx

from bridge.trackers.http import RetryPolicy
from bridge.trackers.jira import JiraTracker
from bridge.trackers.jira_parsing import envelope_problem, parse_body
from bridge.trackers.kinds import Connection, TrackerKind, site_client
from bridge.web.hooks import Hook, jira_hook

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.sites import SiteConfig


def connect(
    site: SiteConfig, settings: Settings, retry: RetryPolicy, transport: httpx.AsyncBaseTransport | None
) -> Connection:
    token = site.token.get_secret_value() if site.token else None
    client = site_client(site.url, settings, transport, user=site.user, token=token)
    tracker = JiraTracker(
        client,
        deployment=site.deployment,
        customer_groups=site.customer_groups,
        retry=retry,
        group_cache_seconds=settings.group_cache_seconds,
        name=site.name,
    )
    return Connection(tracker, client)


def hook(site: SiteConfig, settings: Settings) -> Hook:
    secret = site.webhook_secret.get_secret_value().encode() if site.webhook_secret else None
    return jira_hook(secret, envelope_problem, settings.signature_algorithms)


JIRA = TrackerKind(
    name="jira",
    connect=connect,
    hook=hook,
    offline=lambda name: partial(parse_body, tracker=name),
    ticket_url=lambda url, key: f"{url.rstrip('/')}/browse/{key}",
)
