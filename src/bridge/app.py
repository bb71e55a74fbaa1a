"""Wiring: everything is built here, from settings, and nowhere else.

`create_app(settings)` opens the database (migrating it), loads the workflows (a broken
folder stops start-up with `path:line:col` problems) and returns the ASGI application; the
HTTP client, the inbox writer, the worker and the scheduler start with its lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport

from bridge import __version__
from bridge.attachments import attachment_handlers
from bridge.billing.export import Billing
from bridge.devlinks.azure_devops import AzureDevOps, devops_client, hook_problem, parse_hook
from bridge.devlinks.base import DevProvider
from bridge.devlinks.jira import jira_dev_provider
from bridge.config import Settings
from bridge.executor import Executor
from bridge.engine import FieldsAction
from bridge.handlers import FieldUpdates, Handler, Linking
from bridge.jobs.devitems import DEVOPS, Development, hook_event
from bridge.jobs.exports import scheduled_preview
from bridge.jobs.rounds import Jobs
from bridge.store import InboxWriter, Store, create_db_engine, is_sqlite, migrate
from bridge.store import JobRecords
from bridge.store.ledger import Ledger
from bridge.store.links import Links
from bridge.trackers.base import OfflineTracker, Tracker
from bridge.trackers.health import NOT_CHECKED, TrackerHealth
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, envelope_problem, parse_body
from bridge.web.api import include_routes
from bridge.web.hooks import devops_hook, jira_hook
from bridge.web.intake import WebhookIntake
from bridge.worker import RetryLater, Worker
from bridge.workflows.registry import WorkflowRegistry

log = logging.getLogger(__name__)


def jira_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> RestClient:
    """Basic auth with `BRIDGE_JIRA_USER` and the API token, or a bearer token (a Data
    Center personal access token) when no user is set."""
    if transport is None:
        # aiohttp underneath: a tracker call costs about half the CPU of httpcore's
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        transport = AiohttpTransport(limits=limits)
    return RestClient(
        str(settings.jira_url),
        transport=transport,
        user=settings.jira_user,
        token=settings.jira_token.get_secret_value() if settings.jira_token else None,
        timeout=settings.tracker_timeout_seconds,
        user_agent=f"ticket-bridge/{__version__}",
    )


@dataclass
class Services:
    """The running parts, for the lifespan and for tests."""

    settings: Settings
    store: Store
    registry: WorkflowRegistry
    inbox: InboxWriter
    worker: Worker
    client: RestClient | None
    health: TrackerHealth
    jobs: Jobs
    billing: Billing
    dev_clients: list[RestClient]  # the development providers' own clients


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        settings.tracker_attempts,
        settings.tracker_backoff_seconds,
        settings.tracker_backoff_max_seconds,
    )


def retry_later(settings: Settings) -> RetryLater:
    return RetryLater(
        horizon=timedelta(seconds=settings.tracker_retry_horizon_seconds),
        first=timedelta(seconds=settings.tracker_retry_interval_seconds),
        longest=timedelta(seconds=settings.tracker_retry_interval_max_seconds),
    )


def build_tracker(settings: Settings, client: RestClient | None) -> Tracker:
    if client is None:
        return OfflineTracker("jira", parse_body)
    return JiraTracker(
        client,
        deployment=settings.jira_deployment,
        customer_groups=settings.customer_groups,
        retry=retry_policy(settings),
        group_cache_seconds=settings.group_cache_seconds,
    )


@dataclass
class DevelopmentParts:
    """The development providers built from the settings, with what uses them."""

    development: Development
    handlers: dict[str, Handler]
    clients: list[RestClient]  # to close with the service


def build_development(
    settings: Settings, engine: Engine, tracker: Tracker, client: RestClient | None
) -> DevelopmentParts:
    """Azure DevOps where `BRIDGE_DEVOPS_URL` is set; the Jira development project on the
    tracker's site (or `BRIDGE_DEV_JIRA_URL`'s). A workflow naming a provider that is not
    configured has its numbers checked for presence and format only."""
    retry = retry_policy(settings)
    providers: dict[str, DevProvider] = {}
    clients: list[RestClient] = []
    if settings.devops_url is not None:
        devops = devops_client(settings)
        clients.append(devops)
        providers["azure-devops"] = AzureDevOps(devops, retry=retry)
    jira_dev = jira_dev_provider(settings, client, retry=retry)
    if jira_dev is not None:
        providers["jira"] = jira_dev
        if not jira_dev.same_site:
            clients.append(jira_dev.client)
    links = Links(engine)
    site = str(settings.jira_url or "").rstrip("/")
    linking = Linking(links, providers, tracker, lambda key: f"{site}/browse/{key}")
    return DevelopmentParts(Development(providers, links, JobRecords(engine)), {"link": linking}, clients)


def create_app(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> WebhookIntake:
    """The service as an ASGI app. `transport` carries the tracker calls instead of the
    network (tests)."""
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    registry = WorkflowRegistry(settings.workflows_dir)
    client = jira_client(settings, transport) if settings.tracker_configured else None
    tracker = build_tracker(settings, client)
    dev = build_development(settings, engine, tracker, client)
    handlers = {**dev.handlers, **attachment_handlers(tracker), FieldsAction.kind: FieldUpdates(tracker)}
    executor = Executor(
        tracker, store, dry_run=settings.is_dry, retry=retry_policy(settings), handlers=handlers
    )
    health = TrackerHealth(
        tracker,
        every=settings.tracker_check_seconds,
        retry=min(5.0, settings.tracker_check_seconds),
        problem=NOT_CHECKED if client is not None else None,  # none to check when offline
    )
    inbox = InboxWriter(engine, sqlite_synchronous=settings.sqlite_synchronous)
    worker = Worker(
        store,
        tracker,
        executor,
        lambda: registry.current,
        concurrency=settings.worker_concurrency,
        intake_rate=inbox.rate,
        retry_later=retry_later(settings),
        health=health,
        comment_window=timedelta(seconds=settings.comment_window_seconds),
        timezone=settings.timezone,
        development=dev.development,
        parsers={DEVOPS: lambda body: hook_event("azure-devops", parse_hook(body))},
    )
    inbox.on_commit = worker.wake
    jobs = Jobs(
        engine,
        tracker,
        lambda: registry.current,
        settings.timezone,
        timedelta(seconds=settings.reconcile_lookback),
        worker.wake,
        dev.development,
    )
    billing = Billing(tracker, Ledger(engine), lambda: registry.current)
    services = Services(
        settings, store, registry, inbox, worker, client, health, jobs, billing, dev.clients
    )

    api = FastAPI(title="ticket-bridge", version=__version__, lifespan=_lifespan(services))
    api.state.settings = settings
    api.state.store = store
    api.state.registry = registry
    api.state.worker = worker
    api.state.health = health
    api.state.services = services
    include_routes(api)
    secret, password = settings.jira_webhook_secret, settings.devops_webhook_secret
    hooks = {
        "jira": jira_hook(
            secret.get_secret_value().encode() if secret else None, envelope_problem,
            settings.signature_algorithms,
        ),
        DEVOPS: devops_hook(password.get_secret_value().encode() if password else None, hook_problem),
    }
    return WebhookIntake(api, inbox, max_body_bytes=settings.max_body_bytes, hooks=hooks)


def _development_warnings(services: Services) -> None:
    """Say once, at start, what development items cannot be checked or cannot come back."""
    providers = services.jobs.development.providers if services.jobs.development else {}
    for workflow in services.registry.current:
        dev = workflow.development
        if dev is not None and dev.provider not in providers:
            log.warning(
                "workflow %s: no connection to %s is configured; entering %s checks only that "
                "the number is there and well-formed, and links nothing",
                workflow.name, dev.provider, workflow.statuses[dev.status],
            )
    if "azure-devops" in providers and services.settings.devops_webhook_secret is None:
        log.warning(
            "BRIDGE_DEVOPS_WEBHOOK_SECRET is not set: Azure DevOps hooks are not authenticated; "
            "anyone who can reach /webhooks/devops can submit one"
        )


async def _first_check(health: TrackerHealth) -> None:
    """Check the tracker at start, off the hot path: a wrong token is one clear ERROR line
    (logged by the check) and `/readyz` says so; the scheduler checks again."""
    try:
        if await health.check() is None and (ids := await health.tracker.identity()):
            log.info("acting as tracker account %s", ", ".join(sorted(ids)))
    except Exception:
        log.exception("checking the tracker failed")


def _lifespan(services: Services):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        settings = services.settings
        if is_sqlite(services.store.engine):
            released = await asyncio.to_thread(services.store.release_all_claims)
            if released:
                log.info("taking up %d deliveries left in progress by the last run", released)
        if settings.is_dry:
            why = "BRIDGE_DRY_RUN is set" if settings.dry_run else "no tracker is configured"
            log.warning("dry run (%s): decisions are recorded, actions are not sent", why)
        if settings.jira_webhook_secret is None:
            log.warning(
                "BRIDGE_JIRA_WEBHOOK_SECRET is not set: webhook deliveries are not "
                "authenticated; anyone who can reach /webhooks/jira can submit one"
            )
        if settings.jira_deployment == "datacenter" and not settings.customer_groups:
            log.warning("BRIDGE_JIRA_CUSTOMER_GROUPS is empty: nobody counts as a customer")
        _development_warnings(services)
        services.inbox.start()
        identity_task = asyncio.create_task(_first_check(services.health))
        worker_task = asyncio.create_task(services.worker.run(), name="worker")
        scheduler = AsyncIOScheduler(timezone=settings.timezone)
        scheduler.add_job(
            services.health.check_when_due,
            "interval",
            seconds=services.health.retry,
            id="tracker-check",
            max_instances=1,
            coalesce=True,
        )
        if settings.workflows_reload_seconds > 0:
            scheduler.add_job(
                services.registry.reload_if_changed,
                "interval",
                seconds=settings.workflows_reload_seconds,
                id="workflows-reload",
                max_instances=1,
                coalesce=True,
            )
        if settings.sweep_interval > 0 and settings.tracker_configured:
            for name in ("reconcile", "timers"):
                scheduler.add_job(
                    services.jobs.scheduled,
                    "interval",
                    args=[name],
                    seconds=settings.sweep_interval,
                    id=f"sweep-{name}",
                    max_instances=1,
                    coalesce=True,
                )
        if settings.export_dir is not None and settings.tracker_configured:
            scheduler.add_job(
                scheduled_preview,
                "cron",
                args=[services.billing, settings.export_dir, settings.export_format, ZoneInfo(settings.timezone)],
                day=1,
                hour=6,
                id="billing-preview",
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        # Everything built so far lives as long as the process: keep the collector from
        # walking it again and again while deliveries arrive.
        gc.collect()
        gc.freeze()
        log.info(
            "ticket-bridge %s ready: workflows %s", __version__, ", ".join(services.registry.current.names)
        )
        try:
            yield
        finally:
            identity_task.cancel()
            scheduler.shutdown(wait=False)
            services.inbox.stop()
            services.worker.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(worker_task, timeout=10)
            for open_client in [services.client, *services.dev_clients]:
                if open_client is not None:
                    await open_client.aclose()
            services.store.engine.dispose()

    return lifespan
