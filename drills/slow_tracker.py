"""Slow tracker: Jira answers every call only after a while (within the bridge's timeout),
then answers its changes only after the bridge has given up on them (the change is made all
the same), while customers make forbidden moves and other deliveries keep coming.

What must hold: deliveries are still acknowledged promptly (the figures say how promptly;
no timed assertion), memory stays bounded, and every revert is applied exactly once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import fixture, percentile
from drills.table import Row
from drills.world import CUSTOMER, SECRET, change_calls, served, workdir
from tests.e2e.service import wait_until

# (tickets per phase, slow answer ms, late answer ms, the bridge's tracker timeout s, deliveries timed)
SIZES = {"long": (40, 5000, 12000, 10.0, 400), "short": (2, 500, 1500, 1.0, 20)}


def rss_kb(pid: int) -> tuple[int, int]:
    """(resident now, peak) in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def slow_tracker(size: str = "short", database: str = "sqlite") -> Row:
    count, slow_ms, late_ms, timeout, timed = SIZES[size]
    row = Row("slow tracker", database)
    with workdir("slow") as folder, served(folder, database, BRIDGE_LOG_LEVEL="WARNING",
                                           BRIDGE_TRACKER_TIMEOUT_SECONDS=str(timeout)) as (bridge, jira, _):
        assert jira is not None
        bridge.start()
        jira.control("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        keys = [f"SRV-{100 + i}" for i in range(2 * count)]
        jira.control("POST", "/issues", [{"key": k, "status": "Na klientovi", "project": "SRV"} for k in keys])
        latencies: list[float] = []

        def timed_post(n: int) -> None:
            payload = fixture("summary_only_change.json")
            payload["issue"]["key"] = f"SRV-{9000 + n}"
            began = time.monotonic()
            if bridge.post(payload, f"timed-{n}").status_code == 200:
                latencies.append(time.monotonic() - began)

        def back(some: list[str]) -> bool:
            """Reverted: moved back, and the comment made (its answer may still be held back)."""
            issues = [jira.control("GET", f"/issues/{k}") for k in some]
            return all(i["status"] == "Na klientovi" and i["comments"] for i in issues)  # type: ignore[index]

        settle = count * (slow_ms + late_ms) / 1000 * 3 + 60
        with ThreadPoolExecutor(4) as pool:
            # slow answers, within the timeout
            jira.control("POST", "/faults", {"path_regex": "/rest/", "delay_ms": slow_ms, "seconds": 3600})
            for key in keys[:count]:
                jira.control("POST", f"/issues/{key}/transition", {"to": "Hotovo", "user": CUSTOMER})
            list(pool.map(timed_post, range(timed // 2)))
            slow_back = _within(lambda: back(keys[:count]), settle)
            # changes made, their answers after the bridge gave up
            jira.control("DELETE", "/faults")
            jira.control("POST", "/faults", {"path_regex": "/(transitions|comment)$", "method": "POST",
                                             "late_ms": late_ms, "seconds": 3600})
            for key in keys[count:]:
                jira.control("POST", f"/issues/{key}/transition", {"to": "Hotovo", "user": CUSTOMER})
            list(pool.map(timed_post, range(timed // 2, timed)))
            late_back = _within(lambda: back(keys[count:]), settle)
        time.sleep(late_ms / 1000 + 1)  # the late answers arrive; room for a second send, were one coming
        jira.control("DELETE", "/faults")
        made = change_calls(jira)
        not_once = [k for k in keys if made[(k, "transitions")] != 1 or made[(k, "comment")] != 1
                    or len(jira.control("GET", f"/issues/{k}")["comments"]) != 1]  # type: ignore[index]
        rss, peak = rss_kb(bridge.proc.pid)  # type: ignore[union-attr]
        dead = bridge.api("/api/deliveries", state="dead")
        latencies.sort()
        row.figures = {
            "answers after": f"{slow_ms / 1000:g} s, then {late_ms / 1000:g} s (timeout {timeout:g} s)",
            "reverts": len(keys), "acknowledged": f"{len(latencies)}/{timed}",
            "ack p50/p99/max ms": "/".join(f"{(percentile(latencies, p) or 0) * 1000:.0f}" for p in (50, 99, 100)),
            "RSS MB (peak)": f"{rss / 1024:.0f} ({peak / 1024:.0f})",
            "not exactly once": len(not_once), "dead": len(dead),
        }
        row.expect(len(latencies) == timed, f"only {len(latencies)} of {timed} deliveries acknowledged")
        row.expect(slow_back and late_back, "not every revert was applied")
        row.expect(not not_once, f"not exactly once: {not_once[:5]}")
        row.expect(not dead, f"{len(dead)} dead-lettered")
    return row


def _within(check, seconds: float) -> bool:
    try:
        wait_until(check, timeout=seconds, every=0.5)
        return True
    except AssertionError:
        return False
