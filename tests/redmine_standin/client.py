"""Driving the Redmine stand-in from a test: start the process, call its controls, call its
REST API as one of its users.

    with RedmineStandinProcess(key="bridge-key") as redmine:
        redmine.reset()
        ticket = redmine.seed_issues({"subject": "Faktura", "status": "Na klientovi"})[0]
        redmine.act(ticket["id"], user="zakaznik", status="Hotovo", notes="Hotovo, díky.")
        redmine.rest("GET", f"/issues/{ticket['id']}.json", user="bridgebot").json()
        redmine.calls_per_issue()

`Controls` alone drives a stand-in started some other way (its URL).
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from .__main__ import READY

ROOT = Path(__file__).resolve().parents[2]


class Controls:
    """The /_standin/ controls of a stand-in at `url`; each answers the control's JSON
    (None for 204) and raises httpx.HTTPStatusError on a refusal."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._keys: dict[str, str] = {}

    def control(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.http.request(method, f"/_standin{path}", json=payload)
        response.raise_for_status()
        return response.json() if response.content else None

    # --- seeding ---------------------------------------------------------------------------
    def reset(self, seed: dict[str, Any] | None = None) -> None:
        """The default seed, with `seed`'s sections in its place (see RedmineStandin.load)."""
        self._keys.clear()
        self.control("POST", "/reset", seed or {})

    def seed(self, document: dict[str, Any]) -> dict[str, list[int]]:
        """Add users, roles, memberships, statuses, trackers, projects, workflows, issues …"""
        self._keys.clear()
        return self.control("POST", "/seed", document)

    def state(self) -> dict[str, Any]:
        return self.control("GET", "/state")

    def workflow(self, tracker: str, role: str, transitions: dict[str, list[str]], replace: bool = True) -> Any:
        return self.control("POST", "/workflows", {"tracker": tracker, "role": role,
                                                   "transitions": transitions, "replace": replace})

    def seed_issues(self, *issues: dict[str, Any]) -> list[dict[str, Any]]:
        return self.control("POST", "/issues", list(issues))

    def bulk(self, count: int, **options: Any) -> dict[str, Any]:
        return self.control("POST", "/bulk", {"count": count, **options})

    def issue(self, ident: int) -> dict[str, Any]:
        return self.control("GET", f"/issues/{ident}")

    # --- people acting ---------------------------------------------------------------------
    def create(self, **data: Any) -> dict[str, Any]:
        return self.control("POST", "/create", data)

    def act(self, ident: int, **data: Any) -> dict[str, Any]:
        """user=, status=, notes=, private_notes=, fields={name: value}, priority=, force=, hook=, at="""
        return self.control("POST", f"/issues/{ident}/act", data)

    def attach(self, ident: int, filename: str, **data: Any) -> dict[str, Any]:
        return self.control("POST", f"/issues/{ident}/attachments", {"filename": filename, **data})

    def delete_attachment(self, ident: int, user: str = "resitel") -> dict[str, Any]:
        return self.control("DELETE", f"/attachments/{ident}", {"user": user})

    def log_time(self, ident: int, hours: float, **data: Any) -> dict[str, Any]:
        return self.control("POST", f"/issues/{ident}/time_entries", {"hours": hours, **data})

    def relate(self, ident: int, to: int, relation_type: str = "relates", **data: Any) -> dict[str, Any]:
        return self.control("POST", f"/issues/{ident}/relations",
                            {"issue_to_id": to, "relation_type": relation_type, **data})

    # --- webhooks, faults, calls -----------------------------------------------------------
    def webhook(self, url: str | None, **options: Any) -> Any:
        """form="plugin" (token=, token_in="path"|"header") or form="signed" (secret=)."""
        return self.control("POST", "/webhook", {"url": url, **options})

    def deliveries(self) -> list[dict[str, Any]]:
        return self.control("GET", "/webhook/deliveries")

    def clear_deliveries(self) -> None:
        self.control("DELETE", "/webhook/deliveries")

    def resend(self, index: int) -> dict[str, Any]:
        return self.control("POST", f"/webhook/deliveries/{index}/resend")

    def fault(self, path_regex: str, **fault: Any) -> list[dict[str, Any]]:
        """status=, page="login"|"proxy", times=, seconds=, retry_after=, delay_ms=, late_ms=, method="""
        return self.control("POST", "/faults", {"path_regex": path_regex, **fault})

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def calls(self) -> list[dict[str, Any]]:
        return self.control("GET", "/calls")

    def clear_calls(self) -> None:
        self.control("DELETE", "/calls")

    def calls_per_issue(self) -> Counter[int]:
        """REST calls that named one issue (`/issues/{id}…`), counted by issue."""
        counted: Counter[int] = Counter()
        for call in self.calls():
            parts = call["path"].split("/")
            if len(parts) > 2 and parts[1] == "issues":
                ident = parts[2].split(".")[0]
                if ident.isdigit():
                    counted[int(ident)] += 1
        return counted

    # --- REST as a user --------------------------------------------------------------------
    def key_of(self, login: str) -> str:
        if login not in self._keys:
            self._keys = {u["login"]: u["api_key"] for u in self.state()["users"]}
        return self._keys[login]

    def rest(self, method: str, path: str, user: str = "bridgebot", **request: Any) -> httpx.Response:
        """A REST call as `user`, with their API key."""
        headers = {"X-Redmine-API-Key": self.key_of(user), **request.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **request)

    def close(self) -> None:
        self.http.close()


class RedmineStandinProcess(Controls):
    """`python -m tests.redmine_standin` as a child process, its controls at hand."""

    def __init__(self, key: str | None = None, state_file: Path | None = None, host: str = "127.0.0.1",
                 startup_seconds: float = 20) -> None:
        command = [sys.executable, "-m", "tests.redmine_standin", "--host", host, "--port", "0"]
        if key:
            command += ["--key", key]
        if state_file:
            command += ["--state-file", str(state_file)]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], startup_seconds)
        line = self.process.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the Redmine stand-in did not start: {line!r}")
        super().__init__(line.split()[-1])

    def stop(self) -> None:
        if getattr(self, "http", None):
            self.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __enter__(self) -> RedmineStandinProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
