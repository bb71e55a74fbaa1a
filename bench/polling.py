"""Polling benchmark: one reconcile pass over a Redmine without webhooks, 1 % of its issues changed.

Two Redmines, one after the other:

- **the Redmine stand-in** (`python -m tests.redmine_standin`) with 10,000 issues of tracker
  Servis in project podpora, 1 % of them (spread evenly) moved `Na klientovi → Hotovo` by the
  customer `zakaznik` five minutes ago, each in a journal; the rest untouched for a day;
- **the real Redmine** of the tests (`tests/redmine_real`, Debian's package, as root) with a few
  hundred such issues: one made through the REST API by the agent, the rest copied from it
  in Redmine's SQLite database (a second instead of ~0.1 s per REST create), all dated a day
  back; then 1 % moved by the customer through the REST API. Without root or apt the row is
  skipped, saying why.

The reconcile cursor is set ten minutes back, so a pass finds exactly the changed issues.
`bench/reconcile_pass.py` then runs two passes of `Jobs.reconcile` (the job `bridge serve`
polls with and `bridge sweep reconcile` runs) in one process built from the settings, each
timed alone: the pass over the changes, and right after it one with nothing new. Reported for
each: wall time, requests by kind (issue lists, one issue's reads, look-ups), requests per
changed issue, changes queued (which must equal the changed issues, and none in the quiet
pass: the part fails otherwise); the process's peak RSS. The stand-in's requests come from its
call log, the real Redmine's from the bridge's side (its transport notes each one).

The reference, measured in the same run, is the least any pass must do, with a plain httpx
client: the listing `GET /issues.json?updated_on=>=SINCE&status_id=*&limit=100` page by page,
then `GET /issues/{id}.json?include=journals` once per issue found.

    .venv/bin/python -m bench.polling [--issues 10000] [--changed 100] [--real-issues 300] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    HOST,
    PYTHON,
    WORKFLOWS,
    BenchError,
    Child,
    CpuWatch,
    add_run_options,
    clean_env,
    finish_run,
    log,
    our_pids,
    read_line,
    run_part,
)

KEY = "bench-redmine-key"  # the stand-in bot's API key
BEFORE, CHANGED_TO = "Na klientovi", "Hotovo"
CUSTOMER = "zakaznik"
CURSOR_BACK = timedelta(minutes=10)  # where the last pass ended
CHANGED_BACK = timedelta(minutes=5)  # when the customer moved the stand-in's issues
UNTOUCHED_BACK = timedelta(days=1)


def kinds(requests: list[dict[str, Any]]) -> dict[str, int]:
    """Requests as issue listings, one issue's reads and look-ups (users, trackers, statuses…)."""
    counted = {"list": 0, "issue": 0, "look_up": 0}
    for r in requests:
        parts = r["path"].split("/")
        if r["path"] == "/issues.json":
            counted["list"] += 1
        elif len(parts) == 3 and parts[1] == "issues" and parts[2].removesuffix(".json").isdigit():
            counted["issue"] += 1
        else:
            counted["look_up"] += 1
    return counted


def reference(url: str, key: str, since: datetime) -> dict[str, Any]:
    """The listing since `since` and one journal read per issue found, with a plain client."""
    query = {"updated_on": f">={since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}", "status_id": "*",
             "sort": "updated_on,id", "limit": "100"}
    started, pages, found = time.monotonic(), 0, []
    with httpx.Client(base_url=url, headers={"X-Redmine-API-Key": key}, timeout=60) as client:
        while True:
            page = client.get("/issues.json", params={**query, "offset": str(len(found))}).raise_for_status().json()
            pages += 1
            found += [issue["id"] for issue in page["issues"]]
            if not page["issues"] or len(found) >= page["total_count"]:
                break
        for ident in found:
            client.get(f"/issues/{ident}.json", params={"include": "journals"}).raise_for_status()
    return {"seconds": round(time.monotonic() - started, 3), "requests": pages + len(found),
            "list_requests": pages, "issue_requests": len(found), "issues": len(found)}


