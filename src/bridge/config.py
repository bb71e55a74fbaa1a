"""Settings, read from the environment (prefix `BRIDGE_`) and an optional `.env` file.

Nothing reads the environment at import time: `Settings()` is built by the CLI or by tests
and handed to `create_app`. Secrets are `SecretStr` so they print as '**********'.

People set these by hand, so a mistake is answered in their terms: one line naming the
variable and what it must be (`BRIDGE_DRY_RUN: must be true or false, not 'ye'`), never
pydantic's wording and never a secret. A `BRIDGE_` name that is no setting is pointed out
with the nearest real one, because a typo would otherwise leave the default in force.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "BRIDGE_"
# Variables of the project's own test suite (DEVELOPERS.md), not settings of the service.
NOT_SETTINGS_PREFIX = ENV_PREFIX + "TEST_"
DATABASE_URL_EXAMPLE = "sqlite:///./var/bridge.db or postgresql+psycopg://user:password@host:5432/db"
DATABASE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"})
# Every Python has these; the SHAKE ones need a digest length and cannot sign an HMAC.
SIGNATURE_ALGORITHMS = frozenset(hashlib.algorithms_guaranteed) - {"shake_128", "shake_256"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        "sqlite:///./var/bridge.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    workflows_dir: Path = Field(Path("./workflows"), description="Folder of workflow YAML files.")
    workflows_reload_seconds: float = Field(
        5.0, ge=0, description="How often to look for changed workflow files; 0 turns it off."
    )

    jira_url: AnyHttpUrl | None = Field(
        None, description="Base URL of the Jira site.", examples=["https://yoursite.atlassian.net"]
    )
    jira_deployment: Literal["cloud", "datacenter"] = Field(
        "cloud", description="cloud: REST v3 with ADF comments; datacenter: REST v2, plain text."
    )
    jira_user: str | None = Field(None, description="Account e-mail (Cloud) or user name.")
    jira_token: SecretStr | None = Field(
        None, description="API token (Cloud, with jira_user) or personal access token (DC)."
    )
    jira_webhook_secret: SecretStr | None = Field(
        None, description="Secret of the Jira webhook; deliveries must then be signed."
    )
    webhook_signature_algorithms: str = Field(
        "sha256",
        description="Comma-separated algorithms a delivery's X-Hub-Signature may use; Jira signs with sha256.",
    )
    jira_customer_groups: str = Field(
        "", description="Data Center: comma-separated groups whose members are customers."
    )

    redmine_url: AnyHttpUrl | None = Field(
        None, description="Base URL of the Redmine.", examples=["https://redmine.example.com"]
    )
    redmine_api_key: SecretStr | None = Field(
        None, description="API key of the bridge's Redmine account (My account → API access key)."
    )
    redmine_webhook_secret: SecretStr | None = Field(
        None, description="Secret of the Redmine webhook; deliveries must then carry it."
    )
    redmine_customer_roles: str = Field(
        "Customer,Zákazník", description="Comma-separated Redmine roles whose members are customers."
    )
    redmine_poll_interval: float = Field(
        60.0, ge=0, description="Seconds between polls of Redmine for changed issues; 0 turns polling off."
    )
    sites_file: Path | None = Field(
        None,
        description="YAML file describing several sites (trackers) served at once; "
        "replaces BRIDGE_JIRA_URL and BRIDGE_REDMINE_URL.",
    )

    devops_url: AnyHttpUrl | None = Field(
        None,
        description="Azure DevOps project URL (https://dev.azure.com/{organization}/{project}, or a Server collection's project).",
    )
    devops_token: SecretStr | None = Field(None, description="Azure DevOps personal access token (Work Items: read & write).")
    devops_webhook_secret: SecretStr | None = Field(
        None, description="Password the Azure DevOps service hook sends in HTTP Basic auth."
    )
    dev_jira_url: AnyHttpUrl | None = Field(
        None, description="Jira site of the development project, when not BRIDGE_JIRA_URL's."
    )
    dev_jira_user: str | None = Field(None, description="Account on the development Jira site (Cloud).")
    dev_jira_token: SecretStr | None = Field(None, description="API token or PAT on the development Jira site.")

    admin_token: SecretStr | None = Field(None, description="Bearer token for /api/.")
    finance_token: SecretStr | None = Field(None, description="Bearer token for billing exports.")
    export_dir: Path | None = Field(
        None, description="Where the monthly job writes the previous month's billing preview; unset: no job."
    )
    export_format: Literal["csv", "xlsx", "json"] = Field("xlsx", description="Format of the monthly preview.")
    timezone: str = Field("Europe/Prague", description="Time zone for calendars and reports.")
    dry_run: bool = Field(
        False, description="Judge and record, but send nothing to the tracker."
    )

    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest accepted delivery.")
    request_read_timeout_seconds: float = Field(
        10.0, gt=0, description="Time for a request, head and body, to arrive; then 408."
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest total of a request's header names and values; then 431."
    )
    max_headers: int = Field(100, ge=10, description="Most header fields in a request; then 431.")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="FULL: an acknowledged delivery survives a power cut."
    )
    worker_concurrency: int = Field(32, ge=1, description="Deliveries processed at once.")
    tracker_attempts: int = Field(5, ge=1, description="Attempts per tracker call.")
    tracker_backoff_seconds: float = Field(0.5, ge=0, description="First retry wait; doubles.")
    tracker_backoff_max_seconds: float = Field(30.0, ge=0, description="Longest retry wait.")
    tracker_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one tracker call.")
    sweep_interval: float = Field(
        300.0, ge=0, description="Seconds between timer and reconcile sweeps; 0 turns them off."
    )
    reconcile_lookback: float = Field(
        86400.0, gt=0, description="Seconds the first reconcile looks back for missed changes."
    )
    tracker_check_seconds: float = Field(
        30.0, gt=0, description="How often the tracker is asked whether it accepts the bridge."
    )
    tracker_retry_horizon_seconds: float = Field(
        3600.0, ge=0, description="How long a delivery is retried while the tracker is down."
    )
    tracker_retry_interval_seconds: float = Field(
        5.0, gt=0, description="First wait before a delivery is retried; grows with the outage."
    )
    tracker_retry_interval_max_seconds: float = Field(
        60.0, gt=0, description="Longest wait between retries of a delivery."
    )
    claim_lease_seconds: float = Field(
        300.0,
        ge=1,
        description="How long a delivery stays claimed by a process; one that died holding it "
        "has it taken up by another once this runs out (a restarted SQLite service takes its own "
        "up at once).",
    )
    group_cache_seconds: float = Field(
        300.0, ge=0, description="How long Data Center groups and Redmine memberships are remembered."
    )
    comment_window_seconds: float = Field(
        120.0,
        ge=0,
        description="A comment by the same person this long before or after a status change "
        "counts as made with it (a required reason given apart).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log records written."
    )

    @field_validator("log_level", "sqlite_synchronous", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value  # `debug` means DEBUG

    @field_validator("jira_deployment", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be a time zone such as Europe/Prague, not '{value}'") from None
        return value

    @field_validator(
        "admin_token", "finance_token", "jira_webhook_secret", "jira_token", "devops_token",
        "devops_webhook_secret", "dev_jira_token", "redmine_api_key", "redmine_webhook_secret",
    )
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty token would match an empty bearer, an empty secret would sign nothing:
        # a blank value is a mistake, never a way to turn the check off.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is set but empty; give it a value or leave it unset")
        return value

    @field_validator("webhook_signature_algorithms")
    @classmethod
    def _usable_algorithms(cls, value: str) -> str:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        if not names:
            raise ValueError("must name at least one algorithm, e.g. sha256")
        unusable = [n for n in names if n not in SIGNATURE_ALGORITHMS]
        if unusable:
            raise ValueError(
                f"cannot sign with {', '.join(unusable)}; "
                f"choose from {', '.join(sorted(SIGNATURE_ALGORITHMS))}"
            )
        return ",".join(dict.fromkeys(names))

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def customer_groups(self) -> frozenset[str]:
        return frozenset(g.strip() for g in self.jira_customer_groups.split(",") if g.strip())

    @property
    def customer_roles(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.redmine_customer_roles.split(",") if r.strip())

    @property
    def signature_algorithms(self) -> frozenset[str]:
        return frozenset(self.webhook_signature_algorithms.split(","))

    @property
    def tracker_configured(self) -> bool:
        """Whether any site is configured: a Jira, a Redmine, or a sites file."""
        return self.jira_url is not None or self.redmine_url is not None or self.sites_file is not None

    @property
    def is_dry(self) -> bool:
        """Dry when asked to be, or when there is no tracker to act on."""
        return self.dry_run or not self.tracker_configured


def database_url_problem(url: str) -> str | None:
    """What is wrong with a database URL, said without repeating it: it may hold a password."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"is not a database URL; write one such as {DATABASE_URL_EXAMPLE}"
    if parsed.drivername == "postgres":
        return "must begin postgresql:// (or postgresql+psycopg://), not postgres://"
    if parsed.drivername not in DATABASE_DRIVERS:
        return f"names the driver {parsed.drivername!r}; use a URL such as {DATABASE_URL_EXAMPLE}"
    if "@" in (parsed.host or ""):
        # the URL's own parser took the first @ of the password for the end of it
        return "has an @ in its user name or password: percent-encode it (@ as %40)"
    return None


