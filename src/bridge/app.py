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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI

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
from bridge.trackers.jira import JiraTracker
from bridge.trackers.jira_parsing import envelope_problem
from bridge.trackers.kinds import TrackerKind, kinds
from bridge.web.api import include_routes
from bridge.web.hooks import devops_hook, jira_hook
from bridge.web.intake import WebhookIntake
from bridge.site_services import SiteServices, chosen_site
from bridge.sites import SiteConfig, sites_from_settings, workflow_loader
from bridge.worker import RetryLater, Worker
from bridge.workflows.loader import WorkflowSet
from bridge.workflows.registry import WorkflowRegistry

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The running parts, for the lifespan and for tests. `sites` by name, the first being
    the one a single-site deployment has; `client`, `health`, `jobs` and `billing` are the
    first site's."""

    settings: Settings
    store: Store
    registry: WorkflowRegistry
    inbox: InboxWriter
    worker: Worker
    sites: dict[str, SiteServices]
    dev_clients: list[RestClient]  # the development providers' own clients

    @property
    def first(self) -> SiteServices:
        return next(iter(self.sites.values()))

    @property
    def client(self) -> RestClient | None:
        return self.first.client

    @property
    def health(self) -> TrackerHealth:
        return self.first.health

    @property
    def jobs(self) -> Jobs:
        return self.first.jobs

    @property
    def billing(self) -> Billing:
        return self.first.billing

    def site(self, name: str | None) -> SiteServices:
        return chosen_site(self.sites, name)


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


@dataclass
class DevelopmentParts:
    """The development providers built from the settings, with what uses them."""

    development: Development
    providers: dict[str, DevProvider]
    links: Links
    clients: list[RestClient]  # to close with the service

    def handlers(self, tracker: Tracker, url: Callable[[str], str]) -> dict[str, Handler]:
        """What acts on one site's tickets: links made from its tickets to the items."""
        return {"link": Linking(self.links, self.providers, tracker, url)}


def build_development(
    settings: Settings, engine: Engine, tracker: Tracker, client: RestClient | None
) -> DevelopmentParts:
    """Azure DevOps where `BRIDGE_DEVOPS_URL` is set; the Jira development project on the
    first site (or `BRIDGE_DEV_JIRA_URL`'s). A workflow naming a provider that is not
    configured has its numbers checked for presence and format only."""
    retry = retry_policy(settings)
    providers: dict[str, DevProvider] = {}
    clients: list[RestClient] = []
    if settings.devops_url is not None:
        devops = devops_client(settings)
        clients.append(devops)
        providers["azure-devops"] = AzureDevOps(devops, retry=retry)
    jira_dev = jira_dev_provider(settings, client if isinstance(tracker, JiraTracker) else None, retry=retry)
    if jira_dev is not None:
        providers["jira"] = jira_dev
        if not jira_dev.same_site:
            clients.append(jira_dev.client)
    links = Links(engine)
    return DevelopmentParts(Development(providers, links, JobRecords(engine)), providers, links, clients)


def _ticket_url(kind: TrackerKind, url: str, key: str) -> str:
    return kind.ticket_url(url, key) if url else key


def site_configs(settings: Settings) -> tuple[SiteConfig, ...]:
    """The configured sites; with none, one site `jira` judged offline (dry)."""
    return sites_from_settings(settings)


