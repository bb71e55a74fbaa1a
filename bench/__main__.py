"""`python -m bench` (what `make bench` runs): the ingest, revert, timer sweep, billing
export, Redmine polling, repeated bursts and sustained mixed load benchmarks.

Prints a summary table and writes every figure to bench/results/latest.json (git-ignored).
Everything it starts it stops; it only ever targets 127.0.0.1. About 10 minutes.

    .venv/bin/python -m bench [--quick] [--only ingest|revert|timers|billing|polling|bursts|sustained]
                              [--check] [--keep]

Exit status: 0 when the runs completed (targets met or not: see the table), 1 when a run
could not be completed or lost a delivery, or, with --check, when a target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import billing, bursts, ingest, polling, revert, sustained, timers
from bench.common import BRIDGE, ROOT, BenchError, CpuWatch, log, on_termination, stop_all

RESULTS = ROOT / "bench" / "results"


def environment() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, text=True, capture_output=True,
                                  timeout=10).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or None
    # what of the measured code differs from that commit (read only)
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src", "pyproject.toml",
                                        "workflows").splitlines()]
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": commit,
        "uncommitted_changes": changed,
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "bridge_command": BRIDGE,
        "packages": {name: version(name) for name in
                     ("ticket-bridge", "uvicorn", "uvloop", "httptools", "httpx", "httpcore",
                      "anyio", "sniffio", "sqlalchemy", "starlette")},
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def _ms(value: float | None, cap: str = "—") -> str:
    return cap if value is None else f"{value:.1f} ms"


def summary(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    if "ingest" in results:
        i = results["ingest"]
        for name in ("bare", "bridge"):
            r = i[name]
            rows.append((f"ingest  {name}", f"{r['deliveries_per_s']:.0f}/s, p50 {r['p50_ms']:.1f} ms, "
                         f"p99 {r['p99_ms']:.1f} ms", "", ""))
        t = i["targets"]
        rows.append(("ingest  bridge / bare", f"{i['ratio_bridge_to_bare']:.0%}",
                     f"≥ {t['ratio_at_least']:.0%}", "met" if t["ratio_met"] else "NOT MET"))
        rows.append(("ingest  bridge p99", f"{i['bridge']['p99_ms']:.1f} ms",
                     f"< {t['bridge_p99_ms_below']:.0f} ms", "met" if t["p99_met"] else "NOT MET"))
        b = i["bridge"]
        rows.append(("ingest  bridge rows = 200s", f"{b['rows_stored']} rows / {b['ok_200']} 200s",
                     f"+ ≤{b['unanswered_at_stop']} in flight", "ok" if t["nothing_lost"] else "LOST"))
    if "revert" in results:
        r = results["revert"]
        lat, t = r["revert_latency"], r["targets"]
        cap = f">{r['settle_cap_seconds']:.0f} s"
        rows.append(("revert  latency p50 / p99",
                     f"{_ms(lat['p50_ms'], cap)} / {_ms(lat['p99_ms'], cap)}",
                     f"p99 < {t['revert_p99_ms_below']:.0f} ms", "met" if t["p99_met"] else "NOT MET"))
        rows.append(("revert  max", _ms(lat["max_ms"], cap), "", ""))
        rows.append(("revert  reverted / sent", f"{r['reverts_seen']} / {r['deliveries_sent']}",
                     "all", "ok" if t["every_delivery_reverted"] else "MISSING"))
        rows.append(("revert  bridge backlog at end", f"{r['bridge_backlog_when_load_ended']}", "", ""))
    if "timers" in results:
        s, t = results["timers"]["sweep"], results["timers"]["targets"]
        ref = results["timers"]["reference"]
        rows.append(("timers  sweep wall time", f"{s['seconds']} s (search alone {ref['seconds']} s)",
                     f"< {t['seconds_below']:.0f} s", "met" if t["seconds_met"] else "NOT MET"))
        rows.append(("timers  sweep peak RSS", f"{s['peak_rss_mb']} MB", f"< {t['rss_mb_below']:.0f} MB",
                     "met" if t["rss_met"] else "NOT MET"))
        rows.append(("timers  requests", f"{s['requests']} ({ref['pages']} search pages)", "", ""))
        rows.append(("timers  closed", f"{s['closed']} / {results['timers']['expired']}", "all",
                     "ok" if t["all_closed"] else "MISSING"))
    if "billing" in results:
        b, t = results["billing"], results["billing"]["targets"]
        rows.append(("billing reference (search alone)", f"{b['reference']['seconds']} s, "
                     f"{b['reference']['pages']} pages", "", ""))
        for name, e in b["exports"].items():
            label = name.replace("_", " ")
            rows.append((f"billing {label}", f"{e['seconds']} s, {e['peak_rss_mb']} MB, "
                         f"{e['requests']} requests",
                         f"< {t['seconds_below']:.0f} s, < {t['rss_mb_below']:.0f} MB",
                         "met" if e["seconds"] < t["seconds_below"]
                         and 0 < e["peak_rss_mb"] < t["rss_mb_below"] else "NOT MET"))
        rows.append(("billing rows, hours", f"{b['tickets']} rows, {b['expected_hours']} h in each file",
                     "all", "ok" if t["all_rows"] else "MISSING"))
    if "polling" in results:
        rows += polling.summary_rows(results["polling"])
    if "bursts" in results:
        rows += bursts.summary_rows(results["bursts"])
    if "sustained" in results:
        rows += sustained.summary_rows(results["sustained"])
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    head = ("", "figure", "target", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    disturbed = results.get("disturbed_by") or []
    if disturbed:
        lines.append("WARNING: other processes used the CPU during the measurement, figures are "
                     "unreliable: " + "; ".join(disturbed))
    return "\n".join(lines)


def targets_met(results: dict[str, Any]) -> bool:
    checks = []
    if "ingest" in results:
        t = results["ingest"]["targets"]
        checks += [t["ratio_met"], t["p99_met"], t["nothing_lost"]]
    if "revert" in results:
        t = results["revert"]["targets"]
        checks += [t["p99_met"], t["every_delivery_reverted"]]
    if "timers" in results:
        t = results["timers"]["targets"]
        checks += [t["seconds_met"], t["rss_met"], t["all_closed"]]
    if "billing" in results:
        t = results["billing"]["targets"]
        checks += [t["seconds_met"], t["rss_met"], t["all_rows"]]
    if "polling" in results:
        checks += [s["all_queued"] for s in results["polling"].values()
                   if isinstance(s, dict) and "all_queued" in s]
    if "bursts" in results:
        checks += bursts.checks(results["bursts"])
    if "sustained" in results:
        checks += sustained.checks(results["sustained"])
    return all(checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["ingest", "revert", "timers", "billing", "polling", "bursts",
                                           "sustained"])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test of the bench)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep temp dirs (logs, databases)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    on_termination()

    results: dict[str, Any] = {"environment": environment()}
    precheck = CpuWatch(limit_pct=20)
    precheck.start()
    time.sleep(1)
    busy = precheck.stop(set())
    if busy:
        log(f"warning: the machine is busy before the start: {', '.join(busy)}")
    started = time.monotonic()
    try:  # the precheck above is outside: Ctrl-C there leaves nothing running
        if args.only in (None, "ingest"):
            results["ingest"] = ingest.run(seconds=4 if args.quick else 15,
                                           warmup=1 if args.quick else 3, keep=args.keep)
            print(ingest.report(results["ingest"]), flush=True)
        if args.only in (None, "revert"):
            results["revert"] = revert.run(seconds=4 if args.quick else 20,
                                           settle=10 if args.quick else 30, keep=args.keep)
            print(revert.report(results["revert"]), flush=True)
        if args.only in (None, "timers"):
            results["timers"] = timers.run(tickets=1000 if args.quick else 10000, keep=args.keep)
            print(timers.report(results["timers"]), flush=True)
        if args.only in (None, "billing"):
            results["billing"] = billing.run(tickets=1000 if args.quick else 10000, keep=args.keep)
            print(billing.report(results["billing"]), flush=True)
        if args.only in (None, "polling"):
            results["polling"] = polling.run(issues=1000 if args.quick else 10000,
                                             changed=10 if args.quick else 100, keep=args.keep)
            print(polling.report(results["polling"]), flush=True)
        if args.only in (None, "bursts"):
            results["bursts"] = bursts.run(bursts=4, seconds=2 if args.quick else 8,
                                           pause=2 if args.quick else 8,
                                           warmup=1 if args.quick else 2, keep=args.keep)
            print(bursts.report(results["bursts"]), flush=True)
        if args.only in (None, "sustained"):
            results["sustained"] = sustained.run(rate=2000, seconds=5 if args.quick else 60,
                                                 settle=20 if args.quick else 60, keep=args.keep)
            print(sustained.report(results["sustained"]), flush=True)
    except BenchError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        stop_all()
    results["seconds_total"] = round(time.monotonic() - started, 1)
    disturbed = list(busy)
    for part in ("ingest", "revert", "billing", "polling", "bursts", "sustained"):
        section = results.get(part, {})
        for name in ("bare", "bridge"):
            disturbed += section.get(name, {}).get("other_busy_processes", [])
        disturbed += section.get("other_busy_processes", [])
    results["disturbed_by"] = sorted(set(disturbed))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print()
    print(summary(results))
    print(f"\n({results['seconds_total']:.0f} s; all figures in {args.output})")
    lost = ("ingest" in results and not results["ingest"]["targets"]["nothing_lost"]) or (
        "bursts" in results and not results["bursts"]["targets"]["nothing_lost"])
    if lost:
        return 1
    if args.check and not targets_met(results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
