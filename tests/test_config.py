"""Settings: environment in, clear errors out, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import Settings, SettingsError, load_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme():
    missing = [n for n in Settings.model_fields if f"`BRIDGE_{n.upper()}`" not in README]
    assert missing == []


def test_defaults_run_dry_on_sqlite(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"BRIDGE_{name.upper()}", raising=False)
    s = Settings(_env_file=None)
    assert s.database_url.startswith("sqlite") and s.timezone == "Europe/Prague"
    assert s.is_dry and not s.tracker_configured


def test_tracker_configured_acts_unless_dry_run_is_asked(monkeypatch):
    monkeypatch.setenv("BRIDGE_JIRA_URL", "https://x.atlassian.net")
    assert not Settings(_env_file=None).is_dry
    monkeypatch.setenv("BRIDGE_DRY_RUN", "true")
    assert Settings(_env_file=None).is_dry


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("BRIDGE_JIRA_TOKEN", "tok-123")
    monkeypatch.setenv("BRIDGE_JIRA_WEBHOOK_SECRET", "hook-456")
    s = Settings(_env_file=None)
    assert "tok-123" not in repr(s) and "hook-456" not in str(s)
    assert s.jira_token.get_secret_value() == "tok-123"


def test_customer_groups_split_on_commas(monkeypatch):
    monkeypatch.setenv("BRIDGE_JIRA_CUSTOMER_GROUPS", "portal-customers, vip ,")
    assert Settings(_env_file=None).customer_groups == {"portal-customers", "vip"}


@pytest.mark.parametrize(
    "name,value",
    [("BRIDGE_TIMEZONE", "Nowhere/Land"), ("BRIDGE_DATABASE_URL", "mysql://x"), ("BRIDGE_MAX_BODY_BYTES", "-1")],
)
def test_invalid_setting_names_itself(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    "name", ["BRIDGE_ADMIN_TOKEN", "BRIDGE_FINANCE_TOKEN", "BRIDGE_JIRA_WEBHOOK_SECRET", "BRIDGE_JIRA_TOKEN"]
)
@pytest.mark.parametrize("value", ["", "  \t"])
def test_blank_secret_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}: .*empty"):
        load_settings(_env_file=None)


def test_signatures_default_to_jiras_algorithm_only(monkeypatch):
    monkeypatch.delenv("BRIDGE_WEBHOOK_SIGNATURE_ALGORITHMS", raising=False)
    assert Settings(_env_file=None).signature_algorithms == {"sha256"}
    monkeypatch.setenv("BRIDGE_WEBHOOK_SIGNATURE_ALGORITHMS", " SHA256, sha512 ,")
    assert Settings(_env_file=None).signature_algorithms == {"sha256", "sha512"}


@pytest.mark.parametrize(
    "value,reason", [("md6", "md6"), ("sha256,shake_128", "shake_128"), (" , ", "at least one")]
)
def test_unusable_signature_algorithms_are_refused(monkeypatch, value, reason):
    monkeypatch.setenv("BRIDGE_WEBHOOK_SIGNATURE_ALGORITHMS", value)
    with pytest.raises(SettingsError, match=f"BRIDGE_WEBHOOK_SIGNATURE_ALGORITHMS: .*{reason}"):
        load_settings(_env_file=None)
