"""Billing export benchmark: a month of 10,000 done service sheets with 100,000 worklogs.

Starts the Jira stand-in seeded with SRV-1..SRV-N, each of type Servis in Hotovo, whose
history went through `Ke schválení` → `Schváleno` → `Hotovo` within last month, with 10
worklogs each. The bridge sees only the service-sheet workflow (the stand-in has none of the
other workflows' statuses). Each export is `bridge export billing` as its own process, on
one SQLite file, in this order:

- a preview as CSV, then as XLSX (both read the tracker, record nothing);
- a final run as CSV (reads the tracker, records the run in the ledger, writes it back);
- that run again as XLSX (`--run ID`: the ledger alone, no tracker call).

Reported for each: wall time, the REST calls the stand-in received, the process's peak RSS,
and the rows and hours in the file written (checked against the seed). The reference,
measured in the same run, is the least any export must do: paging through the same search,
with the same fields, with a plain HTTP client.

    .venv/bin/python -m bench.billing [--tickets 10000] [--worklogs 10] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench.common import (
    JIRA_TOKEN,
    JIRA_USER,
    WORKFLOWS,
    BenchError,
    CpuWatch,
    add_run_options,
    clean_env,
    finish_run,
    log,
    measured_cli,
    peak_rss_kb,
    our_pids,
    start_standin,
    run_part,
)

TARGET_SECONDS, TARGET_RSS_MB = 20.0, 150.0
ZONE = ZoneInfo("Europe/Prague")  # the bridge's default BRIDGE_TIMEZONE
AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
# the bridge's own account, as the stand-in knows it: its moves are the timer's approvals
BRIDGE_ACCOUNT = {"accountId": "5f2a9c0d1e7b4a00694b7e21", "accountType": "atlassian",
                  "displayName": "Ticket Bridge"}
CUSTOMERS = [{"accountId": f"qm:bench-customer-{n}", "accountType": "customer",
              "displayName": f"Zákazník {n}", "emailAddress": f"zakaznik{n}@example.cz"}
             for n in range(1, 51)]
ORGANIZATIONS = [f"Organizace č. {n} s.r.o." for n in range(1, 21)]
COMMENTS = ("analýza požadavku", "úprava tiskové sestavy", "test na kopii produkce",
            "konzultace s klientem", "nasazení a kontrola")
WORKLOG_SECONDS = (900, 1800, 2700, 3600)
# the search `bridge export billing` makes for the service sheet (as the stand-in logged it)
FIELDS = "status,issuetype,project,updated,summary,reporter,worklog,customfield_10002"


def last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def seed(count: int, per_ticket: int, month: date) -> dict[str, Any]:
    """Tickets done within `month`, 10:00 Prague time on days 1..27; 1 % approved by the
    bridge's timer, the rest by a customer."""
    issues = []
    for n in range(1, count + 1):
        day = datetime(month.year, month.month, 1 + n % 25, 10, tzinfo=ZONE)
        approver = BRIDGE_ACCOUNT if n % 100 == 0 else CUSTOMERS[n % len(CUSTOMERS)]
        history = [
            {"from": "Nový", "to": "Realizace", "at": day.isoformat(), "by": AGENT},
            {"from": "Realizace", "to": "Ke schválení", "at": (day + timedelta(days=1)).isoformat(), "by": AGENT},
            {"from": "Ke schválení", "to": "Schváleno", "at": (day + timedelta(days=2)).isoformat(), "by": approver},
            {"from": "Schváleno", "to": "Hotovo", "at": (day + timedelta(days=2, minutes=5)).isoformat(),
             "by": AGENT},
        ]
        worklogs = [{"started": (day + timedelta(hours=w)).isoformat(), "seconds": worklog_seconds(n, w),
                     "comment": COMMENTS[w % len(COMMENTS)], "by": AGENT} for w in range(per_ticket)]
        issues.append({
            "key": f"SRV-{n}", "id": str(100000 + n), "status": "Hotovo", "project": "SRV",
            "issuetype": "Servis", "fields": {"summary": f"Servisní list {n}: úprava sestavy"},
            "history": history, "worklogs": worklogs, "reporter": CUSTOMERS[n % len(CUSTOMERS)],
            "organizations": [ORGANIZATIONS[n % len(ORGANIZATIONS)]],
        })
    return {"deployment": "cloud", "credentials": [f"{JIRA_USER}:{JIRA_TOKEN}"],
            "users": CUSTOMERS, "issues": issues}


