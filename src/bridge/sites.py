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

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AnyHttpUrl, SecretStr, TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bridge.config import ENV_PREFIX, Settings, SettingsError
from bridge.workflows.limits import LimitExceeded, bounded_yaml, read_text
from bridge.workflows.loader import WorkflowSet, load_dir, locate
from bridge.workflows.problems import Problem, WorkflowError, kind_of
from bridge.workflows.site_names import site_name_problem
from bridge.workflows.syntax import syntax_problem

Kind = Literal["jira", "redmine"]
Deployment = Literal["cloud", "datacenter"]
KINDS: tuple[Kind, ...] = ("jira", "redmine")
DEPLOYMENTS: tuple[Deployment, ...] = ("cloud", "datacenter")
DEFAULT_CUSTOMER_ROLES = frozenset({"Customer", "Zákazník"})
DEFAULT_POLL_INTERVAL = 60.0
# Paths under /webhooks/ that something other than a site answers.
RESERVED_NAMES = {"devops": "the Azure DevOps service hook (/webhooks/devops)"}
# Upper case only: a value pasted where a variable's name belongs (a token, a key) is then
# told apart from a name, and never repeated in a message.
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
URL_EXAMPLES: dict[str, str] = {
    "jira": "https://yoursite.atlassian.net",
    "redmine": "https://redmine.example.com",
}

_COMMON = ("name", "kind", "url", "webhook_secret_env", "workflows")
_KEYS: dict[str, tuple[str, ...]] = {
    "jira": (*_COMMON, "user", "token_env", "deployment", "customer_groups"),
    "redmine": (*_COMMON, "api_key_env", "customer_roles", "poll_interval"),
}
_ALL_KEYS = tuple(dict.fromkeys(k for keys in _KEYS.values() for k in keys))
# The key of the other kind that means the same, for a site given the wrong one.
_COUNTERPART = {
    "token_env": "api_key_env",
    "api_key_env": "token_env",
    "customer_groups": "customer_roles",
    "customer_roles": "customer_groups",
}
_CREDENTIAL = {"jira": "token_env", "redmine": "api_key_env"}
_EITHER_CREDENTIAL = "'token_env' (Jira) or 'api_key_env' (Redmine)"
# Keys under which someone would write a secret itself.
_INLINE_SECRETS = frozenset(
    {"token", "api_token", "api_key", "key", "password", "webhook_secret", "secret"}
)
_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


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


# -- from the settings ---------------------------------------------------------------------
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


