"""Sites: the trackers one deployment serves, each with its own credentials, secret and workflows.

A site is one tracker instance, a Jira site or a Redmine, under a name that becomes its
webhook path (`/webhooks/<name>`) and is recorded in every row about it. A deployment with
one tracker keeps describing it with `BRIDGE_JIRA_*` or `BRIDGE_REDMINE_*`, as it always
has: those settings become the site `jira` or `redmine`. A deployment with several names a
YAML file (`BRIDGE_SITES_FILE`) that lists them.

The file is kept in git beside the workflows, so it never holds a secret: a credential is
named by the environment variable that holds it (`token_env: ACME_JIRA_TOKEN`), and a
secret written inline is refused rather than used. Like a workflow, the file is read by
people who edit it by hand, so every problem is reported at once as `path:line:col:
message`, with the key probably meant; a message never repeats a secret, nor anything that
may be one (a value given where a variable's name belongs, a URL that may carry a password).

What a site lists of the workflows, and what the workflows say of the sites, can only be
checked once both are loaded: `unknown_workflows` and `site_problems` do that.
"""

from bridge.sites.file import load_sites
from bridge.sites.model import (
    DEFAULT_CUSTOMER_ROLES,
    DEFAULT_POLL_INTERVAL,
    KINDS,
    RESERVED_NAMES,
    Origin,
    SiteConfig,
    SitesError,
)
from bridge.sites.settings import environment, sites_from_settings
from bridge.sites.workflows import site_problems, unknown_workflows, workflow_loader

__all__ = [
    "DEFAULT_CUSTOMER_ROLES",
    "DEFAULT_POLL_INTERVAL",
    "KINDS",
    "RESERVED_NAMES",
    "Origin",
    "SiteConfig",
    "SitesError",
    "environment",
    "load_sites",
    "site_problems",
    "sites_from_settings",
    "unknown_workflows",
    "workflow_loader",
]
