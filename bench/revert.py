"""Revert benchmark: how soon a customer's forbidden move is undone, at a steady 200/s.

Starts the Jira stand-in (`python -m tests.standin`) seeded with tickets SRV-1..SRV-N (type
Servis, project SRV, status Hotovo, transition 31 "Zpět na klienta" → Na klientovi), and the
bridge pointed at it. A separate load-generator process (bench/loadgen.py) sends
`customer_forbidden_transition.json` deliveries, one distinct ticket each, signed, with unique
ids, open-loop at a steady rate. For every delivery the revert latency is the time from
sending it to the stand-in receiving `POST /rest/api/3/issue/<key>/transitions`: the
generator and the stand-in both timestamp with time.monotonic() (CLOCK_MONOTONIC, one clock
for the whole machine on Linux), the stand-in in its call log (`GET /_standin/calls`, `at`).

    .venv/bin/python -m bench.revert [--rate 200] [--duration 20] [--keep]
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    add_run_options,
    run_part,
    finish_run,
    JIRA_TOKEN, JIRA_USER, PYTHON, SECRET, BenchError, CpuWatch,
    log, our_pids, percentile, start_jira_bridge, start_standin, wait_until,
)

TARGET_P99_MS = 250.0
WARMUP_RATE, WARMUP_SECONDS = 50, 1.0
TRANSITIONS = {
    "Hotovo": [{"id": "31", "name": "Zpět na klienta", "to": "Na klientovi"}],
    "Na klientovi": [{"id": "22", "name": "Hotovo", "to": "Hotovo"},
                     {"id": "21", "name": "Vrátit", "to": "Vráceno klientem"}],
}
TRANSITION_PATH = re.compile(r"/rest/api/[23]/issue/([^/]+)/transitions$")
ISSUE_PATH = re.compile(r"/rest/api/[23]/issue/([^/]+)$")
COMMENT_PATH = re.compile(r"/rest/api/[23]/issue/([^/]+)/comment$")


def seed(count: int) -> dict[str, Any]:
    issues = [{"key": f"SRV-{n}", "id": str(100000 + n), "status": "Hotovo", "project": "SRV",
               "issuetype": "Servis", "fields": {"summary": f"Bench ticket {n}"}}
              for n in range(1, count + 1)]
    return {"deployment": "cloud", "credentials": [f"{JIRA_USER}:{JIRA_TOKEN}"],
            "transitions": TRANSITIONS, "issues": issues}


def backlog(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'processing')").fetchone()
    return int(n)


def states(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())


def loadgen(tmp: Path, url: str, *, rate: float, seconds: float, first: int, prefix: str,
            out: str) -> dict[str, Any]:
    """Run bench/loadgen.py as its own process; its records."""
    target = tmp / out
    argv = [PYTHON, "-m", "bench.loadgen", "--url", url, "--secret", SECRET, "--rate", str(rate),
            "--duration", str(seconds), "--first", str(first), "--id-prefix", prefix,
            "--out", str(target)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90, check=False)
    if done.returncode != 0:
        raise BenchError(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    return json.loads(target.read_text("utf-8"))


def ms(values: list[float], unseen: int = 0) -> dict[str, float | None]:
    """Percentiles in ms; `unseen` events that never happened count as infinitely late
    (shown as None, "> cap" in the report), so a backlog cannot flatter the figures."""
    values = sorted(values) + [float("inf")] * unseen

    def at(pct: float) -> float | None:
        v = percentile(values, pct)
        return None if v is None or v == float("inf") else round(v * 1000, 1)

    return {"p50_ms": at(50), "p90_ms": at(90), "p99_ms": at(99), "max_ms": at(100)}


def analyse(sent: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
    records = sent["records"]
    by_key = {r["key"]: r for r in records}
    first_transition: dict[str, dict[str, Any]] = {}
    first_read: dict[str, float] = {}
    transitions_per_key: dict[str, int] = {}
    comments = 0
    failed_calls = 0
    for call in calls:
        path = call["path"]
        if call.get("status") is not None and call["status"] >= 400:
            failed_calls += 1
        if call["method"] == "POST" and (m := TRANSITION_PATH.search(path)):
            key = m[1]
            transitions_per_key[key] = transitions_per_key.get(key, 0) + 1
            first_transition.setdefault(key, call)
        elif call["method"] == "GET" and (m := ISSUE_PATH.search(path)):
            first_read.setdefault(m[1], call["at"])
        elif call["method"] == "POST" and COMMENT_PATH.search(path):
            comments += 1
    accepted = [r for r in records if r["status"] == 200]
    latencies, pickup, act = [], [], []
    for r in accepted:
        call = first_transition.get(r["key"])
        if call is None:
            continue
        latencies.append(call["at"] - r["sent"])
        if r["key"] in first_read:
            pickup.append(first_read[r["key"]] - r["sent"])
            act.append(call["at"] - first_read[r["key"]])
    answered = [r["answered"] - r["sent"] for r in accepted]
    slip = [r["sent"] - r["due"] for r in records if r["sent"] is not None]
    last_sent = max((r["sent"] for r in records if r["sent"] is not None), default=0.0)
    first_sent = min((r["sent"] for r in records if r["sent"] is not None), default=0.0)
    return {
        "deliveries_sent": len(records),
        "accepted_200": len(accepted),
        "not_accepted": sum(1 for r in records if r["status"] != 200),
        "send_errors": sorted({r["error"] for r in records if r.get("error")})[:5],
        "achieved_rate_per_s": round((len(records) - 1) / (last_sent - first_sent), 1)
        if last_sent > first_sent else None,
        "reverts_seen": len(latencies),
        "reverts_missing": len(accepted) - len(latencies),
        "reverts_for_unknown_tickets": len(set(first_transition) - set(by_key)),
        "duplicate_transition_posts": sum(n - 1 for n in transitions_per_key.values() if n > 1),
        "comment_posts": comments,
        "tracker_calls": len(calls),
        "tracker_calls_failed": failed_calls,
        "revert_latency": ms(latencies, unseen=len(accepted) - len(latencies)),
        "send_to_reread": ms(pickup),
        "reread_to_transition": ms(act),
        "delivery_answer_latency": ms(answered),
        "schedule_slip": ms(slip),
        "connections_opened": sent.get("connections_opened"),
        "resent_on_new_connection": sent.get("resent_on_new_connection"),
    }


def run(*, rate: float = 200, seconds: float = 20, settle: float = 30, log_level: str = "INFO",
        keep: bool = False, bridge_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`settle`: how long after the last delivery reverts are still waited for; any not seen
    by then count as missing (and as infinitely late in the percentiles)."""
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-revert-"))
    count = max(1, round(rate * seconds))
    warm_count = max(1, round(WARMUP_RATE * WARMUP_SECONDS))
    (tmp / "seed.json").write_text(json.dumps(seed(count + warm_count)), "utf-8")
    results: dict[str, Any] = {
        "load": {"tool": "bench/loadgen.py (open loop, own process)", "rate_per_s": rate,
                 "settle_seconds": settle,
                 "seconds": seconds, "tickets": count, "body": "customer_forbidden_transition.json",
                 "log_level": log_level, "extra_env": bridge_env or {},
                 "standin": "tests.standin"},
        "workdir": str(tmp),
    }
    ok = False
    try:
        standin, jira = start_standin(tmp, timeout=30)
        bridge, db, url = start_jira_bridge(tmp, jira, log_level=log_level, bridge_env=bridge_env)
        control = httpx.Client(base_url=f"{jira}/_standin", timeout=60)

        # warm-up on tickets the measurement does not use, then forget its calls
        log(f"revert: warm-up {WARMUP_SECONDS:.0f}s at {WARMUP_RATE}/s")
        loadgen(tmp, url, rate=WARMUP_RATE, seconds=WARMUP_SECONDS, first=count + 1,
                prefix="warm", out="warmup.json")
        wait_until(lambda: backlog(db) == 0, timeout=30, what="the warm-up being processed",
                   child=bridge)
        control.delete("/calls").raise_for_status()

        log(f"revert: {rate:.0f} deliveries/s for {seconds:.0f}s ({count} tickets)")
        watch = CpuWatch()
        watch.start()
        cpu = {"bridge": bridge.cpu_seconds(), "standin": standin.cpu_seconds()}
        sent = loadgen(tmp, url, rate=rate, seconds=seconds, first=1, prefix="run",
                       out="sent.json")
        load_ended = time.monotonic()
        backlog_at_end = backlog(db)
        try:
            wait_until(lambda: backlog(db) == 0, timeout=settle, what="the bridge finishing",
                       child=bridge, every=0.2)
            drained_s: float | None = round(time.monotonic() - load_ended, 2)
        except BenchError:
            drained_s = None
            log(f"warning: the bridge had not finished {settle:.0f}s after the load; "
                f"{backlog(db)} deliveries still pending")
        cpu = {"bridge": bridge.cpu_seconds() - cpu["bridge"],
               "standin": standin.cpu_seconds() - cpu["standin"]}
        busy = watch.stop(our_pids())
        if busy:
            log(f"warning: other processes were busy during the revert run: {', '.join(busy)}")
        calls = control.get("/calls").raise_for_status().json()
        control.close()
        bridge.check_alive()
        standin.check_alive()
        results.update(analyse(sent, calls))
        results["bridge_backlog_when_load_ended"] = backlog_at_end
        results["seconds_to_finish_after_load"] = drained_s
        results["settle_cap_seconds"] = settle
        results["bridge_deliveries_by_state"] = states(db)
        results["other_busy_processes"] = busy
        results["unaccounted_cpu_pct_of_a_core"] = watch.unaccounted_pct
        results["hypervisor_steal_pct_of_a_core"] = watch.steal_pct
        # per delivery the bridge finished in the window (a backlog left at the cap is excluded)
        by_state = results["bridge_deliveries_by_state"]
        handled = max(1, by_state.get("done", 0) + by_state.get("dead", 0) - warm_count)
        results["deliveries_finished"] = handled
        results["cpu_ms_per_delivery"] = {k: round(v / handled * 1000, 2) for k, v in cpu.items()}
        results["targets"] = {
            "revert_p99_ms_below": TARGET_P99_MS,
            "p99_met": (results["revert_latency"]["p99_ms"] or float("inf")) < TARGET_P99_MS,
            "every_delivery_reverted": results["reverts_missing"] == 0
            and results["not_accepted"] == 0,
        }
        bridge.stop()
        standin.stop()
        ok = True
        return results
    finally:
        finish_run("revert", tmp, results, ok=ok, keep=keep)