def warm_up(url: str, key: str, since: datetime) -> None:
    """Every kind of request a pass makes, once, unmeasured: a Redmine just started answers
    its first requests of a kind much slower (Rails loads and compiles on first use)."""
    with httpx.Client(base_url=url, headers={"X-Redmine-API-Key": key}, timeout=60) as client:
        for path in ("/users/current.json", "/trackers.json", "/issue_statuses.json"):
            client.get(path).raise_for_status()
    reference(url, key, since)


def passes(tmp: Path, url: str, key: str, cursor: datetime, *, log_level: str,
           bridge_env: dict[str, str] | None, tracker_pids: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Two reconcile passes in one process of their own (see bench/reconcile_pass.py).
    `tracker_pids`: the tracker's processes not started as a `Child` (their CPU is ours)."""
    env = clean_env(**{"BRIDGE_DATABASE_URL": f"sqlite:///{tmp / 'bridge.db'}",
                       "BRIDGE_WORKFLOWS_DIR": str(WORKFLOWS), "BRIDGE_LOG_LEVEL": log_level,
                       "BRIDGE_REDMINE_URL": url, "BRIDGE_REDMINE_API_KEY": key, **(bridge_env or {})})
    watch = CpuWatch()
    watch.start()
    started = time.monotonic()
    done = subprocess.run([PYTHON, "-m", "bench.reconcile_pass", "--site", "redmine", "--passes", "2",
                           "--cursor", cursor.isoformat()],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=600)
    seconds = time.monotonic() - started
    busy = watch.stop(our_pids() | tracker_pids)
    (tmp / "passes.out").write_text(done.stdout + done.stderr, "utf-8")
    if done.returncode != 0:
        raise BenchError(f"the reconcile passes exited {done.returncode}: {done.stderr[-800:]}")
    found = json.loads(done.stdout)
    return {"process_seconds": round(seconds, 2), "peak_rss_mb": round(found["peak_rss_kb"] / 1024, 1),
            "passes": found["passes"], "other_busy_processes": busy,
            "unaccounted_cpu_pct_of_a_core": watch.unaccounted_pct,
            "hypervisor_steal_pct_of_a_core": watch.steal_pct}


def figures(ran: dict[str, Any], changed: int, counted_by: list[list[dict[str, Any]]] | None) -> dict[str, Any]:
    """The passes' figures; `counted_by`: each pass's requests as the tracker logged them
    (default: as the bridge sent them)."""
    shown = []
    for n, p in enumerate(ran["passes"]):
        requests = counted_by[n] if counted_by is not None else p["requests"]
        by_kind = kinds(requests)
        shown.append({
            "seconds": round(p["seconds"], 3), "since": p["since"], "seen": p["seen"], "queued": p["queued"],
            "refused": p["refused"], "requests": len(requests), "requests_by_kind": by_kind,
            "bridge_sent": len(p["requests"]),
            "requests_per_changed_issue": round(len(requests) / changed, 2) if changed and n == 0 else None,
        })
    return {"changed_pass": shown[0], "quiet_pass": shown[1], "process_seconds": ran["process_seconds"],
            "peak_rss_mb": ran["peak_rss_mb"], "other_busy_processes": ran["other_busy_processes"],
            "unaccounted_cpu_pct_of_a_core": ran["unaccounted_cpu_pct_of_a_core"],
            "hypervisor_steal_pct_of_a_core": ran["hypervisor_steal_pct_of_a_core"]}


def checked(section: dict[str, Any], changed: int, where: str) -> dict[str, Any]:
    first, quiet = section["changed_pass"], section["quiet_pass"]
    section["all_queued"] = first["queued"] == changed and quiet["queued"] == 0
    if not section["all_queued"]:
        raise BenchError(f"{where}: the pass queued {first['queued']} changes of {changed} changed, "
                         f"the quiet pass {quiet['queued']} (none expected)")
    return section


# --- the stand-in ---------------------------------------------------------------------------
def start_redmine_standin(tmp: Path) -> tuple[Child, str]:
    from tests.redmine_standin.__main__ import READY

    child = Child("redmine stand-in", [PYTHON, "-m", "tests.redmine_standin", "--host", HOST, "--port", "0",
                                       "--key", KEY], log_path=tmp / "standin.log", stdout_pipe=True)
    line = read_line(child, timeout=60)
    if not line.startswith(READY):
        raise BenchError(f"unexpected first line from the Redmine stand-in: {line!r}")
    return child, line.split()[-1]


def standin_run(tmp: Path, issues: int, changed: int, *, log_level: str,
                bridge_env: dict[str, str] | None) -> dict[str, Any]:
    from tests.redmine_standin.client import Controls

    standin, url = start_redmine_standin(tmp)
    controls = Controls(url, timeout=120)
    try:
        now = datetime.now(UTC)
        made = controls.bulk(issues, project="podpora", tracker="Servis", status=BEFORE,
                             created_on=(now - UNTOUCHED_BACK).isoformat(),
                             changed={"count": changed, "status": CHANGED_TO, "user": CUSTOMER,
                                      "at": (now - CHANGED_BACK).isoformat()})
        if len(made["changed"]) != changed:
            raise BenchError(f"the stand-in changed {len(made['changed'])} issues, not {changed}")
        log(f"polling: stand-in, {issues} issues, {changed} changed by the customer; two passes")
        warm_up(url, KEY, now - CURSOR_BACK)
        controls.clear_calls()
        ran = passes(tmp, url, KEY, now - CURSOR_BACK, log_level=log_level, bridge_env=bridge_env)
        calls = controls.calls()
        logged = [[c for c in calls if p["started"] <= c["at"] <= p["ended"]] for p in ran["passes"]]
        section = figures(ran, changed, logged)
        section["requests_outside_passes"] = len(calls) - sum(map(len, logged))
        section["reference"] = reference(url, KEY, datetime.fromisoformat(ran["passes"][0]["since"]))
        section.update(issues=issues, changed=changed, requests_counted_by="the stand-in's call log")
        return checked(section, changed, "stand-in")
    finally:
        controls.close()
        standin.stop()


# --- the real Redmine -----------------------------------------------------------------------
def copy_issues(database: Path, template: int, copies: int, back: timedelta) -> list[int]:
    """`copies` issues like `template` (its row and custom values), straight into Redmine's
    database, then every issue dated `back` into the past. The new ids."""
    shift = f"-{back.total_seconds():.0f} seconds"
    columns = ("tracker_id, project_id, description, due_date, category_id, status_id, assigned_to_id, "
               "priority_id, fixed_version_id, author_id, lock_version, start_date, done_ratio, "
               "estimated_hours, lft, rgt, is_private")
    with sqlite3.connect(database, timeout=30) as db:
        made = []
        for n in range(copies):
            cursor = db.execute(
                f"INSERT INTO issues (subject, created_on, updated_on, {columns}) "
                f"SELECT ?, datetime('now', ?), datetime('now', ?), {columns} FROM issues WHERE id = ?",
                (f"Bench issue {n + 2}", shift, shift, template))
            made.append(cursor.lastrowid)
        db.executemany("UPDATE issues SET root_id = id WHERE id = ?", [(i,) for i in made])
        db.executemany("INSERT INTO custom_values (customized_type, customized_id, custom_field_id, value) "
                       "SELECT customized_type, ?, custom_field_id, value FROM custom_values "
                       "WHERE customized_type = 'Issue' AND customized_id = ?", [(i, template) for i in made])
        db.execute("UPDATE issues SET created_on = datetime('now', ?), updated_on = datetime('now', ?) "
                   "WHERE id = ?", (shift, shift, template))
    return made


def real_run(tmp: Path, issues: int, changed: int, *, log_level: str,
             bridge_env: dict[str, str] | None) -> dict[str, Any]:
    """The real Redmine's row, or why it was skipped."""
    from tests.redmine_real.server import RedmineUnavailable, ensure_installed, running_redmine

    try:
        ensure_installed()
    except RedmineUnavailable as exc:
        return {"skipped": str(exc)}
    with ExitStack() as stack:
        try:
            redmine = stack.enter_context(running_redmine())
        except RuntimeError as exc:  # it would not configure or start
            return {"skipped": f"Redmine did not start: {str(exc).splitlines()[0]}"}
        return _on_real(redmine, tmp, issues, changed, log_level=log_level, bridge_env=bridge_env)


def server_pids(pid_file: Path) -> frozenset[int]:
    """The rails server's pid (from the pid file it writes) and its children's."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return frozenset()
    children = Path(f"/proc/{pid}/task/{pid}/children")
    more = children.read_text().split() if children.exists() else []
    return frozenset({pid, *map(int, more)})


def _on_real(redmine: Any, tmp: Path, issues: int, changed: int, *, log_level: str,
             bridge_env: dict[str, str] | None) -> dict[str, Any]:
    started = time.monotonic()
    template = redmine.create_issue("Bench issue 1", user="resitel", status=BEFORE)["id"]
    ids = [template, *copy_issues(redmine.database, template, issues - 1, UNTOUCHED_BACK)]
    made_in = round(time.monotonic() - started, 2)
    cursor = datetime.now(UTC) - CURSOR_BACK
    every = max(issues // max(changed, 1), 1)
    for ident in ids[::every][:changed]:
        answer = redmine.set_status(ident, CHANGED_TO, CUSTOMER, notes="Hotovo, díky.")
        if answer.status_code != 204 or redmine.issue(ident, include="")["status"]["name"] != CHANGED_TO:
            raise BenchError(f"real Redmine: the customer could not move #{ident}: {answer.status_code}")
    time.sleep(2.5)  # the quiet pass reads back 1 s before the first pass began (whole seconds)
    log(f"polling: real Redmine {redmine.version}, {issues} issues, {changed} changed by the customer; two passes")
    key = redmine.api_key("bridge-bot")
    warm_up(redmine.url, key, cursor)
    ran = passes(tmp, redmine.url, key, cursor, log_level=log_level, bridge_env=bridge_env,
                 tracker_pids=server_pids(redmine.log_path.parent / "server.pid"))
    section = figures(ran, changed, None)
    section["reference"] = reference(redmine.url, key, datetime.fromisoformat(ran["passes"][0]["since"]))
    section.update(issues=issues, changed=changed, redmine_version=redmine.version,
                   issues_made_in_seconds=made_in,
                   issues_made_by="one through the REST API as the agent, the rest copied from it in SQLite",
                   requests_counted_by="the bridge's transport")
    return checked(section, changed, "real Redmine")


def run(*, issues: int = 10000, changed: int = 100, real_issues: int = 300, real_changed: int = 3,
        log_level: str = "WARNING", keep: bool = False, bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    """`real_issues=0`: the stand-in alone."""
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-polling-"))
    results: dict[str, Any] = {"workdir": str(tmp)}
    ok = False
    try:
        (tmp / "standin").mkdir()
        results["standin"] = standin_run(tmp / "standin", issues, changed, log_level=log_level,
                                         bridge_env=bridge_env)
        if real_issues:
            (tmp / "real").mkdir()
            results["real_redmine"] = real_run(tmp / "real", real_issues, real_changed, log_level=log_level,
                                               bridge_env=bridge_env)
            if "skipped" in results["real_redmine"]:
                log(f"polling: the real-Redmine row is skipped: {results['real_redmine']['skipped']}")
        else:
            results["real_redmine"] = {"skipped": "not asked for (no issues)"}
        results["other_busy_processes"] = sorted({p for name in ("standin", "real_redmine")
                                                  for p in results[name].get("other_busy_processes", [])})
        ok = True
        return results
    finally:
        finish_run("polling", tmp, results, ok=ok, keep=keep)


def _pass_line(p: dict[str, Any]) -> str:
    k = p["requests_by_kind"]
    return (f"{p['seconds']} s, {p['requests']} requests ({k['list']} list, {k['issue']} per-issue, "
            f"{k['look_up']} look-ups), {p['seen']} tickets seen, {p['queued']} queued")


def report(results: dict[str, Any]) -> str:
    lines = []
    for name, title in (("standin", "Redmine stand-in"), ("real_redmine", "real Redmine")):
        s = results.get(name)
        if s is None:
            continue
        if "skipped" in s:
            lines.append(f"polling, {title}: skipped ({s['skipped']})")
            continue
        r, first = s["reference"], s["changed_pass"]
        lines += [
            f"polling, {title}{' ' + s['redmine_version'] if 'redmine_version' in s else ''}: "
            f"{s['issues']} issues, {s['changed']} changed by the customer (requests: {s['requests_counted_by']})",
            f"  reference (listing + one journal read each): {r['seconds']} s, {r['requests']} requests "
            f"({r['list_requests']} list, {r['issue_requests']} per-issue)",
            f"  pass over the changes: {_pass_line(first)}; "
            f"{first['requests_per_changed_issue']} requests per changed issue",
            f"  quiet pass right after: {_pass_line(s['quiet_pass'])}",
            *([f"  issues made in {s['issues_made_in_seconds']} s: {s['issues_made_by']}"]
              if "issues_made_by" in s else []),
            f"  process: {s['process_seconds']} s in all, peak RSS {s['peak_rss_mb']} MB; "
            f"queued = changed: {'yes' if s['all_queued'] else 'NO'}",
        ]
    return "\n".join(lines)


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The part's rows in `python -m bench`'s summary table (no target given: "—")."""
    rows = []
    for name, label in (("standin", "polling stand-in"), ("real_redmine", "polling real Redmine")):
        s = results.get(name)
        if s is None:
            continue
        if "skipped" in s:
            rows.append((label, f"skipped: {s['skipped']}", "—", "skipped"))
            continue
        first, quiet, r = s["changed_pass"], s["quiet_pass"], s["reference"]
        k = first["requests_by_kind"]
        rows += [
            (f"{label} pass, {s['changed']} of {s['issues']} changed",
             f"{first['seconds']} s, {first['requests']} requests ({k['list']} list, {k['issue']} per-issue, "
             f"{k['look_up']} look-ups)", "—", ""),
            (f"{label} requests per changed issue",
             f"{first['requests_per_changed_issue']} (reference {round(r['requests'] / s['changed'], 2)})", "—", ""),
            (f"{label} reference (bare httpx)", f"{r['seconds']} s, {r['requests']} requests", "", ""),
            (f"{label} quiet pass", f"{quiet['seconds']} s, {quiet['requests']} requests "
             f"({quiet['requests_by_kind']['list']} list)", "—", ""),
            (f"{label} queued / changed", f"{first['queued']} / {s['changed']}", "all",
             "ok" if s["all_queued"] else "MISSING"),
            (f"{label} peak RSS", f"{s['peak_rss_mb']} MB", "—", ""),
        ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.polling", description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10000, help="issues in the stand-in")
    parser.add_argument("--changed", type=int, default=100, help="of them changed since the last pass")
    parser.add_argument("--real-issues", type=int, default=300, help="issues in the real Redmine; 0: skip it")
    parser.add_argument("--real-changed", type=int, default=3)
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {
        "issues": args.issues, "changed": args.changed, "real_issues": args.real_issues,
        "real_changed": args.real_changed})


if __name__ == "__main__":
    main()
