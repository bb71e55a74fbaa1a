"""Ingest benchmark: deliveries per second and latency to a durable 200, bridge vs bare.

The bare durable receiver (bench/bare_receiver.py) and then the bridge (`bridge serve`, no
tracker configured, so dry) are each started alone on their own fresh SQLite file, warmed
up, and loaded with wrk from a second process: 32 connections, 2 threads, ~15 s, every
request a pre-signed `summary_only_change.json` (the common case) with a unique delivery id
(bench/wrk/post.lua). Afterwards the rows stored are counted straight from each SQLite file
and compared with the 200s wrk saw.

    .venv/bin/python -m bench.ingest [--duration 15] [--warmup 3] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    add_run_options,
    run_part,
    finish_run,
    FIXTURES, HOST, PYTHON, ROOT, BenchError, Child, CpuWatch, free_port, http_ok,
    loadavg, log, our_pids, sign, start_bridge, wait_until,
)

LUA = ROOT / "bench" / "wrk" / "post.lua"
BODY = FIXTURES / "summary_only_change.json"
PATH = "/webhooks/jira"
RUN_PREFIX, WARM_PREFIX = "run", "warm"
TARGET_RATIO = 0.70
TARGET_P99_MS = 30.0


def wrk(url: str, body_file: Path, signature: str, prefix: str, *, seconds: float,
        connections: int, threads: int) -> dict[str, Any]:
    """Run wrk once; its parsed WRK_RESULT line."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(LUA), url, "--", str(body_file), signature, prefix]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line.removeprefix("WRK_RESULT "))
    raise BenchError(f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def count_rows(db: Path, table: str, key_column: str, prefix: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        (n,) = conn.execute(
            f"SELECT count(*) FROM {table} WHERE {key_column} LIKE ?", (prefix + "-%",)
        ).fetchone()
    return int(n)


def bridge_states(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())


def measure(name: str, server: Child, url: str, body_file: Path, signature: str, *,
            seconds: float, warmup: float, connections: int, threads: int) -> dict[str, Any]:
    if warmup > 0:
        log(f"{name}: warm-up {warmup:.0f}s")
        wrk(url, body_file, signature, WARM_PREFIX, seconds=warmup, connections=connections,
            threads=threads)
    log(f"{name}: wrk -t{threads} -c{connections} -d{seconds:.0f}s")
    load_before = loadavg()
    watch = CpuWatch()
    watch.start()
    cpu = server.cpu_seconds()
    result = wrk(url, body_file, signature, RUN_PREFIX, seconds=seconds,
                 connections=connections, threads=threads)
    cpu = server.cpu_seconds() - cpu
    busy = watch.stop(our_pids())
    result["server_cpu_s"] = round(cpu, 2)
    if busy:
        log(f"warning: other processes were busy while {name} was measured: {', '.join(busy)}")
    result["loadavg_before"] = load_before
    result["other_busy_processes"] = busy
    result["unaccounted_cpu_pct"] = watch.unaccounted_pct
    result["steal_pct"] = watch.steal_pct
    return result


def summarize(raw: dict[str, Any], rows: int) -> dict[str, Any]:
    in_flight = raw["sent"] - raw["requests"]
    # wrk stops with up to one request per connection unanswered; the receiver may still
    # have committed those, so the rows lie between the 200s and the 200s plus those.
    nothing_lost = raw["ok_200"] <= rows <= raw["ok_200"] + in_flight
    return {
        "deliveries_per_s": round(raw["ok_200"] / raw["duration_s"], 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "ok_200": raw["ok_200"],
        "non_2xx": raw["non_2xx"],
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status" and v},
        "rows_stored": rows,
        "unanswered_at_stop": in_flight,
        "rows_match_200s": nothing_lost,
        "server_cpu_ms_per_delivery": round(raw["server_cpu_s"] / max(1, raw["requests"]) * 1000, 3),
        "server_cpu_cores": round(raw["server_cpu_s"] / raw["duration_s"], 2),
        "other_busy_processes": raw["other_busy_processes"],
        "unaccounted_cpu_pct_of_a_core": raw["unaccounted_cpu_pct"],
        "hypervisor_steal_pct_of_a_core": raw["steal_pct"],
        "wrk": raw,
    }


def run(*, seconds: float = 15, warmup: float = 3, connections: int = 32, threads: int = 2,
        log_level: str = "INFO", keep: bool = False,
        bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: run scripts/ensure-wrk (or `make bench`)")
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-ingest-"))
    body = BODY.read_bytes()
    body_file = tmp / "body.json"
    body_file.write_bytes(body)
    signature = sign(body)
    results: dict[str, Any] = {
        "load": {"tool": "wrk", "connections": connections, "threads": threads,
                 "seconds": seconds, "warmup_seconds": warmup, "body": BODY.name,
                 "body_bytes": len(body)},
        "workdir": str(tmp),
    }
    ok = False
    try:
        # -- the bare durable receiver, alone ------------------------------------------------
        (tmp / "bare").mkdir()
        port = free_port()
        bare = Child("bare receiver",
                     [PYTHON, "-m", "bench.bare_receiver", "--db", str(tmp / "bare" / "bare.db"),
                      "--host", HOST, "--port", str(port)],
                     log_path=tmp / "bare" / "bare.log")
        wait_until(lambda: http_ok(f"http://{HOST}:{port}/"), timeout=20,
                   what="the bare receiver answering", child=bare)
        raw = measure("bare", bare, f"http://{HOST}:{port}{PATH}", body_file, signature,
                      seconds=seconds, warmup=warmup, connections=connections, threads=threads)
        bare.check_alive()
        bare.stop()
        results["bare"] = summarize(raw, count_rows(tmp / "bare" / "bare.db", "deliveries", "id",
                                                    RUN_PREFIX))

        # -- the bridge, alone (no tracker: dry) ---------------------------------------------
        (tmp / "bridge").mkdir()
        port = free_port()
        bridge = start_bridge(tmp / "bridge", port=port, log_level=log_level, **(bridge_env or {}))
        raw = measure("bridge", bridge, f"http://{HOST}:{port}{PATH}", body_file, signature,
                      seconds=seconds, warmup=warmup, connections=connections, threads=threads)
        db = tmp / "bridge" / "bridge.db"
        states_at_end = bridge_states(db)
        bridge.check_alive()
        drain_started = time.monotonic()
        try:
            wait_until(lambda: not ({"pending", "processing"} & set(bridge_states(db))),
                       timeout=30, what="the worker catching up", child=bridge)
            drained_s: float | None = round(time.monotonic() - drain_started, 2)
        except BenchError:
            drained_s = None
        bridge.stop()
        results["bridge"] = summarize(raw, count_rows(db, "deliveries", "delivery_key",
                                                      RUN_PREFIX))
        results["bridge"]["worker"] = {
            "states_when_load_ended": states_at_end,
            "seconds_to_drain_backlog": drained_s,
            "states_at_stop": bridge_states(db),
        }
        results["bridge"]["log_level"] = log_level
        results["bridge"]["extra_env"] = bridge_env or {}

        bare_rate = results["bare"]["deliveries_per_s"]
        ratio = results["bridge"]["deliveries_per_s"] / bare_rate if bare_rate else 0.0
        results["ratio_bridge_to_bare"] = round(ratio, 3)
        results["targets"] = {
            "ratio_at_least": TARGET_RATIO,
            "bridge_p99_ms_below": TARGET_P99_MS,
            "ratio_met": ratio >= TARGET_RATIO,
            "p99_met": results["bridge"]["p99_ms"] < TARGET_P99_MS,
            "nothing_lost": results["bridge"]["rows_match_200s"] and results["bare"]["rows_match_200s"],
        }
        ok = True
        return results
    finally:
        finish_run("ingest", tmp, results, ok=ok, keep=keep)


def report(results: dict[str, Any]) -> str:
    lines = ["Ingest (wrk, {connections} connections, {threads} threads, {seconds:.0f} s, {body})"
             .format(**results["load"]),
             f"  {'':8} {'deliv/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'200s':>8} {'non-2xx':>8} "
             f"{'rows':>8} {'CPU/req':>8}  check"]
    for name in ("bare", "bridge"):
        r = results[name]
        check = "stored = 200s" if r["rows_match_200s"] else "MISMATCH"
        if r["unanswered_at_stop"]:
            check += f" (+{r['rows_stored'] - r['ok_200']} of {r['unanswered_at_stop']} in flight at stop)"
        lines.append(f"  {name:8} {r['deliveries_per_s']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                     f"{r['ok_200']:>8} {r['non_2xx']:>8} {r['rows_stored']:>8} "
                     f"{r['server_cpu_ms_per_delivery']:>6.3f}ms  {check}")
    t = results["targets"]
    lines.append(f"  bridge/bare = {results['ratio_bridge_to_bare']:.0%} (target ≥ {t['ratio_at_least']:.0%}: "
                 f"{'met' if t['ratio_met'] else 'NOT met'}); bridge p99 {results['bridge']['p99_ms']:.1f} ms "
                 f"(target < {t['bridge_p99_ms_below']:.0f} ms: {'met' if t['p99_met'] else 'NOT met'})")
    w = results["bridge"]["worker"]
    lines.append(f"  bridge worker when the load ended: {w['states_when_load_ended']}; backlog drained in "
                 f"{w['seconds_to_drain_backlog']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {
        "seconds": args.duration, "warmup": args.warmup, "connections": args.connections,
        "threads": args.threads})


if __name__ == "__main__":
    main()
