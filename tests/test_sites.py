"""Sites: from the single-tracker settings, or from a sites file whose every mistake is
reported as `path:line:col: message`, with no secret ever shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.config import Settings, SettingsError
from bridge.sites import (
    DEFAULT_CUSTOMER_ROLES,
    SiteConfig,
    SitesError,
    environment,
    load_sites,
    site_problems,
    sites_from_settings,
    unknown_workflows,
    workflow_loader,
)
from bridge.workflows import WorkflowError, load_dir
from bridge.workflows.registry import WorkflowRegistry
from tests.workflows.test_loader import VALID, broken, pos

EXAMPLE = """\
sites:
  - name: acme
    kind: jira
    url: https://acme.atlassian.net
    user: bot@vendor.example
    token_env: ACME_JIRA_TOKEN          # credentials by reference to environment variables
    webhook_secret_env: ACME_WEBHOOK_SECRET
    workflows: [service-sheet]
  - name: beta
    kind: redmine
    url: https://redmine.beta.example
    api_key_env: BETA_REDMINE_KEY
    webhook_secret_env: BETA_REDMINE_SECRET
    customer_roles: [Zákazník]
    poll_interval: 60
"""
SECRETS = {
    "ACME_JIRA_TOKEN": "jira-token-s3cret",
    "ACME_WEBHOOK_SECRET": "acme-hook-s3cret",
    "BETA_REDMINE_KEY": "0123456789abcdef0123456789abcdef01234567",
    "BETA_REDMINE_SECRET": "beta-hook-s3cret",
}


def write(folder: Path, text: str, name: str = "sites.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SitesError) as caught:
        load_sites(path, SECRETS if environ is None else environ)
    return caught.value.problems


def line(path: Path, text: str, needle: str, message: str, after: str = "") -> str:
    """The problem line an admin sees for `needle` (its first occurrence after `after`)."""
    row, col = pos(text, needle, after)
    return f"{path}:{row}:{col}: {message}"


def no_secret_in(text: str) -> None:
    for secret in SECRETS.values():
        assert secret not in text


# -- a good file -----------------------------------------------------------------------------
def test_the_example_file_gives_two_sites(tmp_path: Path) -> None:
    acme, beta = load_sites(write(tmp_path, EXAMPLE), SECRETS)
    assert acme == SiteConfig(
        name="acme",
        kind="jira",
        url="https://acme.atlassian.net/",
        user="bot@vendor.example",
        token=SecretStr("jira-token-s3cret"),
        webhook_secret=SecretStr("acme-hook-s3cret"),
        workflows=("service-sheet",),
        deployment="cloud",
        customer_groups=frozenset(),
    )
    assert beta == SiteConfig(
        name="beta",
        kind="redmine",
        url="https://redmine.beta.example/",
        api_key=SecretStr(SECRETS["BETA_REDMINE_KEY"]),
        webhook_secret=SecretStr("beta-hook-s3cret"),
        workflows=None,
        customer_roles=frozenset({"Zákazník"}),
        poll_interval=60.0,
    )


def test_a_redmine_site_has_the_settings_defaults(tmp_path: Path) -> None:
    text = "sites:\n  - {name: r, kind: redmine, url: 'http://redmine.local:3000'}\n"
    (site,) = load_sites(write(tmp_path, text), {})
    assert site.customer_roles == DEFAULT_CUSTOMER_ROLES == {"Customer", "Zákazník"}
    assert site.poll_interval == 60.0
    assert site.api_key is None and site.webhook_secret is None and site.workflows is None


def test_a_jira_site_can_be_data_center_with_customer_groups(tmp_path: Path) -> None:
    text = (
        "sites:\n  - name: dc-1\n    kind: jira\n    url: https://jira.example.com/jira\n"
        "    token_env: ACME_JIRA_TOKEN\n    deployment: datacenter\n"
        "    customer_groups: [portal-customers, vip]\n"
    )
    (site,) = load_sites(write(tmp_path, text), SECRETS)
    assert site.deployment == "datacenter" and site.customer_groups == {"portal-customers", "vip"}
    assert site.user is None and site.token is not None
    assert site.url == "https://jira.example.com/jira"


def test_polling_can_be_turned_off(tmp_path: Path) -> None:
    text = "sites:\n  - {name: r, kind: redmine, url: 'https://r.example', poll_interval: 0}\n"
    assert load_sites(write(tmp_path, text), {})[0].poll_interval == 0.0


# -- secrets -----------------------------------------------------------------------------------
def test_secrets_appear_in_no_repr_or_str(tmp_path: Path) -> None:
    sites = load_sites(write(tmp_path, EXAMPLE), SECRETS)
    shown = repr(sites) + str(sites) + "".join(map(str, sites))
    no_secret_in(shown)
    assert "**********" in shown
    assert sites[0].token is not None and sites[0].token.get_secret_value() == "jira-token-s3cret"


@pytest.mark.parametrize("key,kind,instead", [
    ("token", "jira", "'token_env'"),
    ("api_key", "redmine", "'api_key_env'"),
    ("password", "jira", "'token_env'"),
    ("password", "redmine", "'api_key_env'"),
    ("webhook_secret", "redmine", "'webhook_secret_env'"),
    ("api_key", "gitlab", "'token_env' (Jira) or 'api_key_env' (Redmine)"),
])  # fmt: skip
def test_a_secret_written_inline_is_refused_without_being_shown(
    tmp_path: Path, key: str, kind: str, instead: str
) -> None:
    text = f"sites:\n  - name: acme\n    kind: {kind}\n    url: https://a.example\n    {key}: jira-token-s3cret\n"
    path = write(tmp_path, text)
    found = problems(path)
    expected = line(path, text, f"{key}:",
                    f"'{key}' would put a secret in the sites file; put it in an environment "
                    f"variable and give that variable's name as {instead}")  # fmt: skip
    assert expected in found
    no_secret_in("\n".join(found))


@pytest.mark.parametrize("value", ["jira-token-s3cret", "0123456789abcdef0123456789abcdef01234567", "12345"])
def test_a_secret_given_where_a_variables_name_belongs_is_not_repeated(tmp_path: Path, value: str) -> None:
    text = f"sites:\n  - name: acme\n    kind: jira\n    url: https://a.example\n    token_env: {value}\n"
    path = write(tmp_path, text)
    assert problems(path) == [
        line(path, text, value, "expected the name of an environment variable (upper-case "
             "letters, digits and '_', e.g. ACME_JIRA_TOKEN), not the secret itself")
    ]  # fmt: skip


def test_a_url_with_a_password_is_refused_without_being_shown(tmp_path: Path) -> None:
    text = "sites:\n  - name: acme\n    kind: jira\n    url: https://bot:hunter2@acme.example\n"
    path = write(tmp_path, text)
    (found,) = problems(path)
    assert found == line(path, text, "https://", "the URL holds a user name or password; "
                         "credentials go in environment variables named by the site's *_env keys")
    assert "hunter2" not in found


# -- environment variables ---------------------------------------------------------------------
def test_a_variable_that_is_not_set_stops_start_up_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    environ = {k: v for k, v in SECRETS.items() if k != "ACME_JIRA_TOKEN"}
    assert problems(path, environ) == [
        line(path, EXAMPLE, "ACME_JIRA_TOKEN", "ACME_JIRA_TOKEN (token_env of site acme) is not set")
    ]


def test_a_blank_variable_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    found = problems(path, SECRETS | {"BETA_REDMINE_SECRET": "  "})
    assert found == [
        line(path, EXAMPLE, "BETA_REDMINE_SECRET",
             "BETA_REDMINE_SECRET (webhook_secret_env of site beta) is set but empty")
    ]  # fmt: skip


def test_every_missing_variable_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    assert [p.split(": ", 1)[1] for p in problems(path, {})] == [
        "ACME_JIRA_TOKEN (token_env of site acme) is not set",
        "ACME_WEBHOOK_SECRET (webhook_secret_env of site acme) is not set",
        "BETA_REDMINE_KEY (api_key_env of site beta) is not set",
        "BETA_REDMINE_SECRET (webhook_secret_env of site beta) is not set",
    ]


def test_variables_come_from_the_environment_over_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = write(tmp_path, "ACME_JIRA_TOKEN=from-file\nACME_WEBHOOK_SECRET=hook-from-file\n", ".env")
    monkeypatch.setenv("ACME_JIRA_TOKEN", "from-environment")
    monkeypatch.delenv("ACME_WEBHOOK_SECRET", raising=False)
    found = environment(env_file)
    assert found["ACME_JIRA_TOKEN"] == "from-environment"
    assert found["ACME_WEBHOOK_SECRET"] == "hook-from-file"
    assert "ACME_WEBHOOK_SECRET" not in environment(tmp_path / "missing.env")


# -- mistakes, each where it is ----------------------------------------------------------------
@pytest.mark.parametrize("old,new,needle,message", [
    ("kind: jira", "kind: gitlab", "gitlab", "expected jira or redmine, got the text 'gitlab'"),
    ("kind: jira", "kind: Jira", "Jira", "expected jira or redmine, got the text 'Jira'"),
    ("url: https://acme.atlassian.net", "url: acme.atlassian.net", "acme.atlassian.net",
     "expected a full URL such as https://yoursite.atlassian.net"),
    ("url: https://redmine.beta.example", "url: ftp://redmine.beta.example", "ftp://",
     "expected a full URL such as https://redmine.example.com"),
    ("url: https://acme.atlassian.net", "url: 42", "42",
     "expected a full URL such as https://yoursite.atlassian.net, got the number 42"),
    ("name: acme", "name: Acme", "Acme",
     "'Acme' is not a valid site name: use lower-case letters, digits and '-', starting with a "
     "letter or digit (it becomes the path /webhooks/<name>)"),
    ("name: acme", "name: acme_corp", "acme_corp", "'acme_corp' is not a valid site name"),
    ("name: acme", "name: " + "a" * 41, "a" * 41, "site name '" + "a" * 40 + "…' is 41 characters long; at most 40"),
    ("name: acme", "name: 7", "7", "expected text, got the number 7"),
    ("name: acme", "name: devops", "devops",
     "site name 'devops' is taken by the Azure DevOps service hook (/webhooks/devops); choose another"),
    ("name: beta", "name: acme", "acme", "site name 'acme' is already used by the site at line 2"),
    ("    token_env: ACME", "    tokn_env: ACME", "tokn_env", "unknown key 'tokn_env' (did you mean 'token_env'?)"),
    ("    api_key_env: BETA", "    token_env: BETA", "token_env: BETA",
     "'token_env' is a setting of jira sites, not of redmine ones (did you mean 'api_key_env'?)"),
    ("    customer_roles:", "    customer_groups:", "customer_groups",
     "'customer_groups' is a setting of jira sites, not of redmine ones (did you mean 'customer_roles'?)"),
    ("    user: bot", "    poll_interval: 5\n    user: bot", "poll_interval: 5",
     "'poll_interval' is a setting of redmine sites, not of jira ones"),
    ("    user: bot@vendor.example\n", "    user: bot@vendor.example\n    color: red\n", "color",
     "unknown key 'color'"),
    ("workflows: [service-sheet]", "workflows: []", "[]", "expected at least one item, got an empty list"),
    ("workflows: [service-sheet]", "workflows: service-sheet", "service-sheet",
     "expected a list of workflow names, got the text 'service-sheet'"),
    ("workflows: [service-sheet]", "workflows: [service-sheet, 3]", "3]", "expected a name, got the number 3"),
    ("customer_roles: [Zákazník]", "customer_roles: []", "[]", "expected at least one item, got an empty list"),
    ("poll_interval: 60", "poll_interval: -1", "-1", "expected a number of seconds, 0 or more, got the number -1"),
    ("poll_interval: 60", "poll_interval: often", "often",
     "expected a number of seconds, 0 or more, got the text 'often'"),
    ("kind: jira", "kind: jira\n    deployment: server", "server",
     "expected cloud or datacenter, got the text 'server'"),
])  # fmt: skip
def test_each_mistake_is_reported_where_it_is(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = broken(EXAMPLE, old, new)
    path = write(tmp_path, text)
    found = problems(path)
    index = text.index(needle, EXAMPLE.index(old))  # the text before the change is the same
    row, col = text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{row}:{col}: "), found
    assert message in found[0]


def test_a_user_without_a_token_is_refused(tmp_path: Path) -> None:
    text = broken(EXAMPLE, "    token_env: ACME_JIRA_TOKEN ", "   ")
    path = write(tmp_path, text)
    assert problems(path) == [
        line(path, text, "user:", "'user' needs 'token_env' beside it, naming the variable with its API token")
    ]


def test_a_missing_required_key_is_reported_at_its_site(tmp_path: Path) -> None:
    text = "sites:\n  - name: acme\n    kind: jira\n  - kind: redmine\n"
    path = write(tmp_path, text)
    assert problems(path) == [
        line(path, text, "name: acme", "missing required key 'url'"),
        line(path, text, "kind: redmine", "missing required keys 'name', 'url'"),
    ]


def test_every_problem_in_the_file_is_reported_together_top_to_bottom(tmp_path: Path) -> None:
    text = """\
