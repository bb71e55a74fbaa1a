"""A site as the rest of the bridge sees it: one tracker, its credentials and options."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from bridge.config import SettingsError
from bridge.workflows.site_names import site_name_problem

Kind = Literal["jira", "redmine"]
Deployment = Literal["cloud", "datacenter"]
KINDS: tuple[Kind, ...] = ("jira", "redmine")
DEPLOYMENTS: tuple[Deployment, ...] = ("cloud", "datacenter")
DEFAULT_CUSTOMER_ROLES = frozenset({"Customer", "Zákazník"})
DEFAULT_POLL_INTERVAL = 60.0
# Paths under /webhooks/ that something other than a site answers.
RESERVED_NAMES = {"devops": "the Azure DevOps service hook (/webhooks/devops)"}


@dataclass(frozen=True)
class Origin:
    """Where a site was described: the file, its entry, and each of its `workflows` items
    (1-based line and column), so that problems found later can point there."""

    path: str
    line: int
    col: int
    workflows: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SiteConfig:
    """One tracker the deployment serves.

    `workflows` None means every workflow whose own `sites` do not leave this site out.
    `user` and `token` are Jira's, `api_key` Redmine's; `deployment` and `customer_groups`
    matter on Jira sites only, `customer_roles` and `poll_interval` (seconds, 0: no
    polling) on Redmine sites only. Secrets are SecretStr, so neither repr nor str shows them.
    """

    name: str
    kind: Kind
    url: str
    webhook_secret: SecretStr | None = None
    user: str | None = None
    token: SecretStr | None = None
    api_key: SecretStr | None = None
    workflows: tuple[str, ...] | None = None
    deployment: Deployment = "cloud"
    customer_groups: frozenset[str] = frozenset()
    customer_roles: frozenset[str] = frozenset()
    poll_interval: float = 0.0
    origin: Origin | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = site_name_problem(self.name) if isinstance(self.name, str) else "not text"
        if problem is None and self.name in RESERVED_NAMES:
            problem = f"site name '{self.name}' is taken by {RESERVED_NAMES[self.name]}"
        if problem:
            raise ValueError(problem)
        if self.kind not in KINDS:
            raise ValueError(f"site {self.name}: kind must be jira or redmine, not {self.kind!r}")
        if self.deployment not in DEPLOYMENTS:
            raise ValueError(f"site {self.name}: deployment must be cloud or datacenter")
        if self.kind == "jira" and self.api_key is not None:
            raise ValueError(f"site {self.name}: a Jira site has a token, not an api_key")
        if self.kind == "redmine" and (self.user is not None or self.token is not None):
            raise ValueError(f"site {self.name}: a Redmine site has an api_key, not a user or token")
        if self.poll_interval < 0:
            raise ValueError(f"site {self.name}: poll_interval must be at least 0")
        if self.workflows is not None and not isinstance(self.workflows, tuple):
            object.__setattr__(self, "workflows", tuple(self.workflows))


class SitesError(SettingsError):
    """The sites cannot be served as configured; `problems` holds one line each, as
    `path:line:col: message` when the sites file is at fault."""



def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' naming the candidate `word` most likely meant, or ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
