"""Repeated bursts: one bridge process takes four 8 s bursts with 8 s pauses between them.

The same `bridge serve` (no tracker: dry, as in the ingest part) takes every burst; the bare
durable receiver (bench/bare_receiver.py) takes a burst of the same length just before each
of the bridge's, so that each burst has its own reference measured minutes apart at most.
A burst is wrk as in the ingest part: 32 connections, 2 threads, the pre-signed
`summary_only_change.json` with a unique delivery id (`b<k>-<thread>-<n>`).

While the bare receiver is measured the bridge is frozen (SIGSTOP, then SIGCONT): it uses no
CPU then and its backlog neither drains nor grows, so the bare figure is taken alone and the
bridge still sees exactly a burst, an 8 s pause, the next burst. In each pause the inbox's
backlog (deliveries pending or processing) is read from the bridge's SQLite file every 0.1 s.

    .venv/bin/python -m bench.bursts [--bursts 4] [--seconds 8] [--pause 8] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    HOST, PYTHON, BenchError, Child, CpuWatch, add_run_options, backlog, finish_run, free_port,
    http_ok, log, our_pids, run_part, sign, start_bridge, wait_until,
)
from bench.ingest import BODY, PATH, bridge_states, count_rows, wrk

TARGET_RATIO = 0.70
TARGET_P99_MS = 30.0
TARGET_DRAIN_PER_S = 5000.0
TARGET_IDLE_RSS_MB = 150.0
SAMPLE_EVERY = 0.1


def burst(name: str, server: Child, url: str, body_file: Path, signature: str, prefix: str, *,
          seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """One wrk burst against `server`: its rate, latencies and what else used the CPU."""
    watch = CpuWatch()
    watch.start()
    cpu = server.cpu_seconds()
    raw = wrk(url, body_file, signature, prefix, seconds=seconds, connections=connections,
              threads=threads)
    cpu = server.cpu_seconds() - cpu
    busy = watch.stop(our_pids())
    if busy:
        log(f"warning: other processes were busy during {name} {prefix}: {', '.join(busy)}")
    return {
        "deliveries_per_s": round(raw["ok_200"] / raw["duration_s"], 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "ok_200": raw["ok_200"],
        "non_2xx": raw["non_2xx"],
        "unanswered_at_stop": raw["sent"] - raw["requests"],
        "server_cpu_cores": round(cpu / raw["duration_s"], 2),
        "other_busy_processes": busy,
        "unaccounted_cpu_pct_of_a_core": watch.unaccounted_pct,
        "hypervisor_steal_pct_of_a_core": watch.steal_pct,
    }


def watch_pause(db: Path, seconds: float) -> list[tuple[float, int]]:
    """(seconds since the burst ended, backlog) every SAMPLE_EVERY s for `seconds`."""
    started = time.monotonic()
    samples = [(0.0, backlog(db))]
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(SAMPLE_EVERY, max(0.0, seconds - elapsed)))
        samples.append((round(time.monotonic() - started, 3), backlog(db)))
    return samples


def drain(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """How the backlog went down over a pause, from its samples.

    `drain_per_s` is what the pause achieved: the deliveries drained over the time from the
    burst's end until the backlog was empty (or the pause ended). `worker_per_s` leaves out
    the wait before the backlog first went down (the worker yielding to a burst still
    counted in the intake's rolling rate)."""
    at_end = samples[0][1]
    emptied_at = next((t for t, n in samples if n == 0), None)
    until = emptied_at if emptied_at is not None else samples[-1][0]
    left = 0 if emptied_at is not None else samples[-1][1]
    drained = at_end - left
    # the last sample still at the burst's level: the worker started after it
    started = max((t for t, n in samples if n >= at_end and t <= until), default=0.0)
    return {
        "backlog_at_burst_end": at_end,
        "backlog_at_pause_end": samples[-1][1],
        "emptied": emptied_at is not None or at_end == 0,
        "seconds_to_empty": emptied_at,
        "drained": drained,
        "drain_per_s": round(drained / until, 1) if until > 0 else None,
        "worker_started_after_s": started,
        "worker_per_s": round(drained / (until - started), 1) if until > started else None,
    }


def run(*, bursts: int = 4, seconds: float = 8, pause: float = 8, warmup: float = 2,
        connections: int = 32, threads: int = 2, log_level: str = "INFO", keep: bool = False,
        bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: run scripts/ensure-wrk (or `make bench`)")
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-bursts-"))
    body = BODY.read_bytes()
    body_file = tmp / "body.json"
    body_file.write_bytes(body)
    signature = sign(body)
    results: dict[str, Any] = {
        "load": {"tool": "wrk", "connections": connections, "threads": threads, "bursts": bursts,
                 "burst_seconds": seconds, "pause_seconds": pause, "warmup_seconds": warmup,
                 "body": BODY.name, "log_level": log_level, "extra_env": bridge_env or {}},
        "workdir": str(tmp),
    }
    ok = False
    try:
        (tmp / "bare").mkdir()
        bare_port = free_port()
        bare = Child("bare receiver",
                     [PYTHON, "-m", "bench.bare_receiver", "--db", str(tmp / "bare" / "bare.db"),
                      "--host", HOST, "--port", str(bare_port)],
                     log_path=tmp / "bare" / "bare.log")
        wait_until(lambda: http_ok(f"http://{HOST}:{bare_port}/"), timeout=20,
                   what="the bare receiver answering", child=bare)
        (tmp / "bridge").mkdir()
        port = free_port()
        bridge = start_bridge(tmp / "bridge", port=port, log_level=log_level, **(bridge_env or {}))
        db = tmp / "bridge" / "bridge.db"
        bare_url, url = f"http://{HOST}:{bare_port}{PATH}", f"http://{HOST}:{port}{PATH}"

        memory: dict[str, Any] = {"at_start": bridge.memory_mb()}
        if warmup > 0:
            log(f"bursts: warm-up {warmup:.0f}s each")
            wrk(bare_url, body_file, signature, "warm", seconds=warmup, connections=connections,
                threads=threads)
            wrk(url, body_file, signature, "warm", seconds=warmup, connections=connections,
                threads=threads)
        wait_until(lambda: backlog(db) == 0, timeout=60, what="the warm-up being processed",
                   child=bridge, every=0.2)
        time.sleep(1)
        memory["idle"] = bridge.memory_mb()

        rounds = []
        for k in range(1, bursts + 1):
            prefix = f"b{k}"
            log(f"bursts: {k}/{bursts}: bare {seconds:.0f}s, bridge {seconds:.0f}s, pause {pause:.0f}s")
            bridge.freeze()
            try:
                ref = burst("bare", bare, bare_url, body_file, signature, prefix, seconds=seconds,
                            connections=connections, threads=threads)
            finally:
                bridge.thaw()
            bare.check_alive()
            got = burst("bridge", bridge, url, body_file, signature, prefix, seconds=seconds,
                        connections=connections, threads=threads)
            pause_watch = CpuWatch()
            pause_watch.start()
            samples = watch_pause(db, pause)
            busy = pause_watch.stop(our_pids())
            bridge.check_alive()
            ratio = got["deliveries_per_s"] / ref["deliveries_per_s"] if ref["deliveries_per_s"] else 0.0
            rounds.append({
                "burst": k, "bridge": got, "bare": ref, "ratio": round(ratio, 3),
                "pause": {**drain(samples), "other_busy_processes": busy,
                          "hypervisor_steal_pct_of_a_core": pause_watch.steal_pct,
                          "samples": samples},
                "memory_after_pause": bridge.memory_mb(),
            })

        finished_in = None
        started = time.monotonic()
        try:
            wait_until(lambda: backlog(db) == 0, timeout=120, what="the bridge finishing",
                       child=bridge, every=0.2)
            finished_in = round(time.monotonic() - started, 2)
        except BenchError:
            log("warning: the bridge had not finished its backlog 120 s after the last burst")
        time.sleep(1)
        memory["at_end"] = bridge.memory_mb()
        bridge.check_alive()
        bare.stop()
        bridge.stop()
        for r in rounds:
            prefix = f"b{r['burst']}"
            for name, path, column in (("bare", tmp / "bare" / "bare.db", "id"),
                                       ("bridge", db, "delivery_key")):
                side = r[name]
                side["rows_stored"] = rows = count_rows(path, "deliveries", column, prefix)
                side["rows_match_200s"] = side["ok_200"] <= rows <= side["ok_200"] + side["unanswered_at_stop"]
        results["bursts"] = rounds
        results["memory_mb"] = memory
        results["seconds_to_finish_after_last_pause"] = finished_in
        results["bridge_deliveries_by_state"] = bridge_states(db)
        results["other_busy_processes"] = sorted({p for r in rounds for p in
                                                  r["bare"]["other_busy_processes"]
                                                  + r["bridge"]["other_busy_processes"]
                                                  + r["pause"]["other_busy_processes"]})
        results["targets"] = targets(rounds, memory)
        ok = True
        return results
    finally:
        finish_run("bursts", tmp, results, ok=ok, keep=keep)


def targets(rounds: list[dict[str, Any]], memory: dict[str, Any]) -> dict[str, Any]:
    # the last pause is followed by no burst: its backlog counts as well
    drains = [r["pause"]["drain_per_s"] for r in rounds if r["pause"]["backlog_at_burst_end"] > 0]
    return {
        "ratio_at_least": TARGET_RATIO,
        "p99_ms_below": TARGET_P99_MS,
        "drain_per_s_at_least": TARGET_DRAIN_PER_S,
        "idle_rss_mb_below": TARGET_IDLE_RSS_MB,
        "ratio_met": all(r["ratio"] >= TARGET_RATIO for r in rounds),
        "p99_met": all(r["bridge"]["p99_ms"] < TARGET_P99_MS for r in rounds),
        "drain_met": all(d is not None and d >= TARGET_DRAIN_PER_S for d in drains),
        "every_backlog_emptied": all(r["pause"]["emptied"] for r in rounds),
        "idle_rss_met": 0 < memory["idle"]["rss_mb"] < TARGET_IDLE_RSS_MB,
        "nothing_lost": all(r[n]["rows_match_200s"] for r in rounds for n in ("bare", "bridge")),
    }


def report(results: dict[str, Any]) -> str:
    load, t = results["load"], results["targets"]
    lines = [f"Bursts ({load['bursts']} × {load['burst_seconds']:.0f} s of wrk, {load['connections']} "
             f"connections, {load['pause_seconds']:.0f} s pauses; bare burst before each)",
             f"  {'':3} {'deliv/s':>8} {'bare/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'backlog':>8} {'drain/s':>8} {'worker/s':>8}  emptied"]
    for r in results["bursts"]:
        b, p = r["bridge"], r["pause"]
        emptied = f"yes, {p['seconds_to_empty']} s" if p["emptied"] else f"NO, {p['backlog_at_pause_end']} left"
        lines.append(f"  {r['burst']:>3} {b['deliveries_per_s']:>8.0f} {r['bare']['deliveries_per_s']:>8.0f} "
                     f"{r['ratio']:>6.0%} {b['p50_ms']:>7.1f} {b['p99_ms']:>7.1f} {p['backlog_at_burst_end']:>8} "
                     f"{_rate(p['drain_per_s']):>8} {_rate(p['worker_per_s']):>8}  {emptied}")
    m = results["memory_mb"]
    lines.append(f"  bridge RSS: idle {m['idle']['rss_mb']} MB, at the end {m['at_end']['rss_mb']} MB, "
                 f"peak {m['at_end']['peak_rss_mb']} MB")
    lines.append(f"  targets: every burst ≥ {t['ratio_at_least']:.0%} of bare {_met(t['ratio_met'])}, "
                 f"p99 < {t['p99_ms_below']:.0f} ms {_met(t['p99_met'])}, drain ≥ "
                 f"{t['drain_per_s_at_least']:.0f}/s {_met(t['drain_met'])}, idle RSS < "
                 f"{t['idle_rss_mb_below']:.0f} MB {_met(t['idle_rss_met'])}; stored = 200s: "
                 f"{'yes' if t['nothing_lost'] else 'NO'}")
    return "\n".join(lines)


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    t, m = results["targets"], results["memory_mb"]
    rows = []
    for r in results["bursts"]:
        b, p = r["bridge"], r["pause"]
        rows.append((f"bursts  {r['burst']}: bridge / bare",
                     f"{b['deliveries_per_s']:.0f} / {r['bare']['deliveries_per_s']:.0f}/s = {r['ratio']:.0%}",
                     f"≥ {t['ratio_at_least']:.0%}", _met(r["ratio"] >= t["ratio_at_least"])))
        rows.append((f"bursts  {r['burst']}: p50 / p99", f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f} ms",
                     f"p99 < {t['p99_ms_below']:.0f} ms", _met(b["p99_ms"] < t["p99_ms_below"])))
        emptied = "emptied" if p["emptied"] else f"{p['backlog_at_pause_end']} left"
        rows.append((f"bursts  {r['burst']}: backlog, drain", f"{p['backlog_at_burst_end']}, "
                     f"{_rate(p['drain_per_s'])}/s ({emptied})", f"≥ {t['drain_per_s_at_least']:.0f}/s",
                     "—" if p["backlog_at_burst_end"] == 0
                     else _met(p["drain_per_s"] is not None and p["drain_per_s"] >= t["drain_per_s_at_least"])))
    rows.append(("bursts  bridge RSS idle / at end", f"{m['idle']['rss_mb']} / {m['at_end']['rss_mb']} MB",
                 f"idle < {t['idle_rss_mb_below']:.0f} MB", _met(t["idle_rss_met"])))
    rows.append(("bursts  rows = 200s", "every burst" if t["nothing_lost"] else "mismatch", "all",
                 "ok" if t["nothing_lost"] else "LOST"))
    return rows


def checks(results: dict[str, Any]) -> list[bool]:
    t = results["targets"]
    return [t["ratio_met"], t["p99_met"], t["drain_met"], t["idle_rss_met"], t["nothing_lost"]]


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _met(flag: bool) -> str:
    return "met" if flag else "NOT MET"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bursts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8, help="length of each burst")
    parser.add_argument("--pause", type=float, default=8, help="pause after each burst")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {
        "bursts": args.bursts, "seconds": args.seconds, "pause": args.pause, "warmup": args.warmup,
        "connections": args.connections, "threads": args.threads})


if __name__ == "__main__":
    main()
