"""Access: every operations and billing endpoint the service describes in /openapi.json,
asked with no token, a wrong one (the real one with something after it) and the other role's;
then every log line, database row and export grepped for every secret configured.

What must hold: each such request is refused with 401, and no secret appears anywhere."""

from __future__ import annotations

import base64
import re
import time

import httpx
from sqlalchemy import inspect

from drills.table import Row
from drills.world import CUSTOMER, SECRET, Inbox, served, workdir
from tests.e2e.service import ADMIN, wait_until

ADMIN_TOKEN = ADMIN["Authorization"].split()[1]
FINANCE_TOKEN = "drill-finance-7c1f0e"
JIRA_TOKEN = "api-token"
SECRETS = {
    "admin token": ADMIN_TOKEN,
    "finance token": FINANCE_TOKEN,
    "webhook secret": SECRET,
    "Jira API token": JIRA_TOKEN,
    "Jira basic credentials": base64.b64encode(f"bridge@example.com:{JIRA_TOKEN}".encode()).decode(),
}
SIZES = {"long": 3, "short": 1}  # rounds of asking every endpoint


def operations(spec: dict) -> list[tuple[str, str]]:
    """(method, path with its parameters filled in) of every /api/ operation described."""
    found = []
    for path, methods in spec["paths"].items():
        if path.startswith("/api/"):
            for method in methods:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


def strangers(path: str) -> dict[str, dict[str, str]]:
    """The callers who must be refused: nobody, a near miss, and a token of the wrong kind."""
    callers = {
        "no token": {},
        "wrong token": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        "webhook secret as token": {"Authorization": f"Bearer {SECRET}"},
    }
    if not path.startswith("/api/billing/"):  # finance's token opens billing only; admin's opens all
        callers["finance token"] = {"Authorization": f"Bearer {FINANCE_TOKEN}"}
    return callers


def exposed(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def database_text(url: str) -> str:
    inbox = Inbox(url)
    try:
        tables = inspect(inbox.engine).get_table_names()
        parts = []
        for table in tables:
            for row in inbox.rows(f'SELECT * FROM "{table}"'):
                parts.append(" ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row))
        return "\n".join(parts)
    finally:
        inbox.close()


def access(size: str = "short", database: str = "sqlite") -> Row:
    row = Row("access + secrets", database)
    with workdir("access") as folder, served(folder, database, BRIDGE_LOG_LEVEL="DEBUG",
                                             BRIDGE_FINANCE_TOKEN=FINANCE_TOKEN) as (bridge, jira, url):
        assert jira is not None
        bridge.start()
        jira.control("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        jira.control("POST", "/issues", {"key": "SRV-1", "status": "Na klientovi", "project": "SRV"})
        jira.control("POST", "/issues/SRV-1/transition", {"to": "Hotovo", "user": CUSTOMER})
        spec = httpx.get(f"{bridge.url}/openapi.json", timeout=10).json()
        let_in: list[str] = []
        asked = 0
        for _ in range(SIZES[size]):
            for method, path in operations(spec):
                for who, headers in strangers(path).items():
                    asked += 1
                    status = httpx.request(method, f"{bridge.url}{path}", headers=headers,
                                           params={"month": "2026-10"}, timeout=30).status_code
                    if status != 401:
                        let_in.append(f"{method} {path} ({who}): {status}")
        # secrets offered where they do not belong: a webhook carrying tokens, a bad signature
        bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Bridge-Token": FINANCE_TOKEN}
        httpx.post(f"{bridge.url}/webhooks/jira", content=b"{}", timeout=10,
                   headers={**bearer, "X-Hub-Signature": f"sha256={SECRET}"})
        bridge.post({"webhookEvent": "x"}, "drill-bad-signature", secret=SECRET + "x")
        wait_until(lambda: jira.control("GET", "/issues/SRV-1")["comments"], timeout=20)  # type: ignore[index]
        exports = ""
        for fmt in ("csv", "json"):
            answer = httpx.get(f"{bridge.url}/api/billing/export", params={"month": "2026-10", "format": fmt},
                               headers={"Authorization": f"Bearer {FINANCE_TOKEN}"}, timeout=30)
            row.expect(answer.status_code == 200, f"the {fmt} export answered {answer.status_code}")
            exports += answer.text
        time.sleep(0.5)
        found = {
            "log": exposed(bridge.log.read_text("utf-8", "replace")),
            "database": exposed(database_text(url)),
            "exports": exposed(exports),
        }
        log_lines = len(bridge.log.read_text("utf-8", "replace").splitlines())
        row.figures = {
            "requests without the right token": asked, "let in": len(let_in),
            "secrets grepped": len(SECRETS), "log lines": log_lines,
            "secrets found": sum(len(v) for v in found.values()),
        }
        row.expect(not let_in, f"let in: {let_in[:5]}")
        row.expect(not any(found.values()), f"secrets found: { {k: v for k, v in found.items() if v} }")
    return row
