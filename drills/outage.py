"""Tracker outage: Jira answers 503 to everything for the first half of the outage, then 429
with Retry-After for the second, while customers make forbidden moves. Nobody replays
anything afterwards.

What must hold: every revert is applied, once, after the outage; nothing is dead-lettered;
no call on a path comes sooner than the Retry-After its last 429 asked for."""

from __future__ import annotations

import time
from collections import defaultdict

from drills.table import Row
from drills.world import CUSTOMER, SECRET, change_calls, served, workdir
from tests.e2e.service import wait_until

# (outage seconds, tickets, Retry-After seconds)
SIZES = {"long": (60, 100, 5), "short": (4, 8, 2)}
# the service's defaults for the long run; the short one keeps the tests' quick retries
PRODUCTION_RETRIES = {
    "BRIDGE_TRACKER_BACKOFF_SECONDS": "0.5", "BRIDGE_TRACKER_ATTEMPTS": "5",
    "BRIDGE_TRACKER_RETRY_INTERVAL_SECONDS": "5", "BRIDGE_TRACKER_RETRY_INTERVAL_MAX_SECONDS": "60",
}
SLACK = 0.05  # the stand-in stamps a call as it arrives; clocks are the same, scheduling is not


def too_soon(calls: list[dict]) -> list[tuple[str, float, float]]:
    """Calls that came on a path before the Retry-After of that path's last 429 had passed:
    (path, seconds waited, seconds asked)."""
    asked: dict[str, tuple[float, float]] = {}
    found = []
    for call in sorted(calls, key=lambda c: c["at"]):
        path = call["path"]
        if path in asked:
            at, wait = asked.pop(path)
            if call["at"] - at < wait - SLACK:
                found.append((path, round(call["at"] - at, 2), wait))
        if call["status"] == 429:
            asked[path] = (call["at"], float(call.get("retry_after") or 0))
    return found


def outage(size: str = "short", database: str = "sqlite") -> Row:
    seconds, count, retry_after = SIZES[size]
    env = PRODUCTION_RETRIES if size == "long" else {}
    row = Row("tracker outage", database)
    with workdir("outage") as folder, served(folder, database, BRIDGE_LOG_LEVEL="WARNING", **env) as (bridge, jira, _):
        assert jira is not None
        bridge.start()
        jira.control("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        keys = [f"SRV-{100 + i}" for i in range(count)]
        jira.control("POST", "/issues", [{"key": k, "status": "Na klientovi", "project": "SRV"} for k in keys])
        jira.control("DELETE", "/calls")
        began = time.monotonic()
        jira.control("POST", "/faults", [
            {"path_regex": "/rest/", "status": 503, "seconds": seconds / 2},
            {"path_regex": "/rest/", "status": 429, "retry_after": retry_after, "seconds": seconds},
        ])
        for key in keys:
            jira.control("POST", f"/issues/{key}/transition", {"to": "Hotovo", "user": CUSTOMER})
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))
        during = [c for c in jira.control("GET", "/calls") if c["status"] in (429, 503)]  # type: ignore[union-attr]
        changed_during = sum(c["method"] == "POST" and c["status"] in (200, 201, 204)
                             for c in jira.control("GET", "/calls"))  # type: ignore[union-attr]
        ended = time.monotonic()

        def back() -> bool:
            return all(jira.control("GET", f"/issues/{k}")["status"] == "Na klientovi" for k in keys)  # type: ignore[index]

        try:
            wait_until(back, timeout=180 if size == "long" else 45, every=0.5)
            recovered = round(time.monotonic() - ended, 1)
        except AssertionError:
            recovered = None
        time.sleep(1)  # room for a second send, if one were coming
        calls = jira.control("GET", "/calls")
        answered_429 = {(c["path"], c["at"]): retry_after for c in calls if c["status"] == 429}  # type: ignore[union-attr]
        for call in calls:  # type: ignore[union-attr]
            if (call["path"], call["at"]) in answered_429:
                call["retry_after"] = retry_after
        early = too_soon(calls)  # type: ignore[arg-type]
        made = change_calls(jira)
        not_once = [k for k in keys if made[(k, "transitions")] != 1 or made[(k, "comment")] != 1
                    or len(jira.control("GET", f"/issues/{k}")["comments"]) != 1]  # type: ignore[index]
        dead = bridge.api("/api/deliveries", state="dead")
        by_status: dict[int, int] = defaultdict(int)
        for call in during:
            by_status[call["status"]] += 1
        row.figures = {
            "outage s": seconds, "reverts": count,
            "calls during outage": f"{len(during)} ({by_status[503]}×503, {by_status[429]}×429)",
            "changes made during it": changed_during,
            "all applied after, s": recovered, "not exactly once": len(not_once), "dead": len(dead),
            f"calls sooner than Retry-After {retry_after}s": len(early),
        }
        row.expect(recovered is not None, "not every revert was applied after the outage")
        row.expect(changed_during == 0, f"{changed_during} changes went through during the outage")
        row.expect(not not_once, f"not exactly once: {not_once[:5]}")
        row.expect(not dead, f"{len(dead)} dead-lettered")
        row.expect(not early, f"Retry-After not honoured: {early[:3]}")
    return row
