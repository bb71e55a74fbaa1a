"""The sites file: YAML kept in git, so it names where secrets are, never the secrets.

Like a workflow, it is edited by hand, so every problem is reported at once as
`path:line:col: message`, with the key probably meant; a message never repeats a secret,
nor anything that may be one (a value given where a variable's name belongs, a URL that
may carry a password).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl, SecretStr, TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bridge.sites.model import (
    DEFAULT_CUSTOMER_ROLES,
    DEFAULT_POLL_INTERVAL,
    DEPLOYMENTS,
    KINDS,
    RESERVED_NAMES,
    Kind,
    Origin,
    SiteConfig,
    SitesError,
    did_you_mean,
)
from bridge.workflows.limits import LimitExceeded, bounded_yaml, read_text
from bridge.workflows.problems import Problem, kind_of
from bridge.workflows.site_names import site_name_problem
from bridge.workflows.syntax import syntax_problem

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
                hint = did_you_mean(str(key), ["sites"])
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
                self.problem(at, f"unknown key '{key}'{did_you_mean(key, present)}")
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
