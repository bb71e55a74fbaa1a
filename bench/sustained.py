"""Sustained mixed load: 2,000 deliveries/s for 60 s, open loop, against the Jira stand-in.

The Jira stand-in is seeded as in the revert part (bench/revert.py `seed`: SRV-1…SRV-N in
Hotovo, transition 31 back to Na klientovi) and the bridge is pointed at it. The load
generator (bench/loadgen.py, its own process, open loop) sends 2,000 deliveries a second:
9 in 10 the harmless `summary_only_change.json` (no tracker call needed) spread over 1,000
tickets nobody moves, 1 in 10 `customer_forbidden_transition.json` on its own ticket.

Measured:
- acknowledgement: send → 200, per delivery, by the generator;
- judged: send → the delivery's row finished (`finished_at`, written in the transaction that
  closes it, read from the bridge's SQLite file afterwards). The generator's monotonic send
  time is turned into wall-clock time with the offset it records, as `finished_at` is the
  bridge's wall clock. A delivery not finished when the bench stops waiting counts as
  infinitely late. `received_at` (the inbox's commit) → finished is reported beside it;
- the backlog (pending + processing) every 0.5 s from the SQLite file: maximum and value when
  the load ended;
- the stand-in's call log: transitions per ticket, so every forbidden move must be reverted
  exactly once and no harmless ticket touched.

    .venv/bin/python -m bench.sustained [--rate 2000] [--duration 60] [--share 0.1] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PYTHON, SECRET, BenchError, CpuWatch, add_run_options, backlog,
    finish_run, log, our_pids, percentile, run_part, start_jira_bridge, start_standin,
    wait_until,
)
from bench.loadgen import FORBIDDEN, HARMLESS_KIND, is_forbidden
from bench.revert import TRANSITION_PATH, seed

TARGET_ACK_P99_MS = 30.0
TARGET_JUDGED_P99_S = 2.0
TARGET_IDLE_RSS_MB = 150.0
# the backlog counts as bounded when it empties after the load and either its trend over the
# load's second half grows by less than this share of the offered rate (1 % of 2,000/s: 20 a
# second) or it never held more than one second of load (a trend there is noise)
BOUNDED_GROWTH_SHARE = 0.01
HARMLESS_FIRST, HARMLESS_TICKETS = 1_000_000, 1000
WARMUP_RATE, WARMUP_SECONDS = 200, 1.0
SAMPLE_EVERY = 0.5


def forbidden_count(count: int, share: float) -> int:
    return sum(1 for i in range(count) if is_forbidden(i, share))


def loadgen(tmp: Path, url: str, *, rate: float, seconds: float, share: float, first: int,
            prefix: str, out: str) -> dict[str, Any]:
    target = tmp / out
    argv = [PYTHON, "-m", "bench.loadgen", "--url", url, "--secret", SECRET, "--rate", str(rate),
            "--duration", str(seconds), "--first", str(first), "--id-prefix", prefix,
            "--forbidden-share", str(share), "--harmless-first", str(HARMLESS_FIRST),
            "--harmless-tickets", str(HARMLESS_TICKETS), "--prewarm", "32", "--out", str(target)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise BenchError(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    return json.loads(target.read_text("utf-8"))


class BacklogSampler:
    """The inbox's backlog every SAMPLE_EVERY s, from a thread, until stopped."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), backlog(self.db)))
            except sqlite3.Error:
                pass
            self._stop.wait(SAMPLE_EVERY)


def finished_rows(db: Path, prefix: str) -> dict[str, tuple[str, str | None, str | None]]:
    """delivery id → (state, received_at, finished_at) of the measured deliveries."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT delivery_key, state, received_at, finished_at FROM deliveries"
            " WHERE delivery_key LIKE ?", (prefix + "-%",)).fetchall()
    return {key: (state, received, finished) for key, state, received, finished in rows}


def wall(value: str) -> float:
    """A timestamp as SQLite holds it (naive UTC, or with an offset) as epoch seconds."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def seconds_pct(values: list[float], unseen: int = 0, scale: float = 1.0,
                digits: int = 3) -> dict[str, float | None]:
    """p50/p90/p99/max of `values` × `scale`; `unseen` count as infinitely late (None)."""
    ordered = sorted(values) + [float("inf")] * unseen

    def at(pct: float) -> float | None:
        v = percentile(ordered, pct)
        return None if v is None or v == float("inf") else round(v * scale, digits)

    return {"p50": at(50), "p90": at(90), "p99": at(99), "max": at(100), "count": len(ordered)}