class SettingsError(Exception):
    """Start-up settings are invalid; `problems` holds one line per offending variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            problems.setdefault(field, f"{ENV_PREFIX}{field.upper()}: {_explain(field, err)}")
        raise SettingsError(list(problems.values())) from None


def _explain(field: str, err: ErrorDetails) -> str:
    """What the setting must be, in place of pydantic's wording. The value is repeated only
    for plain choices, numbers and switches, never for secrets or URLs that may hold one."""
    info = Settings.model_fields.get(field)
    if err["type"] == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    if info is None:
        return err["msg"]
    if err["type"].startswith("url") and info.examples:
        return f"must be a full URL such as {info.examples[0]}"
    expected = _expected(info)
    if expected is None:
        return err["msg"]
    given = err.get("input")
    return f"must be {expected}, not {given!r}" if isinstance(given, str) else f"must be {expected}"


def _expected(info: FieldInfo) -> str | None:
    kind: Any = info.annotation
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(get_args(kind))
    if kind is bool:
        return "true or false (or yes/no, on/off, 1/0)"
    if kind in (int, float):
        bounds = [f" of at least {m.ge:g}" for m in info.metadata if hasattr(m, "ge")]
        bounds += [f" greater than {m.gt:g}" for m in info.metadata if hasattr(m, "gt")]
        return ("a whole number" if kind is int else "a number") + "".join(bounds)
    return None


def unknown_variables(environ: Mapping[str, str], env_file: object) -> list[str]:
    """Warnings for `BRIDGE_` names, in the environment or the `.env` file, that are no
    setting: a mistyped name is otherwise ignored and leaves the default in force."""
    names = [(name, "") for name in environ]
    for path in _env_files(env_file):
        names += [(name, f" (in {path.name})") for name in dotenv_values(path)]
    known = [name.upper() for name in Settings.model_fields]
    warnings = []
    for name, where in names:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(NOT_SETTINGS_PREFIX):
            continue
        if (bare := upper.removeprefix(ENV_PREFIX)) in known:
            continue
        nearest = difflib.get_close_matches(bare, known, n=1)
        hint = (
            f"did you mean {ENV_PREFIX}{nearest[0]}?"
            if nearest
            else "the settings are listed under Configuration in README.md"
        )
        warnings.append(f"{name}{where} is not a setting and is ignored; {hint}")
    return warnings


def _env_files(env_file: object) -> list[Path]:
    """The `.env` files pydantic-settings reads, as `env_file` names them (one, several, none)."""
    if env_file is None:
        return []
    candidates = env_file if isinstance(env_file, (list, tuple)) else [env_file]
    return [Path(c) for c in candidates if Path(c).is_file()]
