"""The sites the settings describe: one from `BRIDGE_JIRA_*` / `BRIDGE_REDMINE_*`, or those
of the file `BRIDGE_SITES_FILE` names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from bridge.config import ENV_PREFIX, Settings
from bridge.sites.file import load_sites
from bridge.sites.model import SiteConfig, SitesError


def sites_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[SiteConfig, ...]:
    """The sites to serve: those of `BRIDGE_SITES_FILE` when it is set, else the site `jira`
    (when `BRIDGE_JIRA_URL` is set) and the site `redmine` (when `BRIDGE_REDMINE_URL` is).

    A sites file and a tracker URL both set is refused: it is not clear which is meant.
    `environ` resolves the file's `*_env` references; by default the environment, then the
    `.env` file, as for the settings themselves. SitesError on any problem."""
    if settings.sites_file is not None:
        also = [
            f"{ENV_PREFIX}{name.upper()}"
            for name in ("jira_url", "redmine_url")
            if getattr(settings, name) is not None
        ]
        if also:
            names = " and ".join(also)
            raise SitesError([
                f"{ENV_PREFIX}SITES_FILE and {names} are both set: with a sites file every "
                f"site is described in it; move {'that site' if len(also) == 1 else 'those sites'} "
                f"into the file and unset {names}"
            ])
        return load_sites(settings.sites_file, environment() if environ is None else environ)
    sites = []
    if settings.jira_url is not None:
        sites.append(
            SiteConfig(
                name="jira",
                kind="jira",
                url=str(settings.jira_url),
                webhook_secret=settings.jira_webhook_secret,
                user=settings.jira_user,
                token=settings.jira_token,
                deployment=settings.jira_deployment,
                customer_groups=settings.customer_groups,
            )
        )
    if settings.redmine_url is not None:
        sites.append(
            SiteConfig(
                name="redmine",
                kind="redmine",
                url=str(settings.redmine_url),
                webhook_secret=settings.redmine_webhook_secret,
                api_key=settings.redmine_api_key,
                customer_roles=settings.customer_roles,
                poll_interval=settings.redmine_poll_interval,
            )
        )
    return tuple(sites)


def environment(env_file: str | Path | None = ".env") -> dict[str, str]:
    """The variables a sites file may name: the `.env` file's, overridden by the process
    environment's (the order pydantic-settings reads them in)."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values