def worklog_seconds(ticket: int, index: int) -> int:
    return WORKLOG_SECONDS[(ticket + index) % len(WORKLOG_SECONDS)]


def jql(month: date) -> str:
    """The bridge's JQL: from the month's start in UTC, less the 12 h it allows for Jira
    reading the date in another zone."""
    since = datetime.combine(month, datetime.min.time(), ZONE).astimezone(UTC) - timedelta(hours=12)
    return (f'status in ("Hotovo") AND issuetype in ("Servis") AND updated >= "{since:%Y/%m/%d %H:%M}" '
            f"ORDER BY updated ASC, key ASC")


def reference(jira: str, query: str) -> dict[str, Any]:
    """Page through the search with a plain client: the floor of any export."""
    started, pages, seen, worklogs = time.monotonic(), 0, 0, 0
    with httpx.Client(base_url=jira, auth=(JIRA_USER, JIRA_TOKEN), timeout=60) as client:
        token: str | None = None
        while True:
            params = {"jql": query, "fields": FIELDS, "expand": "changelog", "maxResults": "100",
                      **({"nextPageToken": token} if token else {})}
            page = client.get("/rest/api/3/search/jql", params=params).raise_for_status().json()
            pages, seen = pages + 1, seen + len(page["issues"])
            worklogs += sum(len(i["fields"]["worklog"]["worklogs"]) for i in page["issues"])
            token = page.get("nextPageToken")
            if not token:
                break
    return {"seconds": round(time.monotonic() - started, 2), "pages": pages, "tickets": seen,
            "worklogs": worklogs}