def trend_per_s(samples: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of the backlog (deliveries per second) over `samples`."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_b = sum(b for _, b in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    return round(sum((t - mean_t) * (b - mean_b) for t, b in samples) / var, 1)


def analyse(sent: dict[str, Any], rows: dict[str, tuple[str, str | None, str | None]],
            calls: list[dict[str, Any]]) -> dict[str, Any]:
    records = sent["records"]
    offset = sent["wall_minus_monotonic"]
    accepted = [r for r in records if r["status"] == 200]
    ack = [r["answered"] - r["sent"] for r in accepted]
    slip = [r["sent"] - r["due"] for r in records if r["sent"] is not None]
    judged: dict[str, list[float]] = {FORBIDDEN: [], HARMLESS_KIND: []}
    stored: dict[str, list[float]] = {FORBIDDEN: [], HARMLESS_KIND: []}
    unjudged = {FORBIDDEN: 0, HARMLESS_KIND: 0}
    states: dict[str, int] = {}
    for r in accepted:
        state, received, finished = rows.get(r["id"], ("missing", None, None))
        states[state] = states.get(state, 0) + 1
        if finished is None:
            unjudged[r["kind"]] += 1
            continue
        judged[r["kind"]].append(wall(finished) - (r["sent"] + offset))
        if received is not None:
            stored[r["kind"]].append(wall(finished) - wall(received))
    forbidden_keys = {r["key"] for r in records if r["kind"] == FORBIDDEN}
    per_key: dict[str, int] = {}
    touched_harmless = 0
    for call in calls:
        m = TRANSITION_PATH.search(call["path"])
        if call["method"] == "POST" and m:
            per_key[m[1]] = per_key.get(m[1], 0) + 1
        number = call["path"].rsplit("/issue/", 1)[-1].split("/")[0].removeprefix("SRV-")
        if "/issue/" in call["path"] and number.isdigit() and int(number) >= HARMLESS_FIRST:
            touched_harmless += 1
    reverts = [per_key.get(k, 0) for k in forbidden_keys]
    every = judged[FORBIDDEN] + judged[HARMLESS_KIND]
    sent_times = [r["sent"] for r in records if r["sent"] is not None]
    return {
        "deliveries_sent": len(records),
        "accepted_200": len(accepted),
        "not_accepted": len(records) - len(accepted),
        "send_errors": sorted({r["error"] for r in records if r.get("error")})[:5],
        "achieved_rate_per_s": round((len(sent_times) - 1) / (max(sent_times) - min(sent_times)), 1)
        if len(sent_times) > 1 and max(sent_times) > min(sent_times) else None,
        "by_kind_sent": {k: sum(1 for r in records if r["kind"] == k) for k in (HARMLESS_KIND, FORBIDDEN)},
        "ack_ms": seconds_pct(ack, scale=1000, digits=1),
        "schedule_slip_ms": seconds_pct(slip, scale=1000, digits=1),
        "judged_s": seconds_pct(every, unseen=sum(unjudged.values())),
        "judged_s_by_kind": {k: seconds_pct(judged[k], unseen=unjudged[k]) for k in judged},
        "stored_to_finished_s": seconds_pct(stored[FORBIDDEN] + stored[HARMLESS_KIND]),
        "not_finished": sum(unjudged.values()),
        "states_of_accepted": states,
        "forbidden_moves": len(forbidden_keys),
        "reverted_once": sum(1 for n in reverts if n == 1),
        "not_reverted": sum(1 for n in reverts if n == 0),
        "reverted_more_than_once": sum(1 for n in reverts if n > 1),
        "transitions_on_other_tickets": sum(n for k, n in per_key.items() if k not in forbidden_keys),
        "tracker_calls_on_harmless_tickets": touched_harmless,
        "tracker_calls": len(calls),
        "connections_opened": sent.get("connections_opened"),
    }


def run(*, rate: float = 2000, seconds: float = 60, share: float = 0.1, settle: float = 60,
        log_level: str = "INFO", keep: bool = False,
        bridge_env: dict[str, str] | None = None) -> dict[str, Any]:
    """`settle`: how long after the load the bench waits for the backlog; deliveries not
    finished by then count as infinitely late."""
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-sustained-"))
    count = max(1, round(rate * seconds))
    moves = forbidden_count(count, share)
    warm_count = max(1, round(WARMUP_RATE * WARMUP_SECONDS))
    warm_moves = forbidden_count(warm_count, share)
    (tmp / "seed.json").write_text(json.dumps(seed(moves + warm_moves)), "utf-8")
    results: dict[str, Any] = {
        "load": {"tool": "bench/loadgen.py (open loop, own process)", "rate_per_s": rate,
                 "seconds": seconds, "deliveries": count, "forbidden_share": share,
                 "forbidden_moves": moves, "harmless_tickets": HARMLESS_TICKETS,
                 "settle_seconds": settle, "log_level": log_level, "extra_env": bridge_env or {},
                 "standin": "tests.standin"},
        "workdir": str(tmp),
    }
    ok = False
    try:
        standin, jira = start_standin(tmp, timeout=60)
        bridge, db, url = start_jira_bridge(tmp, jira, log_level=log_level, bridge_env=bridge_env)
        control = httpx.Client(base_url=f"{jira}/_standin", timeout=60)
        memory: dict[str, Any] = {"at_start": bridge.memory_mb()}

        log(f"sustained: warm-up {WARMUP_SECONDS:.0f}s at {WARMUP_RATE}/s")
        loadgen(tmp, url, rate=WARMUP_RATE, seconds=WARMUP_SECONDS, share=share, first=moves + 1,
                prefix="warm", out="warmup.json")
        wait_until(lambda: backlog(db) == 0, timeout=60, what="the warm-up being processed",
                   child=bridge, every=0.2)
        control.delete("/calls").raise_for_status()
        time.sleep(1)
        memory["idle"] = bridge.memory_mb()

        log(f"sustained: {rate:.0f} deliveries/s for {seconds:.0f}s, {share:.0%} forbidden moves "
            f"({moves} tickets)")
        sampler = BacklogSampler(db)
        watch = CpuWatch()
        cpu = {"bridge": bridge.cpu_seconds(), "standin": standin.cpu_seconds()}
        watch.start()
        sampler.start()
        load_started = time.monotonic()
        try:
            sent = loadgen(tmp, url, rate=rate, seconds=seconds, share=share, first=1,
                           prefix="run", out="sent.json")
            load_ended = time.monotonic()
            at_end = backlog(db)
            finished_in: float | None = None
            try:
                wait_until(lambda: backlog(db) == 0, timeout=settle, what="the bridge finishing",
                           child=bridge, every=0.2)
                finished_in = round(time.monotonic() - load_ended, 2)
            except BenchError:
                log(f"warning: {backlog(db)} deliveries still unfinished {settle:.0f}s after the load")
        finally:
            sampler.stop()
        busy = watch.stop(our_pids())
        cpu = {"bridge": bridge.cpu_seconds() - cpu["bridge"],
               "standin": standin.cpu_seconds() - cpu["standin"]}
        if busy:
            log(f"warning: other processes were busy during the sustained run: {', '.join(busy)}")
        # the transitions still in flight when the wait ended have landed by now or never will
        time.sleep(1)
        calls = control.get("/calls").raise_for_status().json()
        control.close()
        rows = finished_rows(db, "run")  # as the calls: before stopping lets the bridge finish more
        memory["at_end"] = bridge.memory_mb()
        bridge.check_alive()
        standin.check_alive()
        bridge.stop()
        standin.stop()

        results.update(analyse(sent, rows, calls))
        during = [(t - load_started, n) for t, n in sampler.samples if t <= load_ended]
        half = [(t, n) for t, n in during if t >= (load_ended - load_started) / 2]
        results["backlog"] = {
            "max_during_load": max((n for _, n in during), default=at_end),
            "when_load_ended": at_end,
            "trend_per_s_second_half": trend_per_s(half),
            "seconds_to_empty_after_load": finished_in,
            "samples": [(round(t, 2), n) for t, n in during],
        }
        results["memory_mb"] = memory
        results["cpu_seconds"] = {k: round(v, 1) for k, v in cpu.items()}
        results["bridge_cpu_cores_during_load"] = round(cpu["bridge"] / (time.monotonic() - load_started), 2)
        results["other_busy_processes"] = busy
        results["unaccounted_cpu_pct_of_a_core"] = watch.unaccounted_pct
        results["hypervisor_steal_pct_of_a_core"] = watch.steal_pct
        results["targets"] = targets(results, rate)
        ok = True
        return results
    finally:
        finish_run("sustained", tmp, results, ok=ok, keep=keep)


def targets(r: dict[str, Any], rate: float) -> dict[str, Any]:
    trend = r["backlog"]["trend_per_s_second_half"]
    return {
        "ack_p99_ms_below": TARGET_ACK_P99_MS,
        "judged_p99_s_below": TARGET_JUDGED_P99_S,
        "idle_rss_mb_below": TARGET_IDLE_RSS_MB,
        "backlog_growth_per_s_below": round(rate * BOUNDED_GROWTH_SHARE, 1),
        "ack_met": r["not_accepted"] == 0 and (r["ack_ms"]["p99"] or float("inf")) < TARGET_ACK_P99_MS,
        "judged_met": (r["judged_s"]["p99"] or float("inf")) < TARGET_JUDGED_P99_S,
        "backlog_bounded": (trend is None or trend < rate * BOUNDED_GROWTH_SHARE
                            or r["backlog"]["max_during_load"] <= rate)
        and r["backlog"]["seconds_to_empty_after_load"] is not None,
        "reverted_exactly_once": r["reverted_once"] == r["forbidden_moves"]
        and r["transitions_on_other_tickets"] == 0,
        "idle_rss_met": 0 < r["memory_mb"]["idle"]["rss_mb"] < TARGET_IDLE_RSS_MB,
    }


def _late(d: dict[str, Any], key: str, unit: str, cap: str) -> str:
    return cap if d[key] is None else f"{d[key]} {unit}"


def report(results: dict[str, Any]) -> str:
    load, t, b, m = results["load"], results["targets"], results["backlog"], results["memory_mb"]
    cap = f">{load['settle_seconds']:.0f} s after the load"
    j, a = results["judged_s"], results["ack_ms"]
    lines = [
        f"Sustained ({load['rate_per_s']:.0f} deliveries/s for {load['seconds']:.0f} s, open loop, "
        f"{load['forbidden_share']:.0%} forbidden moves on their own tickets, bridge → Jira stand-in)",
        f"  sent {results['deliveries_sent']} (achieved {results['achieved_rate_per_s']}/s, schedule slip "
        f"p99 {results['schedule_slip_ms']['p99']} ms), accepted {results['accepted_200']}",
        f"  acknowledged: p50 {a['p50']} / p99 {a['p99']} / max {a['max']} ms "
        f"(target p99 < {t['ack_p99_ms_below']:.0f} ms: {_met(t['ack_met'])})",
        f"  judged (send → finished): p50 {_late(j, 'p50', 's', cap)} / p99 {_late(j, 'p99', 's', cap)} / "
        f"max {_late(j, 'max', 's', cap)} (target p99 < {t['judged_p99_s_below']:.0f} s: {_met(t['judged_met'])})",
    ]
    for kind, d in results["judged_s_by_kind"].items():
        lines.append(f"    {kind}: p50 {_late(d, 'p50', 's', cap)} / p99 {_late(d, 'p99', 's', cap)}")
    lines += [
        f"  backlog: max {b['max_during_load']}, {b['when_load_ended']} when the load ended, trend "
        f"{b['trend_per_s_second_half']}/s over the second half, empty "
        f"{'%s s after the load' % b['seconds_to_empty_after_load'] if b['seconds_to_empty_after_load'] is not None else 'NOT within the wait'}"
        f" ({'bounded' if t['backlog_bounded'] else 'NOT bounded'})",
        f"  forbidden moves {results['forbidden_moves']}: reverted once {results['reverted_once']}, "
        f"never {results['not_reverted']}, more than once {results['reverted_more_than_once']}; "
        f"tracker calls on harmless tickets {results['tracker_calls_on_harmless_tickets']}",
        f"  bridge RSS: idle {m['idle']['rss_mb']} MB, at the end {m['at_end']['rss_mb']} MB, peak "
        f"{m['at_end']['peak_rss_mb']} MB; bridge CPU {results['bridge_cpu_cores_during_load']} cores",
    ]
    return "\n".join(lines)


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    t, b, m = results["targets"], results["backlog"], results["memory_mb"]
    a, j = results["ack_ms"], results["judged_s"]
    never = f">{results['load']['settle_seconds']:.0f} s"
    return [
        ("sustained ack p50 / p99", f"{a['p50']} / {a['p99']} ms", f"p99 < {t['ack_p99_ms_below']:.0f} ms",
         _met(t["ack_met"])),
        ("sustained judged p50 / p99", f"{j['p50'] if j['p50'] is not None else never} / "
         f"{j['p99'] if j['p99'] is not None else never} s", f"p99 < {t['judged_p99_s_below']:.0f} s",
         _met(t["judged_met"])),
        ("sustained backlog max / at end", f"{b['max_during_load']} / {b['when_load_ended']} "
         f"(trend {b['trend_per_s_second_half']}/s)", "bounded", "ok" if t["backlog_bounded"] else "GROWING"),
        ("sustained reverted once / moves", f"{results['reverted_once']} / {results['forbidden_moves']}",
         "all, once", "ok" if t["reverted_exactly_once"] else "MISSING"),
        ("sustained bridge RSS idle / at end", f"{m['idle']['rss_mb']} / {m['at_end']['rss_mb']} MB",
         f"idle < {t['idle_rss_mb_below']:.0f} MB", _met(t["idle_rss_met"])),
    ]


def checks(results: dict[str, Any]) -> list[bool]:
    t = results["targets"]
    return [t["ack_met"], t["judged_met"], t["backlog_bounded"], t["reverted_exactly_once"], t["idle_rss_met"]]


def _met(flag: bool) -> str:
    return "met" if flag else "NOT MET"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sustained", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--share", type=float, default=0.1, help="share of forbidden moves")
    parser.add_argument("--settle", type=float, default=60,
                        help="seconds to wait for the backlog after the load")
    add_run_options(parser)
    run_part(parser, argv, run, report, lambda args: {
        "rate": args.rate, "seconds": args.duration, "share": args.share, "settle": args.settle})


if __name__ == "__main__":
    main()