# -- the sites file ------------------------------------------------------------------------
def load_sites(path: Path | str, environ: Mapping[str, str]) -> tuple[SiteConfig, ...]:
    """The sites a YAML sites file describes, their secrets read from `environ`; or
    SitesError with every problem in the file as `path:line:col: message`."""
    where = str(path)

    def refused(line: int, col: int, message: str) -> SitesError:
        return SitesError([str(Problem(where, line, col, message))])

    try:
        text = read_text(Path(path))
        tree = bounded_yaml().load(text)
    except LimitExceeded as exc:
        message = exc.message.replace("workflow files", "sites files")
        raise refused(exc.line, exc.col, message) from None
    except UnicodeDecodeError as exc:
        raise refused(1, 1, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise refused(1, 1, f"cannot read: {exc.strerror or exc}") from None
    except YAMLError as exc:
        raise SitesError([str(syntax_problem(where, text, exc))]) from None
    reader = _Reader(where, environ)
    sites = reader.file(tree)
    if reader.problems:
        ordered = sorted(dict.fromkeys(reader.problems), key=lambda p: (p.line, p.col))
        raise SitesError([str(p) for p in ordered])
    return sites


def _position(node: Any, key: Any = None, *, of_key: bool = False) -> tuple[int, int]:
    """1-based line and column of a node, of one of its values (a key or an index), or of a
    mapping's key itself. A key without a value has no position of its own; its key does."""
    if isinstance(node, CommentedMap) and key is not None:
        line, col = node.lc.key(key) if of_key or node[key] is None else node.lc.value(key)
    elif isinstance(node, CommentedSeq) and key is not None:
        line, col = node.lc.item(key)
    elif isinstance(node, (CommentedMap, CommentedSeq)):
        line, col = node.lc.line, node.lc.col
    else:
        line, col = 0, 0
    return line + 1, col + 1


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Reader:
    """Walks a sites file's tree once, building sites and collecting every problem."""

    def __init__(self, path: str, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.problems: list[Problem] = []
        self.names: dict[str, int] = {}  # site name → line it was first given on

    def problem(self, at: tuple[int, int], message: str) -> None:
        self.problems.append(Problem(self.path, at[0], at[1], message))

    def file(self, tree: Any) -> tuple[SiteConfig, ...]:
        if tree is None:
            self.problem((1, 1), "the file is empty; expected 'sites:' with a list of sites")
            return ()
        if not isinstance(tree, CommentedMap):
            self.problem((1, 1), f"expected a mapping with the key 'sites', got {kind_of(tree)}")
            return ()
        for key in tree:
            if key != "sites":
                hint = _suggest(str(key), ["sites"])
                self.problem(_position(tree, key, of_key=True), f"unknown key '{key}'{hint}")
        if "sites" not in tree:
            self.problem(_position(tree), "missing required key 'sites'")
            return ()
        listed = tree["sites"]
        if not isinstance(listed, CommentedSeq):
            got = kind_of(listed)
            self.problem(_position(tree, "sites"), f"expected a list of sites, got {got}")
            return ()
        if not listed:
            self.problem(_position(tree, "sites"), "expected at least one site, got an empty list")
        sites = [self.site(listed, i) for i in range(len(listed))]
        return tuple(site for site in sites if site is not None)

    def site(self, listed: CommentedSeq, index: int) -> SiteConfig | None:
        entry = listed[index]
        at = _position(listed, index)
        if not isinstance(entry, CommentedMap):
            self.problem(at, f"expected a mapping of site keys, got {kind_of(entry)}")
            return None
        before = len(self.problems)
        name = self.name(entry)
        kind = self.kind(entry)
        label = name if name is not None else f"{index + 1}"
        missing = [f"'{key}'" for key in ("name", "kind", "url") if key not in entry]
        if missing:
            keys = "key " + missing[0] if len(missing) == 1 else "keys " + ", ".join(missing)
            self.problem(at, f"missing required {keys}")
        keys_wrong = self.keys(entry, kind)
        url = self.url(entry, kind)
        values: dict[str, SecretStr | None] = {}
        for key in ("token_env", "api_key_env", "webhook_secret_env"):
            if kind is None or key in _KEYS[kind]:  # the other kind's: refused by `keys`
                values[key] = self.secret(entry, key, label)
        user = self.text(entry, "user")
        if user is not None and kind == "jira" and "token_env" not in entry and not keys_wrong:
            self.problem(
                _position(entry, "user", of_key=True),
                "'user' needs 'token_env' beside it, naming the variable with its API token",
            )
        workflows, positions = self.workflows(entry)
        options = self.options(entry, kind)
        if len(self.problems) > before or name is None or kind is None or url is None:
            return None
        return SiteConfig(
            name=name,
            kind=kind,
            url=url,
            webhook_secret=values.get("webhook_secret_env"),
            user=user if kind == "jira" else None,
            token=values.get("token_env"),
            api_key=values.get("api_key_env"),
            workflows=workflows,
            origin=Origin(self.path, *at, positions),
            **options,
        )

    # -- one key each --------------------------------------------------------------------
    def name(self, entry: CommentedMap) -> str | None:
        if "name" not in entry:
            return None
        value, at = entry["name"], _position(entry, "name")
        if not isinstance(value, str):
            self.problem(at, f"expected text, got {kind_of(value)}")
            return None
        problem = site_name_problem(value)
        if problem is None and value in RESERVED_NAMES:
            problem = f"site name '{value}' is taken by {RESERVED_NAMES[value]}; choose another"
        if problem is None and value in self.names:
            problem = f"site name '{value}' is already used by the site at line {self.names[value]}"
        if problem is not None:
            self.problem(at, problem)
            return None
        self.names[value] = at[0]
        return value

    def kind(self, entry: CommentedMap) -> Kind | None:
        value = entry.get("kind")
        if "kind" not in entry:
            return None
        if value not in KINDS:
            got = kind_of(value)
            self.problem(_position(entry, "kind"), f"expected jira or redmine, got {got}")
            return None
        return "jira" if value == "jira" else "redmine"

    def keys(self, entry: CommentedMap, kind: Kind | None) -> bool:
        """Keys that are no setting of this kind of site, and secrets written inline; True
        when there were any (a mistyped key may be the one that seems to be missing)."""
        before = len(self.problems)
        allowed = _KEYS[kind] if kind else _ALL_KEYS
        for key in entry:
            at = _position(entry, key, of_key=True)
            if not isinstance(key, str):
                self.problem(at, f"unknown key {kind_of(key)}")
            elif key in _INLINE_SECRETS:
                instead = f"'{_CREDENTIAL[kind]}'" if kind else _EITHER_CREDENTIAL
                if key in ("webhook_secret", "secret"):
                    instead = "'webhook_secret_env'"
                self.problem(
                    at,
                    f"'{key}' would put a secret in the sites file; put it in an environment "
                    f"variable and give that variable's name as {instead}",
                )
            elif key in allowed:
                continue
            elif key in _ALL_KEYS:
                hint = _COUNTERPART.get(key)
                other = next(k for k in KINDS if key in _KEYS[k])
                mean = f" (did you mean '{hint}'?)" if hint else ""
                self.problem(at, f"'{key}' is a setting of {other} sites, not of {kind} ones{mean}")
            else:
                present = [k for k in allowed if k not in entry]
                self.problem(at, f"unknown key '{key}'{_suggest(key, present)}")
        return len(self.problems) > before

    def url(self, entry: CommentedMap, kind: Kind | None) -> str | None:
        if "url" not in entry:
            return None
        value, at = entry["url"], _position(entry, "url")
        example = URL_EXAMPLES.get(kind or "", URL_EXAMPLES["jira"])
        if not isinstance(value, str):
            self.problem(at, f"expected a full URL such as {example}, got {kind_of(value)}")
            return None
        try:
            url = _HTTP_URL.validate_python(value.strip())
        except ValidationError:
            # never repeated: it may hold a password
            self.problem(at, f"expected a full URL such as {example}")
            return None
        if url.username or url.password:
            self.problem(
                at,
                "the URL holds a user name or password; credentials go in environment "
                "variables named by the site's *_env keys",
            )
            return None
        return str(url)

    def secret(self, entry: CommentedMap, key: str, label: str) -> SecretStr | None:
        if key not in entry:
            return None
        value, at = entry[key], _position(entry, key)
        if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
            self.problem(
                at,
                "expected the name of an environment variable (upper-case letters, digits "
                "and '_', e.g. ACME_JIRA_TOKEN), not the secret itself",
            )
            return None
        given = self.environ.get(value)
        if given is None:
            self.problem(at, f"{value} ({key} of site {label}) is not set")
            return None
        if not given.strip():
            self.problem(at, f"{value} ({key} of site {label}) is set but empty")
            return None
        return SecretStr(given)

    def text(self, entry: CommentedMap, key: str) -> str | None:
        if key not in entry:
            return None
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(_position(entry, key), f"expected text, got {kind_of(value)}")
            return None
        return str(value).strip()

    def names_list(
        self, entry: CommentedMap, key: str, what: str, *, may_be_empty: bool
    ) -> list[str] | None:
        if key not in entry:
            return None
        value, at = entry[key], _position(entry, key)
        if not isinstance(value, CommentedSeq):
            self.problem(at, f"expected a list of {what}, got {kind_of(value)}")
            return None
        if not value and not may_be_empty:
            self.problem(at, "expected at least one item, got an empty list")
            return None
        found = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                found.append(str(item).strip())
            else:
                self.problem(_position(value, i), f"expected a name, got {kind_of(item)}")
        return found

    def workflows(
        self, entry: CommentedMap
    ) -> tuple[tuple[str, ...] | None, tuple[tuple[int, int], ...]]:
        names = self.names_list(entry, "workflows", "workflow names", may_be_empty=False)
        if names is None:
            return None, ()
        listed = entry["workflows"]
        return tuple(names), tuple(_position(listed, i) for i in range(len(listed)))

    def options(self, entry: CommentedMap, kind: Kind | None) -> dict[str, Any]:
        """The kind's own settings, defaults filled in (the other kind's are refused by `keys`)."""
        if kind == "jira":
            deployment = entry.get("deployment", "cloud")
            if deployment not in DEPLOYMENTS:
                got = kind_of(deployment)
                self.problem(_position(entry, "deployment"), f"expected cloud or datacenter, got {got}")
            groups = self.names_list(entry, "customer_groups", "group names", may_be_empty=True)
            return {"deployment": deployment, "customer_groups": frozenset(groups or ())}
        if kind == "redmine":
            roles = self.names_list(entry, "customer_roles", "role names", may_be_empty=False)
            interval = entry.get("poll_interval", DEFAULT_POLL_INTERVAL)
            if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
                got = kind_of(interval)
                self.problem(
                    _position(entry, "poll_interval"),
                    f"expected a number of seconds, 0 or more, got {got}",
                )
                interval = DEFAULT_POLL_INTERVAL
            return {
                "customer_roles": DEFAULT_CUSTOMER_ROLES if roles is None else frozenset(roles),
                "poll_interval": float(interval),
            }
        return {}


# -- sites against workflows ---------------------------------------------------------------
def unknown_workflows(sites: Iterable[SiteConfig], workflow_names: Iterable[str]) -> list[str]:
    """A line for each workflow a site lists that is not among `workflow_names`."""
    return [str(p) for p in _unknown_listed(tuple(sites), frozenset(workflow_names))]


def site_problems(sites: Iterable[SiteConfig], workflows: WorkflowSet) -> list[Problem]:
    """What the sites and the loaded workflows say of each other that cannot both hold: a
    site lists a workflow there is none of, or one whose own `sites` leave that site out;
    a workflow names a site that is not configured (checked only when some site is, so a
    deployment without trackers can still load workflows written for others)."""
    sites = tuple(sites)
    found = _unknown_listed(sites, frozenset(workflows.names))
    by_name = {wf.name: wf for wf in workflows}
    for site in sites:
        for i, name in enumerate(site.workflows or ()):
            wf = by_name.get(name)
            if wf is not None and not wf.serves(site.name):
                where = f" ({workflows.source[name]})" if name in workflows.source else ""
                message = f"site {site.name} lists workflow '{name}', whose 'sites' leave it out"
                found.append(_at_listed(site, i, message + where))
    configured = [site.name for site in sites]
    if configured:
        for wf in workflows:
            for i, name in enumerate(wf.sites):
                if name in configured:
                    continue
                hint = _suggest(name, configured) or f" (the sites are {', '.join(configured)})"
                message = f"site '{name}' is not configured{hint}"
                source = workflows.source.get(wf.name)
                found.append(
                    locate(source, ("sites", i), message)
                    if source
                    else Problem(f"workflow {wf.name}", 1, 1, message)
                )
    return found


def workflow_loader(sites: Iterable[SiteConfig]) -> Callable[[Path], WorkflowSet]:
    """`load_dir` that also refuses workflows the sites contradict (`site_problems`), for
    `WorkflowRegistry(folder, load=...)`: start-up fails on them and a reload that brings
    them in is refused, like any other invalid change."""
    sites = tuple(sites)

    def load(folder: Path) -> WorkflowSet:
        found = load_dir(folder)
        problems = site_problems(sites, found)
        if problems:
            raise WorkflowError(problems)
        return found

    return load


def _unknown_listed(sites: tuple[SiteConfig, ...], names: frozenset[str]) -> list[Problem]:
    found = []
    for site in sites:
        for i, name in enumerate(site.workflows or ()):
            if name in names:
                continue
            known = ", ".join(sorted(names))
            hint = _suggest(name, sorted(names)) or (
                f" (the workflows are {known})" if names else " (no workflows are loaded)"
            )
            message = f"site {site.name} lists workflow '{name}', which does not exist{hint}"
            found.append(_at_listed(site, i, message))
    return found


def _at_listed(site: SiteConfig, index: int, message: str) -> Problem:
    """A problem at the `index`th of the site's `workflows` in its file, or naming the site."""
    origin = site.origin
    if origin is None:
        return Problem(f"site {site.name}", 1, 1, message)
    listed = origin.workflows
    line, col = listed[index] if index < len(listed) else (origin.line, origin.col)
    return Problem(origin.path, line, col, message)
