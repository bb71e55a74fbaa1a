"""Timer sweep benchmark: 10,000 tickets waiting for approval, 1 % of them past their 5 days.

Starts the Jira stand-in seeded with SRV-1..SRV-N in `Ke schválení`, each with the history
entry that moved it there (1 % six days ago, the rest one day ago), and runs
`bridge sweep timers` once as its own process (this build's, whatever BENCH_BRIDGE says). Reported: the sweep's wall time, the REST
calls it made (which must grow with search pages and with the tickets acted on, not with
every ticket), its peak RSS, and the tickets closed. The reference, measured in the same
run, is the least any sweep must do: paging through the same search with a plain HTTP
client.

    .venv/bin/python -m bench.timers [--tickets 10000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    JIRA_TOKEN,
    JIRA_USER,
    WORKFLOWS,
    BenchError,
    add_run_options,
    clean_env,
    finish_run,
    log,
    measured_cli,
    peak_rss_kb,
    start_standin,
    run_part,
)

TARGET_SECONDS, TARGET_RSS_MB = 30.0, 150.0
AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
TRANSITIONS = {"Ke schválení": [{"id": "71", "name": "Schválit", "to": "Schváleno"}],
               "Schváleno": [{"id": "81", "name": "Uzavřít", "to": "Hotovo"}]}
JQL = 'status in ("Ke schválení") AND issuetype in ("Servis") ORDER BY updated ASC, key ASC'


def seed(count: int, expired_every: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    issues = []
    for n in range(1, count + 1):
        entered = now - timedelta(days=6 if n % expired_every == 0 else 1)
        issues.append({
            "key": f"SRV-{n}", "id": str(100000 + n), "status": "Ke schválení", "project": "SRV",
            "issuetype": "Servis", "fields": {"summary": f"Bench ticket {n}"},
            "history": [{"from": "Realizace", "to": "Ke schválení", "at": entered.isoformat(), "by": AGENT}],
        })
    return {"deployment": "cloud", "credentials": [f"{JIRA_USER}:{JIRA_TOKEN}"],
            "transitions": TRANSITIONS, "issues": issues}


def reference(jira: str) -> dict[str, Any]:
    """Page through the search with a plain client: the floor of any sweep."""
    started, pages, seen = time.monotonic(), 0, 0
    with httpx.Client(base_url=jira, auth=(JIRA_USER, JIRA_TOKEN), timeout=60) as client:
        token: str | None = None
        while True:
            params = {"jql": JQL, "fields": "status,issuetype,project,updated", "expand": "changelog",
                      "maxResults": "100", **({"nextPageToken": token} if token else {})}
            page = client.get("/rest/api/3/search/jql", params=params).raise_for_status().json()
            pages, seen = pages + 1, seen + len(page["issues"])
            token = page.get("nextPageToken")
            if not token:
                break
    return {"seconds": round(time.monotonic() - started, 2), "pages": pages, "tickets": seen}


def run(*, tickets: int = 10000, expired_every: int = 100, log_level: str = "INFO",
        keep: bool = False, bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-timers-"))
    (tmp / "seed.json").write_text(json.dumps(seed(tickets, expired_every)), "utf-8")
    expected = tickets // expired_every
    results: dict[str, Any] = {"tickets": tickets, "expired": expected, "workdir": str(tmp)}
    ok = False
    try:
        standin, jira = start_standin(tmp, timeout=120)
        control = httpx.Client(base_url=f"{jira}/_standin", timeout=120)
        log(f"timers: reference, paging through {tickets} tickets")
        results["reference"] = reference(jira)
        control.delete("/calls").raise_for_status()

        log(f"timers: bridge sweep timers over {tickets} tickets, {expected} past their time")
        env = clean_env(BRIDGE_DATABASE_URL=f"sqlite:///{tmp / 'bridge.db'}",
                        BRIDGE_WORKFLOWS_DIR=str(WORKFLOWS), BRIDGE_LOG_LEVEL=log_level,
                        BRIDGE_JIRA_URL=jira, BRIDGE_JIRA_USER=JIRA_USER,
                        BRIDGE_JIRA_TOKEN=JIRA_TOKEN, **(bridge_env or {}))
        started = time.monotonic()
        done = subprocess.run(measured_cli("sweep", "timers"), cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - started
        peak_kb = peak_rss_kb(done.stderr)
        (tmp / "sweep.out").write_text(done.stdout + done.stderr, "utf-8")
        if done.returncode != 0:
            raise BenchError(f"bridge sweep timers exited {done.returncode}: {done.stderr[-500:]}")
        calls = control.get("/calls").raise_for_status().json()
        closed = sum(1 for n in range(expired_every, tickets + 1, expired_every)
                     if control.get(f"/issues/SRV-{n}").json()["status"] == "Hotovo")
        control.close()
        standin.stop()
        by_kind: dict[str, int] = {}
        for call in calls:
            kind = f"{call['method']} {call['path'].split('/rest/api/3/')[-1].split('/')[0]}"
            by_kind[kind] = by_kind.get(kind, 0) + 1
        results["sweep"] = {
            "seconds": round(seconds, 2), "requests": len(calls), "requests_by_kind": by_kind,
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "closed": closed, "summary": done.stdout.strip().splitlines()[-1:],
        }
        results["targets"] = {
            "seconds_below": TARGET_SECONDS, "rss_mb_below": TARGET_RSS_MB,
            "seconds_met": seconds < TARGET_SECONDS,
            "rss_met": (results["sweep"]["peak_rss_mb"] or 0) < TARGET_RSS_MB,
            "all_closed": closed == expected,
        }
        ok = True
        return results
    finally:
        finish_run("timers", tmp, results, ok=ok, keep=keep)


def report(results: dict[str, Any]) -> str:
    s, r, t = results["sweep"], results["reference"], results["targets"]
    return "\n".join([
        f"timers: {results['tickets']} tickets in Ke schválení, {results['expired']} past 5 days",
        f"  reference (paging the search): {r['seconds']} s, {r['pages']} pages",
        f"  bridge sweep timers: {s['seconds']} s, {s['requests']} requests {s['requests_by_kind']}, "
        f"peak RSS {s['peak_rss_mb']} MB, closed {s['closed']}",
        f"  targets: < {t['seconds_below']:.0f} s {'met' if t['seconds_met'] else 'MISSED'}, "
        f"< {t['rss_mb_below']:.0f} MB {'met' if t['rss_met'] else 'MISSED'}, "
        f"all closed {'yes' if t['all_closed'] else 'NO'}",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10000)
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {"tickets": args.tickets})


if __name__ == "__main__":
    main()