def _connect(
    config: SiteConfig | None, settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> tuple[TrackerKind, Tracker, RestClient | None]:
    if config is None:  # no tracker configured: judged on the deliveries alone
        jira = kinds()["jira"]
        return jira, OfflineTracker("jira", jira.offline("jira")), None
    kind = kinds()[config.kind]
    connection = kind.connect(config, settings, retry_policy(settings), transport)
    return kind, connection.tracker, connection.client


def create_app(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> WebhookIntake:
    """The service as an ASGI app. `transport` carries the tracker calls instead of the
    network (tests)."""
    configured = site_configs(settings)  # refused before the database is touched
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    store.lease = timedelta(seconds=settings.claim_lease_seconds)
    registry = WorkflowRegistry(settings.workflows_dir, load=workflow_loader(configured))
    configs: tuple[SiteConfig | None, ...] = configured or (None,)
    connected = [(config, *_connect(config, settings, transport)) for config in configs]
    first_tracker, first_client = connected[0][2], connected[0][3]
    dev = build_development(settings, engine, first_tracker, first_client)
    ledger = Ledger(engine)
    sites: dict[str, SiteServices] = {}
    for config, kind, tracker, client in connected:
        name = tracker.name
        listed = config.workflows if config is not None else None

        def workflows(name: str = name, listed: tuple[str, ...] | None = listed) -> WorkflowSet:
            return registry.current.for_site(name, listed)

        url = config.url if config is not None else ""
        handlers = {
            **dev.handlers(tracker, partial(_ticket_url, kind, url)),
            **attachment_handlers(tracker),
            FieldsAction.kind: FieldUpdates(tracker),
        }
        executor = Executor(
            tracker, store, dry_run=settings.is_dry, retry=retry_policy(settings), handlers=handlers
        )
        health = TrackerHealth(
            tracker,
            every=settings.tracker_check_seconds,
            retry=min(5.0, settings.tracker_check_seconds),
            problem=NOT_CHECKED if client is not None else None,  # none to check when offline
        )
        jobs = Jobs(
            engine,
            tracker,
            workflows,
            settings.timezone,
            timedelta(seconds=settings.reconcile_lookback),
            development=dev.development if not sites else None,  # items are polled once
            overlap=kind.overlap,
        )
        polling = kind.poll_interval(config) if config is not None else None
        sites[name] = SiteServices(
            name, kind, url, tracker, client, health, executor, jobs,
            Billing(tracker, ledger, workflows), workflows,
            settings.sweep_interval if polling is None else polling,
        )
    first, *others = sites.values()
    inbox = InboxWriter(engine, sqlite_synchronous=settings.sqlite_synchronous)
    worker = Worker(
        store,
        first.tracker,
        first.executor,
        first.workflows,
        concurrency=settings.worker_concurrency,
        intake_rate=inbox.rate,
        retry_later=retry_later(settings),
        health=first.health,
        comment_window=timedelta(seconds=settings.comment_window_seconds),
        timezone=settings.timezone,
        development=dev.development,
        parsers={DEVOPS: lambda body: hook_event("azure-devops", parse_hook(body))},
        sites={s.name: (s.tracker, s.executor, s.workflows, s.health) for s in others},
    )
    inbox.on_commit = worker.wake
    for site in sites.values():
        site.jobs.wake = worker.wake
    services = Services(settings, store, registry, inbox, worker, sites, dev.clients)

    api = FastAPI(title="ticket-bridge", version=__version__, lifespan=_lifespan(services))
    api.state.settings = settings
    api.state.store = store
    api.state.registry = registry
    api.state.worker = worker
    api.state.health = first.health
    api.state.services = services
    include_routes(api)
    password = settings.devops_webhook_secret
    hooks = {
        config.name: kinds()[config.kind].hook(config, settings) for config in configs if config is not None
    }
    if not hooks:  # offline: Jira's deliveries, unsigned unless a secret is set
        secret = settings.jira_webhook_secret
        hooks["jira"] = jira_hook(
            secret.get_secret_value().encode() if secret else None, envelope_problem,
            settings.signature_algorithms,
        )
    hooks[DEVOPS] = devops_hook(password.get_secret_value().encode() if password else None, hook_problem)
    return WebhookIntake(api, inbox, max_body_bytes=settings.max_body_bytes, hooks=hooks)


def _site_warnings(config: SiteConfig, settings: Settings) -> None:
    """Say once, at start, what leaves a site open or blind."""
    if config.webhook_secret is None:
        setting = "its webhook_secret_env" if settings.sites_file else f"BRIDGE_{config.kind.upper()}_WEBHOOK_SECRET"
        log.warning(
            "site %s: %s is not set: webhook deliveries are not authenticated; anyone who "
            "can reach /webhooks/%s can submit one", config.name, setting, config.name,
        )
    if config.kind == "jira" and config.deployment == "datacenter" and not config.customer_groups:
        log.warning("site %s: no customer groups (BRIDGE_JIRA_CUSTOMER_GROUPS): nobody counts as a customer", config.name)


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
        for config in site_configs(settings):
            _site_warnings(config, settings)
        if not settings.tracker_configured and settings.jira_webhook_secret is None:
            log.warning(
                "BRIDGE_JIRA_WEBHOOK_SECRET is not set: webhook deliveries are not "
                "authenticated; anyone who can reach /webhooks/jira can submit one"
            )
        _development_warnings(services)
        services.inbox.start()
        checks = [asyncio.create_task(_first_check(site.health)) for site in services.sites.values()]
        worker_task = asyncio.create_task(services.worker.run(), name="worker")
        scheduler = AsyncIOScheduler(timezone=settings.timezone)
        for site in services.sites.values():
            scheduler.add_job(
                site.health.check_when_due,
                "interval",
                seconds=site.health.retry,
                id=f"tracker-check-{site.name}",
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
        for site in services.sites.values() if settings.tracker_configured else ():
            every = {"reconcile": site.poll_interval, "timers": settings.sweep_interval}
            for name, seconds in every.items():
                if seconds > 0:
                    scheduler.add_job(
                        site.jobs.scheduled,
                        "interval",
                        args=[name],
                        seconds=seconds,
                        id=f"sweep-{name}-{site.name}",
                        max_instances=1,
                        coalesce=True,
                    )
        for site in services.sites.values() if settings.export_dir and settings.tracker_configured else ():
            folder = settings.export_dir if len(services.sites) == 1 else settings.export_dir / site.name
            scheduler.add_job(
                scheduled_preview,
                "cron",
                args=[site.billing, folder, settings.export_format, ZoneInfo(settings.timezone)],
                day=1,
                hour=6,
                id=f"billing-preview-{site.name}",
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
            for check in checks:
                check.cancel()
            scheduler.shutdown(wait=False)
            services.inbox.stop()
            services.worker.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(worker_task, timeout=10)
            for open_client in [*(site.client for site in services.sites.values()), *services.dev_clients]:
                if open_client is not None:
                    await open_client.aclose()
            services.store.engine.dispose()

    return lifespan