def counted(path: Path, fmt: str) -> tuple[int, Decimal]:
    """The data rows in an export at ticket granularity and the hours they add up to."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        return len(rows), sum((Decimal(r["hours"]) for r in rows), Decimal(0))
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    values = book["Billing"].values
    at = next(values).index("hours")
    found, total = 0, Decimal(0)
    for row in values:
        if row[0] == "Total":
            break
        found, total = found + 1, total + Decimal(str(row[at]))
    book.close()
    return found, total


def export(name: str, args: list[str], *, tmp: Path, env: dict[str, str],
           control: httpx.Client) -> dict[str, Any]:
    """One `bridge export billing` process: its wall time, requests, peak RSS and output."""
    control.delete("/calls").raise_for_status()
    watch = CpuWatch()
    watch.start()
    started = time.monotonic()
    done = subprocess.run(measured_cli("export", "billing", *args), cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    busy = watch.stop(our_pids())
    (tmp / f"{name}.out").write_text(done.stdout + done.stderr, "utf-8")
    if done.returncode != 0:
        raise BenchError(f"bridge export billing {' '.join(args)} exited {done.returncode}: "
                         f"{done.stderr[-500:]}")
    peak_kb = peak_rss_kb(done.stderr)
    by_kind: dict[str, int] = {}
    for call in control.get("/calls").raise_for_status().json():
        kind = f"{call['method']} {call['path'].split('/rest/api/3/')[-1]}"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    said = [line for line in done.stderr.splitlines() if line and not line.startswith("PEAK_RSS_KB")]
    return {"seconds": round(seconds, 2), "requests": sum(by_kind.values()), "requests_by_kind": by_kind,
            "peak_rss_mb": round(peak_kb / 1024, 1), "summary": said[-1:],
            "other_busy_processes": busy}


def run(*, tickets: int = 10000, worklogs: int = 10, log_level: str = "WARNING",
        keep: bool = False, bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-billing-"))
    month = last_month(datetime.now(ZONE).date())
    (tmp / "seed.json").write_text(json.dumps(seed(tickets, worklogs, month)), "utf-8")
    # the service sheet alone: the stand-in has none of the other workflows' statuses
    (tmp / "workflows").mkdir()
    (tmp / "workflows" / "service-sheet.yaml").write_text(
        (WORKFLOWS / "service-sheet.yaml").read_text("utf-8"), "utf-8")
    expected_seconds = sum(worklog_seconds(n, w) for n in range(1, tickets + 1) for w in range(worklogs))
    expected_hours = Decimal(expected_seconds) / 3600
    results: dict[str, Any] = {"tickets": tickets, "worklogs": tickets * worklogs,
                               "month": f"{month:%Y-%m}", "expected_hours": f"{expected_hours:.2f}",
                               "workdir": str(tmp)}
    ok = False
    try:
        standin, jira = start_standin(tmp, timeout=300)
        control = httpx.Client(base_url=f"{jira}/_standin", timeout=120)
        log(f"billing: reference, paging through {tickets} tickets")
        results["reference"] = reference(jira, jql(month))

        env = clean_env(BRIDGE_DATABASE_URL=f"sqlite:///{tmp / 'bridge.db'}",
                        BRIDGE_WORKFLOWS_DIR=str(tmp / "workflows"), BRIDGE_LOG_LEVEL=log_level,
                        BRIDGE_JIRA_URL=jira, BRIDGE_JIRA_USER=JIRA_USER,
                        BRIDGE_JIRA_TOKEN=JIRA_TOKEN, **(bridge_env or {}))
        runs = [
            ("preview_csv", "csv", ["--month", f"{month:%Y-%m}", "--format", "csv"]),
            ("preview_xlsx", "xlsx", ["--month", f"{month:%Y-%m}", "--format", "xlsx"]),
            ("final_csv", "csv", ["--month", f"{month:%Y-%m}", "--format", "csv", "--final"]),
            ("again_xlsx", "xlsx", ["--run", "1", "--format", "xlsx"]),
        ]
        exports: dict[str, Any] = {}
        for name, fmt, args in runs:
            log(f"billing: bridge export billing {' '.join(args)}")
            target = tmp / f"{name}.{fmt}"
            exports[name] = export(name, [*args, "-o", str(target)], tmp=tmp, env=env, control=control)
            rows, hours = counted(target, fmt)
            exports[name].update(rows=rows, hours=str(hours), bytes=target.stat().st_size,
                                 complete=rows == tickets and hours == expected_hours)
        control.close()
        standin.stop()
        results["exports"] = exports
        results["other_busy_processes"] = sorted({p for e in exports.values() for p in e["other_busy_processes"]})
        results["targets"] = {
            "seconds_below": TARGET_SECONDS, "rss_mb_below": TARGET_RSS_MB,
            "seconds_met": all(e["seconds"] < TARGET_SECONDS for e in exports.values()),
            "rss_met": all(0 < e["peak_rss_mb"] < TARGET_RSS_MB for e in exports.values()),
            "all_rows": all(e["complete"] for e in exports.values()),
        }
        ok = True
        return results
    finally:
        finish_run("billing", tmp, results, ok=ok, keep=keep)


def report(results: dict[str, Any]) -> str:
    r, t = results["reference"], results["targets"]
    lines = [
        f"billing: {results['tickets']} done tickets, {results['worklogs']} worklogs, month "
        f"{results['month']} ({results['expected_hours']} h)",
        f"  reference (paging the search): {r['seconds']} s, {r['pages']} pages, "
        f"{r['tickets']} tickets, {r['worklogs']} worklogs",
    ]
    for name, e in results["exports"].items():
        lines.append(f"  {name}: {e['seconds']} s, {e['requests']} requests {e['requests_by_kind']}, "
                     f"peak RSS {e['peak_rss_mb']} MB, {e['rows']} rows, {e['hours']} h"
                     f"{'' if e['complete'] else ' INCOMPLETE'}")
    lines.append(f"  targets (each export): < {t['seconds_below']:.0f} s "
                 f"{'met' if t['seconds_met'] else 'MISSED'}, < {t['rss_mb_below']:.0f} MB "
                 f"{'met' if t['rss_met'] else 'MISSED'}, every row {'yes' if t['all_rows'] else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.billing", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10000)
    parser.add_argument("--worklogs", type=int, default=10, help="worklogs on each ticket (≤ 20: the search brings them)")
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {"tickets": args.tickets, "worklogs": args.worklogs})


if __name__ == "__main__":
    main()
