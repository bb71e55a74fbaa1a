"""The real processes the end-to-end tests and the drills run: `bridge serve` (`Bridge`) and the
Jira stand-in (`Standin`, `python -m tests.standin`), talking over loopback HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = Path(sys.executable).with_name("bridge")
SECRET = "e2e-webhook-secret"
ADMIN = {"Authorization": "Bearer e2e-admin"}
CUSTOMER = {
    "accountId": "qm:1f0c2b7e-5c1a-4d8e-9b11-8a0c3e6d2f40:5e4f",
    "accountType": "customer",
    "displayName": "Jana Nováková",
}
TRANSITIONS = {
    "Na klientovi": [{"id": "21", "name": "Vrátit", "to": "Vráceno klientem"}, {"id": "22", "name": "Hotovo", "to": "Hotovo"}],
    "Hotovo": [{"id": "31", "name": "Zpět na klienta", "to": "Na klientovi"}],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 10.0, every: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(every)


class Bridge:
    """One `bridge serve` process with its own database and workflow folder."""

    def __init__(self, tmp: Path, jira: str | None, **env: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workflows = tmp / "workflows"
        if not self.workflows.exists():
            shutil.copytree(ROOT / "workflows", self.workflows)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
            "BRIDGE_DATABASE_URL": f"sqlite:///{tmp / 'bridge.db'}",
            "BRIDGE_WORKFLOWS_DIR": str(self.workflows),
            "BRIDGE_JIRA_WEBHOOK_SECRET": SECRET,
            "BRIDGE_ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
            "BRIDGE_TRACKER_BACKOFF_SECONDS": "0.05",
            "BRIDGE_TRACKER_ATTEMPTS": "3",
            "BRIDGE_TRACKER_RETRY_INTERVAL_SECONDS": "0.2",
            "BRIDGE_TRACKER_RETRY_INTERVAL_MAX_SECONDS": "1",
            "BRIDGE_WORKFLOWS_RELOAD_SECONDS": "0.2",
            **env,
        }
        if self.env.get("PYTHONPATH"):  # the service runs in `tmp`: the same code as the tests, not another copy
            self.env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in self.env["PYTHONPATH"].split(os.pathsep))
        if jira:
            self.env |= {"BRIDGE_JIRA_URL": jira, "BRIDGE_JIRA_USER": "bridge@example.com", "BRIDGE_JIRA_TOKEN": "api-token"}
        self.log = tmp / f"bridge-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, until: str = "/readyz") -> Bridge:
        """Start and wait until `until` answers 200 (`/healthz`: the process is up, whether
        or not it is ready)."""
        self.proc = subprocess.Popen(
            [str(BRIDGE), "serve", "--port", str(self.port)],
            cwd=self.tmp,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: self._answers(until), timeout=20)
        return self

    def _answers(self, path: str) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(f"bridge exited {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}{path}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def readyz(self) -> tuple[int, dict]:
        r = httpx.get(f"{self.url}/readyz", timeout=5)
        return r.status_code, r.json()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BRIDGE), *args], cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=60)

    def cli_json(self, *args: str) -> object:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def post(self, payload: dict | bytes, delivery_id: str, secret: str = SECRET) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": delivery_id, "Content-Type": "application/json"}
        return httpx.post(f"{self.url}/webhooks/jira", content=body, headers=headers, timeout=10)

    def api(self, path: str, **params: str) -> object:
        r = httpx.get(f"{self.url}{path}", params=params, headers=ADMIN, timeout=10)
        r.raise_for_status()
        return r.json()


def decided(bridge: Bridge, key: str, rule: str, timeout: float = 10) -> dict:
    """The decision on ticket `key` by `rule`, once its actions are settled (the last one's
    outcome is recorded as its delivery ends)."""
    return wait_until(lambda: next((d for d in bridge.api("/api/decisions", ticket=key) if d["rule"] == rule
                                    and all(a["outcome"] != "pending" for a in d["actions"])), None),
                      timeout=timeout)  # type: ignore[return-value]


class Standin:
    """The Jira stand-in as its own process; `control(method, path, payload)` drives it."""

    def __init__(self, credentials: str = "bridge@example.com:api-token") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.standin", "--port", "0", "--credentials", credentials],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = (self.proc.stdout.readline() if self.proc.stdout else "").strip()
        if not line.startswith("JIRA-STANDIN READY"):
            self.stop()
            raise AssertionError(f"the stand-in did not start: {line!r}")
        self.url = line.split()[-1]

    def control(self, method: str, path: str, payload: object = None) -> object:
        r = httpx.request(method, f"{self.url}/_standin{path}", json=payload, timeout=60)
        r.raise_for_status()
        return r.json() if r.content else None

    def reset(self) -> None:
        self.control("POST", "/reset", {"credentials": ["bridge@example.com:api-token"], "transitions": TRANSITIONS})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()
