"""The `bridge` command as an admin uses it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.cli import app
from tests.databases import postgres_or_skip

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_check_shipped_workflows_summarises():
    result = runner.invoke(app, ["check", str(ROOT / "workflows")])
    assert result.exit_code == 0, result.output
    assert "5 workflow(s) valid" in result.output and "easy-helpdesk" in result.output


def test_check_reports_path_line_col_and_exits_1(tmp_path):
    broken = tmp_path / "broken.yaml"
    text = (ROOT / "workflows" / "deso-crm.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("customer_transitions:", "customer_transitons:", 1), encoding="utf-8")
    line = next(i for i, l in enumerate(broken.read_text().splitlines(), 1) if l.startswith("customer_transitons"))
    result = runner.invoke(app, ["check", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:{line}:1: unknown key 'customer_transitons'" in result.output


def test_schema_is_json_with_the_workflow_properties():
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    assert {"statuses", "customer_transitions", "on_enter"} <= set(schema["properties"])


def run(*args: str, timeout: float = 60, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    bridge = Path(sys.executable).with_name("bridge")
    return subprocess.run([str(bridge), *args], env=clean | env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_invalid_setting_fails_start_with_one_line_naming_it(tmp_path):
    result = run("serve", BRIDGE_TIMEZONE="Mars/Olympus", BRIDGE_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "BRIDGE_TIMEZONE" in line and "Mars/Olympus" in line


def test_invalid_secret_setting_does_not_echo_other_secrets(tmp_path):
    result = run("serve", BRIDGE_JIRA_URL="not a url", BRIDGE_JIRA_TOKEN="s3cr3t-token")
    assert result.returncode == 2 and "BRIDGE_JIRA_URL" in result.stderr
    assert "s3cr3t-token" not in result.stderr


@pytest.mark.parametrize("name", ["BRIDGE_ADMIN_TOKEN", "BRIDGE_JIRA_WEBHOOK_SECRET"])
def test_empty_secret_stops_start_up_naming_it(tmp_path, name):
    # a service that started anyway would run until the timeout fails the test
    env = {name: " ", "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = run("serve", "--port", "0", timeout=20, **env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert name in line and "empty" in line


def test_broken_workflows_stop_start_up_with_their_positions(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\nstatuses: [\n", encoding="utf-8")
    result = run("serve", BRIDGE_WORKFLOWS_DIR=str(tmp_path), BRIDGE_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:" in result.stderr and "not starting" in result.stderr


def test_deliveries_commands_on_an_empty_inbox(tmp_path):
    env = {"BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert run("migrate", **env).returncode == 0
    assert run("deliveries", "list", "--state", "dead", **env).returncode == 0
    bad = run("deliveries", "list", "--state", "lost", **env)
    assert bad.returncode == 2 and "pending" in bad.stderr
    missing = run("deliveries", "replay", "42", **env)
    assert missing.returncode == 1 and "42" in missing.stderr


def billion_laughs(folder: Path) -> tuple[Path, str]:
    return ROOT / "tests" / "fixtures" / "workflows" / "hostile" / "billion-laughs.yaml", "(YAML alias bomb?)"


def fifty_megabytes(folder: Path) -> tuple[Path, str]:
    path = folder / "huge.yaml"
    path.write_text("statuses:\n" + "  waiting: Waiting for customer\n" * 1_625_000, encoding="utf-8")
    return path, ":1:1: file is 52 MB; workflow files may be at most 1 MB"


def nested(levels: int) -> Callable[[Path], tuple[Path, str]]:
    def make(folder: Path) -> tuple[Path, str]:
        path = folder / f"deep-{levels}.yaml"
        path.write_text("flow: " + "[" * levels + "]" * levels + "\n", encoding="utf-8")
        return path, ": nesting deeper than 64 levels"

    return make


@pytest.mark.parametrize(
    "hostile",
    [billion_laughs, fifty_megabytes, nested(1_000), nested(100_000)],
    ids=["billion-laughs", "52-MB", "1000-levels", "100000-levels"],
)
def test_check_refuses_a_hostile_file_with_one_line_and_exit_1(tmp_path, hostile):
    path, ending = hostile(tmp_path)
    result = run("check", str(path))  # bounded by run()'s timeout: proves it does not hang
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{path}:") and line.endswith(ending)
    assert result.stderr.strip() == "1 problem(s)"


def test_replay_refuses_ids_no_delivery_can_have(tmp_path):
    for bad, bound in ((str(2**63), str(2**63 - 1)), ("0", "1")):
        result = run("deliveries", "replay", bad, BRIDGE_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        message = " ".join(result.stderr.replace("│", " ").split())
        assert "Invalid value for 'ids'" in message and f"equal to {bound}" in message


def test_a_bad_setting_is_one_line_saying_what_is_expected(tmp_path):
    result = run("decisions", "list", cwd=tmp_path, BRIDGE_JIRA_URL="yoursite.atlassian.net")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: BRIDGE_JIRA_URL: must be a full URL such as https://yoursite.atlassian.net"]


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["decisions", "list"], ["check"]])
def test_a_mistyped_setting_name_is_pointed_out(tmp_path, command):
    (tmp_path / ".env").write_text("BRIDGE_LOGLEVEL=debug\n", encoding="utf-8")
    # every command stops at the invalid time zone, after the warnings
    result = run(*command, cwd=tmp_path, timeout=20, BRIDGE_ADMIN_TOKN="t", BRIDGE_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: BRIDGE_ADMIN_TOKN is not a setting and is ignored; did you mean BRIDGE_ADMIN_TOKEN?",
        "warning: BRIDGE_LOGLEVEL (in .env) is not a setting and is ignored; did you mean BRIDGE_LOG_LEVEL?",
    ]


def test_the_test_suites_postgres_url_is_no_mistake(tmp_path):
    workflows = str(ROOT / "workflows")
    result = run("check", cwd=tmp_path, BRIDGE_WORKFLOWS_DIR=workflows, BRIDGE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1/test")
    assert result.returncode == 0 and "warning" not in result.stderr


# -- the database a command is pointed at ------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    "command", [["decisions", "list"], ["deliveries", "list"], ["attention"], ["deliveries", "replay", "--all-dead"], ["deliveries", "replay", "7"]]
)
def test_reading_commands_never_create_a_database(tmp_path, command):
    url = sqlite_url(tmp_path / "nothing" / "here.db")
    result = run(*command, cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: no database at {url} (set BRIDGE_DATABASE_URL)"]
    assert not (tmp_path / "nothing").exists()


def test_the_default_database_is_named_where_it_was_looked_for(tmp_path):
    result = run("decisions", "list", cwd=tmp_path)
    assert result.stderr.splitlines() == [f"error: no database at sqlite:///{tmp_path}/var/bridge.db (set BRIDGE_DATABASE_URL)"]
    assert not (tmp_path / "var").exists()


def test_a_database_without_the_schema_says_how_to_migrate_it_and_is_left_as_it_is(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("decisions", "list", cwd=tmp_path, BRIDGE_DATABASE_URL=sqlite_url(empty))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert f"the database at {sqlite_url(empty)} holds no ticket-bridge schema" in line
    assert line.endswith("run `bridge migrate`, or `bridge serve` once")
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_database_behind_the_current_schema_says_so(tmp_path):
    from bridge.store import create_db_engine, migrate
    from bridge.store.db import head_revision

    url = sqlite_url(tmp_path / "old.db")
    migrate(create_db_engine(url), "0002")
    result = run("deliveries", "list", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the database at {url} is not migrated to the current schema (it has 0002, this bridge needs {head_revision()}): "
        "run `bridge migrate`, or `bridge serve` once"
    ]


def test_a_database_from_a_newer_bridge_is_refused_by_serve_and_by_the_cli_in_one_line(tmp_path):
    from sqlalchemy import text

    from bridge.store import create_db_engine, migrate
    from bridge.store.db import head_revision

    url = sqlite_url(tmp_path / "newer.db")
    engine = create_db_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    for command in (["serve", "--port", "0"], ["decisions", "list"], ["migrate"]):
        result = run(*command, cwd=tmp_path, timeout=20, BRIDGE_DATABASE_URL=url)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        (line,) = [line for line in result.stderr.splitlines() if " INFO " not in line]  # serve logs as it starts
        assert line == (
            f"error: the database at {url} has schema 0099, which this bridge does not know (it needs {head_revision()}): "
            "a newer ticket-bridge migrated it; run that one"
        )


def test_migrate_creates_the_database_and_then_the_listings_say_they_are_empty(tmp_path):
    from bridge.store.db import head_revision

    url = sqlite_url(tmp_path / "new" / "bridge.db")
    migrated = run("migrate", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.splitlines() == [f"{url}: schema up to date ({head_revision()})"]
    assert run("migrate", cwd=tmp_path, BRIDGE_DATABASE_URL=url).returncode == 0  # twice is fine
    decisions = run("decisions", "list", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert (decisions.returncode, decisions.stdout, decisions.stderr) == (0, f"0 decisions in {url}\n", "")
    dead = run("deliveries", "list", "--state", "dead", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert (dead.returncode, dead.stdout) == (0, f"0 dead deliveries in {url}\n")
    listed = run("deliveries", "list", "--json", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert json.loads(listed.stdout) == []


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database, " * 100, encoding="utf-8")
    result = run("decisions", "list", cwd=tmp_path, BRIDGE_DATABASE_URL=sqlite_url(text_file))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: BRIDGE_DATABASE_URL: cannot open {sqlite_url(text_file)}: file is not a database"]


def test_serve_says_in_one_line_when_the_database_folder_cannot_be_made(tmp_path):
    (tmp_path / "a-file").touch()
    url = sqlite_url(tmp_path / "a-file" / "bridge.db")
    result = run("serve", "--port", "0", cwd=tmp_path, timeout=20, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: BRIDGE_DATABASE_URL: cannot open {url}: ")


def blackhole() -> socket.socket:
    """A port that accepts connections and never answers: a host that does not respond."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["decisions", "list"]])