def report(results: dict[str, Any]) -> str:
    lat, t = results["revert_latency"], results["targets"]
    cap = f">{results['settle_cap_seconds'] * 1000:.0f}"

    def fmt(d: dict[str, Any]) -> str:
        p50, p99, top = (cap if d[k] is None else d[k] for k in ("p50_ms", "p99_ms", "max_ms"))
        return f"p50 {p50} / p99 {p99} / max {top} ms"

    finished = results["seconds_to_finish_after_load"]
    finish = (f"finished {finished} s later" if finished is not None
              else f"NOT finished {results['settle_cap_seconds']:.0f} s later")
    load = results["load"]
    return "\n".join([
        f"Revert ({load['rate_per_s']:.0f} deliveries/s for {load['seconds']:.0f} s, one ticket each, "
        f"bridge → Jira stand-in)",
        f"  sent {results['deliveries_sent']} (achieved {results['achieved_rate_per_s']}/s), "
        f"accepted {results['accepted_200']}, reverts seen {results['reverts_seen']}, "
        f"missing {results['reverts_missing']}, duplicate transitions "
        f"{results['duplicate_transition_posts']}, comments {results['comment_posts']}",
        f"  revert latency (send → transition POST at Jira): {fmt(lat)}  "
        f"(target p99 < {t['revert_p99_ms_below']:.0f} ms: {'met' if t['p99_met'] else 'NOT met'})",
        f"    send → re-read GET: {fmt(results['send_to_reread'])}",
        f"    re-read → transition: {fmt(results['reread_to_transition'])}",
        f"  delivery answered (200): {fmt(results['delivery_answer_latency'])}; "
        f"generator schedule slip p99 {results['schedule_slip']['p99_ms']} ms",
        f"  bridge backlog when the load ended: {results['bridge_backlog_when_load_ended']}; {finish}; "
        f"deliveries by state {results['bridge_deliveries_by_state']}",
        f"  CPU per delivery finished ({results['deliveries_finished']}): "
        f"bridge {results['cpu_ms_per_delivery']['bridge']} ms, "
        f"stand-in {results['cpu_ms_per_delivery']['standin']} ms",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.revert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--settle", type=float, default=30,
                        help="seconds to wait for reverts after the last delivery")
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {
        "rate": args.rate, "seconds": args.duration, "settle": args.settle})


if __name__ == "__main__":
    main()