sites:
  - name: Acme
    kind: gitlab
    url: acme
    token: abc123
  - name: beta
    kind: redmine
    url: https://redmine.beta.example
    api_key_env: BETA_REDMINE_KEY
    pol_interval: 5
  - name: beta
    kind: jira
    url: https://x.atlassian.net
  - 5
"""
    path = write(tmp_path, text)
    assert problems(path, {}) == [
        line(path, text, "Acme", "'Acme' is not a valid site name: use lower-case letters, digits "
             "and '-', starting with a letter or digit (it becomes the path /webhooks/<name>)"),
        line(path, text, "gitlab", "expected jira or redmine, got the text 'gitlab'"),
        line(path, text, "acme", "expected a full URL such as https://yoursite.atlassian.net", after="url"),
        line(path, text, "token", "'token' would put a secret in the sites file; put it in an environment "
             "variable and give that variable's name as 'token_env' (Jira) or 'api_key_env' (Redmine)"),
        line(path, text, "BETA_REDMINE_KEY", "BETA_REDMINE_KEY (api_key_env of site beta) is not set"),
        line(path, text, "pol_interval", "unknown key 'pol_interval' (did you mean 'poll_interval'?)"),
        line(path, text, "beta", "site name 'beta' is already used by the site at line 6", after="pol_interval"),
        line(path, text, "5\n", "expected a mapping of site keys, got the number 5", after="- 5"),
    ]  # fmt: skip


# -- the file as a whole -----------------------------------------------------------------------
@pytest.mark.parametrize("text,at,message", [
    ("", (1, 1), "the file is empty; expected 'sites:' with a list of sites"),
    ("# nothing yet\n", (1, 1), "the file is empty; expected 'sites:' with a list of sites"),
    ("- name: acme\n", (1, 1), "expected a mapping with the key 'sites', got a list"),
    ("sites: []\n", (1, 8), "expected at least one site, got an empty list"),
    ("sites:\n", (1, 1), "expected a list of sites, got nothing"),
    ("sites: acme\n", (1, 8), "expected a list of sites, got the text 'acme'"),
    ("site:\n  - name: acme\n", (1, 1), "unknown key 'site' (did you mean 'sites'?)"),
])  # fmt: skip
def test_a_file_that_is_no_list_of_sites(tmp_path: Path, text: str, at: tuple[int, int], message: str) -> None:
    path = write(tmp_path, text)
    assert f"{path}:{at[0]}:{at[1]}: {message}" in problems(path)


def test_a_file_that_is_not_yaml_is_reported_where_the_parser_stopped(tmp_path: Path) -> None:
    text = "sites:\n  - name: acme\n    kind: [jira\n"
    path = write(tmp_path, text)
    (found,) = problems(path)
    assert found.startswith(f"{path}:4:1: invalid YAML: ")


def test_a_key_given_twice_is_reported_at_the_second(tmp_path: Path) -> None:
    text = "sites:\n  - name: acme\n    kind: jira\n    url: https://a.example\n    name: beta\n"
    path = write(tmp_path, text)
    (found,) = problems(path)
    assert found.startswith(f"{path}:5:5: invalid YAML: ") and "duplicate key" in found


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert problems(path) == [f"{path}:1:1: cannot read: No such file or directory"]


# -- from the settings -------------------------------------------------------------------------
def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_bridge_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"BRIDGE_{name.upper()}", raising=False)


def test_without_trackers_there_are_no_sites() -> None:
    assert sites_from_settings(settings(), {}) == ()


def test_the_jira_settings_are_the_site_jira(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_JIRA_URL", "https://yoursite.atlassian.net")
    monkeypatch.setenv("BRIDGE_JIRA_USER", "bot@vendor.example")
    monkeypatch.setenv("BRIDGE_JIRA_TOKEN", "tok-123")
    monkeypatch.setenv("BRIDGE_JIRA_WEBHOOK_SECRET", "hook-456")
    monkeypatch.setenv("BRIDGE_JIRA_DEPLOYMENT", "datacenter")
    monkeypatch.setenv("BRIDGE_JIRA_CUSTOMER_GROUPS", "portal-customers, vip")
    (site,) = sites_from_settings(settings(), {})
    assert site == SiteConfig(
        name="jira",
        kind="jira",
        url="https://yoursite.atlassian.net/",
        user="bot@vendor.example",
        token=SecretStr("tok-123"),
        webhook_secret=SecretStr("hook-456"),
        deployment="datacenter",
        customer_groups=frozenset({"portal-customers", "vip"}),
    )
    assert "tok-123" not in repr(site) and "hook-456" not in str(site)


def test_the_redmine_settings_are_the_site_redmine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_REDMINE_URL", "https://redmine.example.com/")
    monkeypatch.setenv("BRIDGE_REDMINE_API_KEY", "key-789")
    monkeypatch.setenv("BRIDGE_REDMINE_CUSTOMER_ROLES", "Klient")
    monkeypatch.setenv("BRIDGE_REDMINE_POLL_INTERVAL", "0")
    (site,) = sites_from_settings(settings(), {})
    assert site == SiteConfig(
        name="redmine",
        kind="redmine",
        url="https://redmine.example.com/",
        api_key=SecretStr("key-789"),
        customer_roles=frozenset({"Klient"}),
        poll_interval=0.0,
    )
    assert "key-789" not in repr(site)


def test_jira_and_redmine_settings_together_are_two_sites() -> None:
    found = sites_from_settings(
        settings(jira_url="https://j.example", redmine_url="https://r.example"), {}
    )
    assert [(s.name, s.kind) for s in found] == [("jira", "jira"), ("redmine", "redmine")]
    assert found[1].customer_roles == {"Customer", "Zákazník"} and found[1].poll_interval == 60.0


def test_with_a_sites_file_the_sites_are_the_files(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    found = sites_from_settings(settings(sites_file=path), SECRETS)
    assert [s.name for s in found] == ["acme", "beta"]
    with pytest.raises(SitesError) as caught:
        sites_from_settings(settings(sites_file=path), {})
    assert caught.value.problems[0].startswith(f"{path}:6:16: ACME_JIRA_TOKEN ")


def test_a_sites_file_that_cannot_be_served_leaves_the_database_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up is refused before the database is migrated: an upgrade refused for its sites
    file must leave a database the version before it can still run on."""
    from bridge.app import create_app

    monkeypatch.chdir(tmp_path)  # no .env file to read the variables from
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    database = tmp_path / "bridge.db"
    given = settings(sites_file=write(tmp_path, EXAMPLE), database_url=f"sqlite:///{database}")
    with pytest.raises(SitesError):
        create_app(given)
    assert not database.exists()


