"""A real Redmine for end-to-end tests: Debian's package (5.0), one `rails server` per test
session on its own copy of the database, configured by `configure.rb` as a support team's
Redmine (the shipped workflows' statuses, project `podpora`, a customer, the bot, an agent).

The session fixture `real_redmine` installs Redmine once per machine (`scripts/ensure-redmine`,
as root through apt), then per session copies the freshly installed SQLite database, configures
it and starts the server as www-data on a free loopback port; it stops the server and drops the
copy at the end. Where Redmine cannot be had it skips with the reason, or fails under CI=true.
BRIDGE_TEST_REDMINE=0 skips at once (not under CI=true). Outside pytest (the benchmarks),
`ensure_installed()` then `with running_redmine() as redmine:` give the same Redmine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.redmine_real.hooks import HookRelay

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REDMINE = Path("/usr/share/redmine")
PLUGIN = HERE / "plugin" / "redmine_bridge_hook"
HOOK_URL_VARIABLE = "REDMINE_BRIDGE_HOOK_URL"
INSTANCE_DATABASE = Path("/etc/redmine/default/database.yml")
WORKFLOWS = ("service-sheet.yaml", "warranticon.yaml", "easy-helpdesk.yaml")
RUN_AS = "www-data"
BOT = "bridge-bot"
START_TIMEOUT = 90.0
CONFIGURE_TIMEOUT = 180.0
DEFAULT_ACTIVITY = -1  # log_time's "the activity configure.rb reported"


class RedmineUnavailable(Exception):
    """Redmine cannot be had on this machine; the message says why."""


@dataclass(frozen=True)
class Transition:
    tracker: str
    tracker_id: int
    from_status: str
    from_id: int
    to_status: str
    to_id: int


@dataclass(frozen=True)
class RedmineUser:
    login: str
    id: int
    api_key: str = field(repr=False)
    role: str = ""


@dataclass
class RealRedmine:
    """The running Redmine and what `configure.rb` made in it, with the calls tests need.

    Users are named by login: `bridge-bot` (role Bridge, not an admin), `zakaznik` (Zákazník),
    `resitel` (Řešitel). Helpers that change something return the `httpx.Response` so that a
    test can look at Redmine's answer; `create_issue` and `issue` return the issue and raise on
    an unexpected answer. `hooks` holds what the test plugin posted after each issue was
    created or updated (redmine_webhook's shape); set `hooks.forward_to` to pass them on.
    """

    url: str
    version: str
    project_id: int
    project: str
    trackers: dict[str, int]
    tracker_statuses: dict[str, list[str]]
    statuses: dict[str, int]
    closed_statuses: frozenset[str]
    users: dict[str, RedmineUser]
    custom_fields: dict[str, int]
    activity_id: int
    activities: list[dict[str, Any]]
    forbidden_for_bot: Transition
    log_path: Path
    hooks: HookRelay
    database: Path | None = None  # this session's SQLite copy, for tests that set the clock back
    _clients: list[httpx.Client] = field(default_factory=list, repr=False)

    @property
    def pbi_field_id(self) -> int:
        return self.custom_fields["PBI"]

    def api_key(self, user: str) -> str:
        return self.users[user].api_key

    def status_name(self, status_id: int) -> str:
        return next(name for name, sid in self.statuses.items() if sid == status_id)

    def client(self, user: str = BOT) -> httpx.Client:
        """An HTTP client that acts as `user` (closed at the end of the session)."""
        client = httpx.Client(
            base_url=self.url, headers={"X-Redmine-API-Key": self.api_key(user)}, timeout=30.0
        )
        self._clients.append(client)
        return client

    def _call(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(
            base_url=self.url, headers={"X-Redmine-API-Key": self.api_key(user)}, timeout=30.0
        ) as client:
            return client.request(method, path, **kwargs)

    def create_issue(
        self,
        subject: str,
        *,
        user: str = BOT,
        tracker: str = "Servis",
        status: str | None = None,
        parent_id: int | None = None,
        pbi: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an issue in project podpora as `user`; extra `fields` go into the body as is."""
        body: dict[str, Any] = {
            "project_id": self.project_id,
            "tracker_id": self.trackers[tracker],
            "subject": subject,
            **fields,
        }
        if status is not None:
            body["status_id"] = self.statuses[status]
        if parent_id is not None:
            body["parent_issue_id"] = parent_id
        if pbi is not None:
            body["custom_fields"] = [{"id": self.pbi_field_id, "value": pbi}]
        response = self._call(user, "POST", "/issues.json", json={"issue": body})
        if response.status_code != 201:
            raise AssertionError(f"creating {subject!r} as {user}: {response.status_code} {response.text}")
        return response.json()["issue"]

    def set_status(
        self,
        issue_id: int,
        status_name: str,
        user: str,
        notes: str | None = None,
        *,
        private_notes: bool = False,
    ) -> httpx.Response:
        """PUT the status as `user`. Redmine answers 204 even when its workflow drops the change."""
        body: dict[str, Any] = {"status_id": self.statuses[status_name]}
        if notes is not None:
            body["notes"] = notes
            body["private_notes"] = private_notes
        return self._call(user, "PUT", f"/issues/{issue_id}.json", json={"issue": body})

    def add_note(self, issue_id: int, notes: str, user: str, *, private: bool = False) -> httpx.Response:
        body = {"notes": notes, "private_notes": private}
        return self._call(user, "PUT", f"/issues/{issue_id}.json", json={"issue": body})

    def log_time(
        self,
        issue_id: int,
        hours: float,
        user: str,
        spent_on: str,
        *,
        activity_id: int | None = DEFAULT_ACTIVITY,
        comments: str = "",
    ) -> httpx.Response:
        """POST a time entry as `user`, by default in the configured activity; `activity_id=None`
        leaves the activity out of the request."""
        body: dict[str, Any] = {"issue_id": issue_id, "hours": hours, "spent_on": spent_on, "comments": comments}
        if activity_id == DEFAULT_ACTIVITY:
            body["activity_id"] = self.activity_id
        elif activity_id is not None:
            body["activity_id"] = activity_id
        return self._call(user, "POST", "/time_entries.json", json={"time_entry": body})

    def issue(self, issue_id: int, *, user: str = BOT, include: str = "journals") -> dict[str, Any]:
        """The issue as `user` reads it, with `include` (journals by default)."""
        response = self._call(user, "GET", f"/issues/{issue_id}.json", params={"include": include})
        if response.status_code != 200:
            raise AssertionError(f"reading issue {issue_id} as {user}: {response.status_code} {response.text}")
        return response.json()["issue"]

    def backdate(self, issue_id: int, days: float) -> None:
        """Move the issue's whole history `days` into the past (journals, creation, last
        update), as if it had been waiting that long: straight in the database, which
        Redmine reads on every request."""
        import sqlite3

        assert self.database is not None
        shift = f"-{days * 86400:.0f} seconds"
        with sqlite3.connect(self.database) as db:
            db.execute("UPDATE journals SET created_on = datetime(created_on, ?) "
                       "WHERE journalized_type = 'Issue' AND journalized_id = ?", (shift, issue_id))
            db.execute("UPDATE issues SET created_on = datetime(created_on, ?), "
                       "updated_on = datetime(updated_on, ?) WHERE id = ?", (shift, shift, issue_id))

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"real Redmine: {reason}", pytrace=False)
    pytest.skip(f"real Redmine: {reason}")


