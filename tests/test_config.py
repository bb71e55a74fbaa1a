"""Settings: environment in, clear errors out, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import Settings, SettingsError, load_settings, unknown_variables

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
    "name",
    [
        "BRIDGE_ADMIN_TOKEN", "BRIDGE_FINANCE_TOKEN", "BRIDGE_JIRA_WEBHOOK_SECRET", "BRIDGE_JIRA_TOKEN",
        "BRIDGE_REDMINE_API_KEY", "BRIDGE_REDMINE_WEBHOOK_SECRET",
    ],
)
@pytest.mark.parametrize("value", ["", "  \t"])
def test_blank_secret_is_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name}: .*empty"):
        load_settings(_env_file=None)


def test_redmine_settings_default_to_czech_and_english_customers_polled_every_minute(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"BRIDGE_{name.upper()}", raising=False)
    s = Settings(_env_file=None)
    assert s.customer_roles == {"Customer", "Zákazník"} and s.redmine_poll_interval == 60
    assert s.redmine_url is None and s.redmine_api_key is None and s.sites_file is None
    monkeypatch.setenv("BRIDGE_REDMINE_CUSTOMER_ROLES", " Klient, Customer ,")
    monkeypatch.setenv("BRIDGE_REDMINE_POLL_INTERVAL", "0")
    monkeypatch.setenv("BRIDGE_SITES_FILE", "conf/sites.yaml")
    s = Settings(_env_file=None)
    assert s.customer_roles == {"Klient", "Customer"} and s.redmine_poll_interval == 0
    assert s.sites_file == Path("conf/sites.yaml")


def test_redmine_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("BRIDGE_REDMINE_API_KEY", "key-123")
    monkeypatch.setenv("BRIDGE_REDMINE_WEBHOOK_SECRET", "hook-456")
    s = Settings(_env_file=None)
    assert "key-123" not in repr(s) and "hook-456" not in str(s)
    assert s.redmine_api_key.get_secret_value() == "key-123"


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


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("BRIDGE_JIRA_URL", "yoursite.atlassian.net", "BRIDGE_JIRA_URL: must be a full URL such as https://yoursite.atlassian.net"),
        ("BRIDGE_JIRA_URL", "ftp://jira.example.com", "BRIDGE_JIRA_URL: must be a full URL such as https://yoursite.atlassian.net"),
        ("BRIDGE_DRY_RUN", "ye", "BRIDGE_DRY_RUN: must be true or false (or yes/no, on/off, 1/0), not 'ye'"),
        ("BRIDGE_MAX_HEADERS", "5", "BRIDGE_MAX_HEADERS: must be a whole number of at least 10, not '5'"),
        ("BRIDGE_MAX_BODY_BYTES", "1.5", "BRIDGE_MAX_BODY_BYTES: must be a whole number greater than 0, not '1.5'"),
        ("BRIDGE_TRACKER_TIMEOUT_SECONDS", "ten", "BRIDGE_TRACKER_TIMEOUT_SECONDS: must be a number greater than 0, not 'ten'"),
        ("BRIDGE_JIRA_DEPLOYMENT", "server", "BRIDGE_JIRA_DEPLOYMENT: must be one of cloud, datacenter, not 'server'"),
        ("BRIDGE_LOG_LEVEL", "verbose", "BRIDGE_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, not 'VERBOSE'"),
        ("BRIDGE_REDMINE_URL", "redmine.example.com", "BRIDGE_REDMINE_URL: must be a full URL such as https://redmine.example.com"),
        ("BRIDGE_REDMINE_POLL_INTERVAL", "-1", "BRIDGE_REDMINE_POLL_INTERVAL: must be a number of at least 0, not '-1'"),
        ("BRIDGE_REDMINE_POLL_INTERVAL", "hourly", "BRIDGE_REDMINE_POLL_INTERVAL: must be a number of at least 0, not 'hourly'"),
    ],
)
def test_a_wrong_value_is_answered_with_what_is_expected(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value) == expected


def test_each_invalid_setting_gets_its_own_line(monkeypatch):
    monkeypatch.setenv("BRIDGE_DRY_RUN", "maybe")
    monkeypatch.setenv("BRIDGE_JIRA_URL", "jira")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert [p.split(":")[0] for p in caught.value.problems] == ["BRIDGE_JIRA_URL", "BRIDGE_DRY_RUN"]


@pytest.mark.parametrize(
    "name,typed,meant",
    [("BRIDGE_LOG_LEVEL", "debug", "DEBUG"), ("BRIDGE_SQLITE_SYNCHRONOUS", "normal", "NORMAL"), ("BRIDGE_JIRA_DEPLOYMENT", "DataCenter", "datacenter")],
)
def test_choices_are_case_insensitive(monkeypatch, name, typed, meant):
    monkeypatch.setenv(name, typed)
    assert getattr(load_settings(_env_file=None), name.removeprefix("BRIDGE_").lower()) == meant


@pytest.mark.parametrize(
    "url,expected",
    [
        ("bridge.db", "is not a database URL"),
        ("postgresql://bridge:s3cret@db:abc/bridge", "is not a database URL"),
        ("postgres://bridge:s3cret@db/bridge", "must begin postgresql://"),
        ("postgresql+asyncpg://bridge:s3cret@db/bridge", "names the driver 'postgresql+asyncpg'"),
        ("mysql://bridge:s3cret@db/bridge", "names the driver 'mysql'"),
        ("postgresql+psycopg://bridge:p@s3cret@db/bridge", "percent-encode it"),
    ],
)
def test_a_bad_database_url_is_refused_without_its_password(monkeypatch, url, expected):
    monkeypatch.setenv("BRIDGE_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    (problem,) = caught.value.problems
    assert problem.startswith("BRIDGE_DATABASE_URL: ") and expected in problem
    assert "s3cret" not in problem


def test_a_database_url_with_an_encoded_password_is_accepted(monkeypatch):
    monkeypatch.setenv("BRIDGE_DATABASE_URL", "postgresql+psycopg://bridge:p%40ss@db:5432/bridge")
    assert load_settings(_env_file=None).database_url.endswith("@db:5432/bridge")


def test_names_that_are_no_setting_are_pointed_out_with_the_nearest_one(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("BRIDGE_LOGLEVEL=debug\nPOSTGRES_PASSWORD=x\n", encoding="utf-8")
    environ = {"BRIDGE_ADMIN_TOKN": "t", "BRIDGE_ADMIN_TOKEN": "t", "BRIDGE_ZZZ": "1", "HOME": "/root"}
    assert unknown_variables(environ, env_file) == [
        "BRIDGE_ADMIN_TOKN is not a setting and is ignored; did you mean BRIDGE_ADMIN_TOKEN?",
        "BRIDGE_ZZZ is not a setting and is ignored; the settings are listed under Configuration in README.md",
        "BRIDGE_LOGLEVEL (in .env) is not a setting and is ignored; did you mean BRIDGE_LOG_LEVEL?",
    ]


def test_the_test_suites_own_variables_are_not_settings_and_not_warned_about():
    assert unknown_variables({"BRIDGE_TEST_POSTGRES_URL": "postgresql://x/y"}, None) == []