def test_postgresql_that_does_not_answer_is_one_line_without_the_password(tmp_path, command):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://bridge:s3cr3t-pw@127.0.0.1:{port}/bridge"
    result = run(*command, cwd=tmp_path, timeout=30, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: BRIDGE_DATABASE_URL: cannot connect to postgresql+psycopg://bridge@127.0.0.1:{port}/bridge: "
        "Connection refused (is the server running on that host and accepting TCP/IP connections?)"
    ]


def test_a_silent_postgresql_host_is_given_up_on_with_one_line(tmp_path):
    with blackhole() as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = run("deliveries", "list", cwd=tmp_path, timeout=60, BRIDGE_DATABASE_URL=f"postgresql://bridge:s3cr3t-pw@127.0.0.1:{port}/bridge")
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert result.stderr.splitlines() == [
        f"error: BRIDGE_DATABASE_URL: cannot connect to postgresql://bridge@127.0.0.1:{port}/bridge: connection timeout expired"
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "user,database,cause",
    [("postgres", "nope_{n}", 'database "nope_{n}" does not exist'), ("nobody_{n}", "test", 'role "nobody_{n}" does not exist')],
)
def test_a_wrong_postgresql_role_or_database_is_one_line_without_the_password(tmp_path, user, database, cause):
    postgres_or_skip()
    n = uuid.uuid4().hex[:8]
    user, database, cause = (x.format(n=n) for x in (user, database, cause))
    url = f"postgresql+psycopg://{user}:s3cr3t-pw@127.0.0.1:5432/{database}?password=s3cr3t-pw"
    for command in (["serve", "--port", "0"], ["deliveries", "replay", "--all-dead"]):
        result = run(*command, cwd=tmp_path, timeout=30, BRIDGE_DATABASE_URL=url)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"error: BRIDGE_DATABASE_URL: cannot connect to postgresql+psycopg://{user}@127.0.0.1:5432/{database}: {cause}"
        ]