def ensure_installed() -> None:
    """Run scripts/ensure-redmine (quick when Redmine is already there)."""
    if os.geteuid() != 0:
        if not (REDMINE / "bin" / "rails").exists():
            raise RedmineUnavailable("Redmine is not installed and installing it needs root")
        raise RedmineUnavailable("Redmine runs as www-data here, which needs root")
    done = subprocess.run(
        [str(ROOT / "scripts" / "ensure-redmine")], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RedmineUnavailable(lines[-1] if lines else f"scripts/ensure-redmine exited {done.returncode}")


def installed_database() -> Path:
    """The SQLite file the package made and loaded Redmine's default data into."""
    for line in INSTANCE_DATABASE.read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition(":")
        if key == "database" and value.strip():
            return Path(value.strip())
    raise RedmineUnavailable(f"{INSTANCE_DATABASE} names no database")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for p in path.rglob("*"):
        shutil.chown(p, user, user)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class RedmineProcess:
    """One session's Redmine: its own directory (database copy, log, pid file) and server."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-redmine-"))
        self.database = self.dir / "redmine.db"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self, **more: str) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.dir),
            "LANG": "C.UTF-8",
            "RAILS_ENV": "production",
            "DATABASE_URL": f"sqlite3:{self.database}",
            # Unbuffered output, so that the log tail shown on failure is the whole story.
            "RUBYOPT": f"-r{self.dir / 'sync_output.rb'}",
            **self.extra_env,
            **more,
        }

    def prepare(self) -> None:
        shutil.copyfile(installed_database(), self.database)
        shutil.copyfile(HERE / "configure.rb", self.dir / "configure.rb")
        (self.dir / "sync_output.rb").write_text("STDOUT.sync = true\nSTDERR.sync = true\n", encoding="utf-8")
        for name in WORKFLOWS:
            shutil.copyfile(ROOT / "workflows" / name, self.dir / name)
        _chown_tree(self.dir, RUN_AS)

    def configure(self) -> dict[str, Any]:
        workflows = ":".join(str(self.dir / name) for name in WORKFLOWS)
        done = subprocess.run(
            ["bin/rails", "runner", str(self.dir / "configure.rb")],
            cwd=REDMINE,
            env=self.env(BRIDGE_WORKFLOWS=workflows),
            user=RUN_AS,
            group=RUN_AS,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=CONFIGURE_TIMEOUT,
        )
        for line in done.stdout.splitlines():
            if line.startswith("REDMINE-CONFIG "):
                return json.loads(line.removeprefix("REDMINE-CONFIG "))
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"configure.rb exited {done.returncode} without its result:\n{tail}")

    def start(self, bot_key: str) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["bin/rails", "server", "-u", "webrick", "-b", "127.0.0.1", "-p", str(self.port),
                 "-e", "production", "-P", str(self.dir / "server.pid")],
                cwd=REDMINE,
                env=self.env(RAILS_LOG_TO_STDOUT="1"),
                user=RUN_AS,
                group=RUN_AS,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        headers = {"X-Redmine-API-Key": bot_key}
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Redmine exited {self.proc.returncode} while starting; {self.log}:\n{_tail(self.log)}"
                )
            try:
                if httpx.get(f"{self.url}/users/current.json", headers=headers, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"Redmine did not answer on {self.url} within {START_TIMEOUT:.0f}s; {self.log}:\n{_tail(self.log)}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def install_plugin() -> None:
    """Put the test plugin among Redmine's plugins, replacing an older copy. It sends nothing
    unless its server has REDMINE_BRIDGE_HOOK_URL, so other Redmine users are not affected."""
    target = REDMINE / "plugins" / PLUGIN.name
    if _same_tree(PLUGIN, target):
        return
    target.parent.mkdir(exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{PLUGIN.name}-", dir=target.parent))
    shutil.copytree(PLUGIN, staged, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    staged.chmod(0o755)
    if target.exists():
        old = target.with_name(f".{PLUGIN.name}-old-{os.getpid()}")
        target.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    staged.rename(target)


def _same_tree(source: Path, target: Path) -> bool:
    if not target.is_dir():
        return False
    files = {p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    present = {p.relative_to(target) for p in target.rglob("*") if p.is_file()}
    return files == present and all((source / f).read_bytes() == (target / f).read_bytes() for f in files)


def _redmine_from(config: dict[str, Any], url: str, log: Path, hooks: HookRelay) -> RealRedmine:
    forbidden = config["forbidden_for_bot"]
    return RealRedmine(
        url=url,
        version=config["redmine_version"],
        project_id=config["project"]["id"],
        project=config["project"]["identifier"],
        trackers=config["trackers"],
        tracker_statuses=config["tracker_statuses"],
        statuses=config["statuses"],
        closed_statuses=frozenset(config["closed_statuses"]),
        users={
            login: RedmineUser(login=login, id=u["id"], api_key=u["api_key"], role=u["role"])
            for login, u in config["users"].items()
        },
        custom_fields=config["custom_fields"],
        activity_id=config["activity"]["id"],
        activities=config["activities"],
        forbidden_for_bot=Transition(
            tracker=forbidden["tracker"],
            tracker_id=forbidden["tracker_id"],
            from_status=forbidden["from"],
            from_id=forbidden["from_id"],
            to_status=forbidden["to"],
            to_id=forbidden["to_id"],
        ),
        log_path=log,
        hooks=hooks,
    )


def install_or_skip() -> None:
    """Have Redmine installed, or skip (fail under CI=true) saying why."""
    ci = os.environ.get("CI", "").lower() == "true"
    if os.environ.get("BRIDGE_TEST_REDMINE") == "0" and not ci:
        pytest.skip("real Redmine: BRIDGE_TEST_REDMINE=0")
    try:
        ensure_installed()
    except RedmineUnavailable as exc:
        _unavailable(str(exc))


@contextmanager
def running_redmine() -> Iterator[RealRedmine]:
    """A configured Redmine of its own (see RealRedmine), running as www-data until the block
    ends, then stopped and its database copy removed. Redmine must be installed
    (`ensure_installed`); RuntimeError where it does not configure or start."""
    install_plugin()
    hooks = HookRelay()
    process = RedmineProcess({HOOK_URL_VARIABLE: hooks.url})
    redmine: RealRedmine | None = None
    try:
        process.prepare()
        config = process.configure()
        redmine = _redmine_from(config, process.url, process.log, hooks)
        redmine.database = process.database
        process.start(redmine.api_key(BOT))
        yield redmine
    finally:
        if redmine is not None:
            redmine.close()
        process.stop()
        process.remove()
        hooks.close()


@pytest.fixture(scope="session")
def real_redmine() -> Iterator[RealRedmine]:
    """A configured Redmine of this session's own, running as www-data (see RealRedmine)."""
    install_or_skip()
    with running_redmine() as redmine:
        yield redmine
