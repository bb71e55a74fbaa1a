"""Settings, read from the environment (prefix `BRIDGE_`) and an optional `.env` file.

Nothing reads the environment at import time: `Settings()` is built by the CLI or by tests
and handed to `create_app`. Secrets are `SecretStr` so they print as '**********'.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BRIDGE_"
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

    jira_url: AnyHttpUrl | None = Field(None, description="Base URL of the Jira site.")
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

    admin_token: SecretStr | None = Field(None, description="Bearer token for /api/.")
    finance_token: SecretStr | None = Field(None, description="Bearer token for billing exports.")
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
    group_cache_seconds: float = Field(300.0, ge=0, description="Data Center group cache life.")
    comment_window_seconds: float = Field(
        120.0,
        ge=0,
        description="A comment by the same person this long before or after a status change "
        "counts as made with it (a required reason given apart).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @field_validator("admin_token", "finance_token", "jira_webhook_secret", "jira_token")
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
            raise ValueError("name at least one algorithm, e.g. sha256")
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
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def customer_groups(self) -> frozenset[str]:
        return frozenset(g.strip() for g in self.jira_customer_groups.split(",") if g.strip())

    @property
    def signature_algorithms(self) -> frozenset[str]:
        return frozenset(self.webhook_signature_algorithms.split(","))

    @property
    def tracker_configured(self) -> bool:
        return self.jira_url is not None

    @property
    def is_dry(self) -> bool:
        """Dry when asked to be, or when there is no tracker to act on."""
        return self.dry_run or not self.tracker_configured


class SettingsError(Exception):
    """Start-up settings are invalid; the message names each offending variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid setting " + "; ".join(lines)) from None