# -- listing and replaying ----------------------------------------------------------------


def seeded(folder: Path, *states: str) -> str:
    """A migrated SQLite database holding one delivery in each of `states` (ids 1, 2, …)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from bridge.store import create_db_engine, migrate
    from bridge.store.tables import deliveries

    url = sqlite_url(folder / "bridge.db")
    engine = create_db_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for n, state in enumerate(states, 1):
            row = {"tracker": "jira", "delivery_key": f"d-{n}", "received_at": datetime.now(UTC), "headers": {}, "body": b"{}"}
            conn.execute(insert(deliveries), {**row, "state": state, "attempts": 1})
    engine.dispose()
    return url


def test_replay_all_dead_with_nothing_dead_is_nothing_to_do(tmp_path):
    url = seeded(tmp_path, "done", "pending")
    result = run("deliveries", "replay", "--all-dead", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"nothing to replay: 0 dead deliveries in {url}\n", "")


def test_replay_says_what_each_delivery_was_and_why_one_was_not_queued(tmp_path):
    url = seeded(tmp_path, "dead", "pending", "rejected", "retrying")
    result = run("deliveries", "replay", "1", "2", "3", "4", "42", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["1: queued (was dead)", "4: queued (was retrying)"]
    assert result.stderr.splitlines() == [
        "2: is pending, not dead, done or retrying — nothing to replay",
        "3: is rejected, not dead, done or retrying — nothing to replay",
        "42: no such delivery",
    ]
    again = run("deliveries", "list", "--state", "pending", "--json", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    assert sorted(row["id"] for row in json.loads(again.stdout)) == [1, 2, 4]


def test_unknown_verdicts_are_refused_and_help_lists_the_verdicts(tmp_path):
    url = seeded(tmp_path)
    refused = run("decisions", "list", "--verdict", "revert", cwd=tmp_path, BRIDGE_DATABASE_URL=url)
    verdicts = "ignored, allowed, stale, reverted, needs_attention, expired, reminded, returned, rejected, corrected"
    assert (refused.returncode, refused.stderr) == (2, f"error: --verdict must be one of {verdicts}\n")
    assert run("decisions", "list", "--verdict", "needs_attention", cwd=tmp_path, BRIDGE_DATABASE_URL=url).returncode == 0
    described = " ".join(run("decisions", "list", "--help").stdout.split())
    assert f"One of {verdicts}." in described


@pytest.mark.parametrize(
    "command,flags",
    [(["deliveries", "list"], ["--json"]), (["decisions", "list"], ["--json"]), (["deliveries", "replay"], ["--all-dead"])],
)
def test_switches_are_shown_as_plain_flags(command, flags):
    shown = run(*command, "--help").stdout
    assert "<bool>" not in shown
    for flag in [*flags, "--help"]:
        (line,) = [line for line in shown.splitlines() if line.split()[:1] == [flag]]
        assert line.split()[1][0].isupper(), line  # the flag, then straight away its help


def test_top_level_help_says_where_settings_come_from():
    described = " ".join(run("--help").stdout.split())
    assert "BRIDGE_DATABASE_URL" in described and ".env" in described


def test_dry_run_decisions_are_marked_as_not_sent(tmp_path):
    from bridge.store import DecisionRecord, Store, create_db_engine

    url = seeded(tmp_path)
    store = Store(create_db_engine(url))
    record = DecisionRecord("jira", "SRV-1", "jira:issue_updated", "Jana", "customer", "A", "B", "wf", "reverted", "customer-transition", "r", True)
    store.record_decision(None, record, [("k-1", "transition", "SRV-1", {"to": "A"})])
    store.record_decision(None, record.__class__(**{**record.__dict__, "ticket": "SRV-2", "dry_run": False}), [("k-2", "transition", "SRV-2", {"to": "A"})])
    store.engine.dispose()
    listed = run("decisions", "list", cwd=tmp_path, BRIDGE_DATABASE_URL=url).stdout.splitlines()
    assert [("SRV-2" in line, line.endswith("dry_run=yes — actions not sent")) for line in listed] == [(True, False), (False, True)]


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["deliveries", "list"]])
@pytest.mark.parametrize(
    "url,says",
    [
        ("postgresql+pg8000://bridge:s3cr3t-pw@db/bridge", "names the driver 'postgresql+pg8000'"),
        ("postgresql://bridge:s3cr3t@pw@127.0.0.1/bridge", "percent-encode it (@ as %40)"),
    ],
)
def test_a_database_url_the_bridge_cannot_use_is_a_settings_error(tmp_path, command, url, says):
    result = run(*command, cwd=tmp_path, timeout=20, BRIDGE_DATABASE_URL=url)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: BRIDGE_DATABASE_URL: ") and says in line and "s3cr3t" not in line


def test_attention_lists_what_waits_for_the_team_longest_first(tmp_path):
    from bridge.store import DecisionRecord, Store, create_db_engine

    url = seeded(tmp_path)
    assert run("attention", cwd=tmp_path, BRIDGE_DATABASE_URL=url).stdout.startswith("no ticket waits for the team in ")
    store = Store(create_db_engine(url))
    for ticket, role, verdict, reason in [("SRV-7", "customer", "ignored", "commented"), ("SRV-8", "customer", "ignored", ""),
                                          ("SRV-8", "agent", "allowed", ""), ("SRV-9", "agent", "needs_attention", "no way back")]:
        record = DecisionRecord("jira", ticket, "comment_created", "Jana", role, None, "Na klientovi", "service-sheet",
                                verdict, "comment", reason, False)
        store.record_decision(None, record, [])
    store.engine.dispose()
    lines = run("attention", cwd=tmp_path, BRIDGE_DATABASE_URL=url).stdout.splitlines()
    assert [line.split("  ")[1:] for line in lines] == [
        ["site=jira", "ticket=SRV-7", "workflow=service-sheet", "what=commented"],
        ["site=jira", "ticket=SRV-9", "workflow=service-sheet", "what=needs attention: no way back"],
    ]
    rows = json.loads(run("attention", "--json", "--limit", "1", cwd=tmp_path, BRIDGE_DATABASE_URL=url).stdout)
    assert [(r["ticket"], r["kind"], r["by"]) for r in rows] == [("SRV-7", "customer", "Jana")]