@pytest.mark.parametrize("values,named", [
    ({"jira_url": "https://j.example"}, "BRIDGE_JIRA_URL"),
    ({"redmine_url": "https://r.example"}, "BRIDGE_REDMINE_URL"),
    ({"jira_url": "https://j.example", "redmine_url": "https://r.example"}, "BRIDGE_JIRA_URL and BRIDGE_REDMINE_URL"),
])  # fmt: skip
def test_a_sites_file_and_a_tracker_url_together_are_refused_in_one_line(
    tmp_path: Path, values: dict[str, str], named: str
) -> None:
    path = write(tmp_path, EXAMPLE)
    with pytest.raises(SettingsError) as caught:
        sites_from_settings(settings(sites_file=path, **values), SECRETS)
    (problem,) = caught.value.problems
    assert problem.startswith(f"BRIDGE_SITES_FILE and {named} are both set: ")
    assert f"unset {named}" in problem


# -- a site built in code ----------------------------------------------------------------------
@pytest.mark.parametrize("values,says", [
    ({"name": "Acme"}, "not a valid site name"),
    ({"name": "devops"}, "taken by the Azure DevOps service hook"),
    ({"kind": "gitlab"}, "kind must be jira or redmine"),
    ({"api_key": SecretStr("k")}, "a Jira site has a token, not an api_key"),
    ({"kind": "redmine", "token": SecretStr("t")}, "a Redmine site has an api_key"),
    ({"poll_interval": -1.0}, "poll_interval must be at least 0"),
])  # fmt: skip
def test_a_site_config_refuses_what_no_file_could_say(values: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        SiteConfig(**{"name": "acme", "kind": "jira", "url": "https://a.example/", **values})  # type: ignore[arg-type]


def test_a_site_configs_workflows_are_a_tuple() -> None:
    site = SiteConfig("acme", "jira", "https://a.example/", workflows=["a", "b"])  # type: ignore[arg-type]
    assert site.workflows == ("a", "b")


# -- sites against the workflows -------------------------------------------------------------
def workflow(name: str, sites: str | None = None, types: str = "issue_types: [Bug]") -> str:
    text = broken(broken(VALID, "name: demo", f"name: {name}"), "issue_types: [Bug]", types)
    return text if sites is None else broken(text, "statuses:\n", f"sites: {sites}\nstatuses:\n")


def test_a_listed_workflow_that_does_not_exist_is_named_where_it_is_listed(tmp_path: Path) -> None:
    text = broken(EXAMPLE, "[service-sheet]", "[service-sheet, servis-sheet, warranty]")
    path = write(tmp_path, text)
    sites = load_sites(path, SECRETS)
    assert unknown_workflows(sites, ["service-sheet", "deso-crm"]) == [
        line(path, text, "servis-sheet", "site acme lists workflow 'servis-sheet', which does not "
             "exist (did you mean 'service-sheet'?)"),
        line(path, text, "warranty]", "site acme lists workflow 'warranty', which does not exist "
             "(the workflows are deso-crm, service-sheet)"),
    ]  # fmt: skip
    assert unknown_workflows(sites, ["service-sheet", "servis-sheet", "warranty"]) == []


def test_a_site_without_a_list_takes_any_workflow(tmp_path: Path) -> None:
    sites = load_sites(write(tmp_path, broken(EXAMPLE, "    workflows: [service-sheet]\n", "")), SECRETS)
    assert unknown_workflows(sites, []) == []


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "workflows"
    found.mkdir()
    (found / "service-sheet.yaml").write_text(workflow("service-sheet", "[acme]"), encoding="utf-8")
    (found / "beta-support.yaml").write_text(workflow("beta-support", "[beta]", "issue_types: [Task]"), encoding="utf-8")
    return found


def test_sites_and_workflows_that_agree_load(tmp_path: Path, folder: Path) -> None:
    sites = load_sites(write(tmp_path, EXAMPLE), SECRETS)
    workflows = workflow_loader(sites)(folder)
    assert site_problems(sites, workflows) == []
    acme, beta = sites
    assert workflows.for_site(acme.name, acme.workflows).names == ("service-sheet",)
    assert workflows.for_site(beta.name, beta.workflows).names == ("beta-support",)


def test_a_workflow_naming_a_site_not_configured_is_refused_where_it_names_it(
    tmp_path: Path, folder: Path
) -> None:
    text = workflow("beta-support", "[beta, acmee]", "issue_types: [Task]")
    path = folder / "beta-support.yaml"
    path.write_text(text, encoding="utf-8")
    sites = load_sites(write(tmp_path, EXAMPLE), SECRETS)
    assert [str(p) for p in site_problems(sites, load_dir(folder))] == [
        line(path, text, "acmee", "site 'acmee' is not configured (did you mean 'acme'?)")
    ]
    with pytest.raises(WorkflowError, match="site 'acmee' is not configured"):
        workflow_loader(sites)(folder)


def test_without_any_site_the_workflows_sites_are_not_checked(folder: Path) -> None:
    assert site_problems((), load_dir(folder)) == []


def test_a_site_listing_a_workflow_that_leaves_it_out_is_refused(tmp_path: Path, folder: Path) -> None:
    text = broken(EXAMPLE, "[service-sheet]", "[service-sheet, beta-support]")
    path = write(tmp_path, text)
    sites = load_sites(path, SECRETS)
    assert [str(p) for p in site_problems(sites, load_dir(folder))] == [
        line(path, text, "beta-support", "site acme lists workflow 'beta-support', whose 'sites' "
             f"leave it out ({folder / 'beta-support.yaml'})"),
    ]  # fmt: skip


def test_a_reload_that_drops_a_listed_workflow_is_refused(tmp_path: Path, folder: Path) -> None:
    sites = load_sites(write(tmp_path, EXAMPLE), SECRETS)
    registry = WorkflowRegistry(folder, load=workflow_loader(sites))
    (folder / "service-sheet.yaml").unlink()
    assert registry.reload() is False
    assert registry.current.names == ("beta-support", "service-sheet"), "the previous set stays"
    assert "site acme lists workflow 'service-sheet', which does not exist" in str(registry.last_problems[0])
