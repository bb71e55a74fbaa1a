"""Crash: deliveries (a fifth of them duplicates, shuffled; forbidden customer moves on
distinct tickets among harmless edits) while the bridge is SIGKILLed three times at random
moments and started again; the sender resends whatever was not acknowledged, as Jira does.

What must hold: no acknowledged delivery is lost, none is decided twice, and every forbidden
move is reverted with exactly one transition and one comment."""

from __future__ import annotations

import random
import signal
import threading
import time

from bench.common import fixture
from drills.sending import Sender
from drills.table import Row
from drills.world import Inbox, change_calls, served, workdir
from tests.e2e.service import wait_until

SIZES = {"long": 10_000, "short": 150}
KILLS = {"long": 3, "short": 1}  # each restart costs seconds; the short run kills once


def deliveries(total: int, rng: random.Random) -> tuple[list[tuple[str, dict]], list[str]]:
    """(what is sent, in order; the tickets with a forbidden move)."""
    duplicates = total // 5
    unique = total - duplicates
    forbidden = [f"SRV-{1000 + n}" for n in range(max(unique // 8, 5))]
    items = []
    for key in forbidden:
        payload = fixture("customer_forbidden_transition.json")
        payload["issue"]["key"] = key
        items.append((f"move-{key}", payload))
    for n in range(unique - len(forbidden)):
        payload = fixture("summary_only_change.json")
        payload["issue"]["key"] = f"SRV-{100_000 + n}"
        items.append((f"edit-{n}", payload))
    sent = items + rng.sample(items, duplicates)
    rng.shuffle(sent)
    return sent, forbidden


def crash(size: str = "short", database: str = "sqlite", seed: int | None = None) -> Row:
    total = SIZES[size]
    rng = random.Random(seed)
    sent, forbidden = deliveries(total, rng)
    unique = {d for d, _ in sent}
    row = Row("crash", database)
    with workdir("crash") as folder, served(folder, database, BRIDGE_LOG_LEVEL="WARNING", BRIDGE_CLAIM_LEASE_SECONDS="20") as (bridge, jira, url):
        assert jira is not None
        jira.control("POST", "/issues", [{"key": k, "status": "Hotovo", "project": "SRV"} for k in forbidden])
        bridge.start()
        sender = Sender(bridge)
        kills_at = sorted(rng.sample(range(total // 10, total * 9 // 10), KILLS[size]))
        killed: list[int] = []

        def killer() -> None:
            for at in kills_at:
                while len(sender.acknowledged) < at * len(unique) / total:
                    if stop.wait(0.01):
                        return
                time.sleep(rng.random() * 0.5)
                bridge.stop(signal.SIGKILL)
                killed.append(len(sender.acknowledged))
                bridge.start()

        stop = threading.Event()
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        started = time.monotonic()
        sender.send_all(sent)
        stop.set()
        thread.join()

        inbox = Inbox(url)
        try:
            settle = 900 if size == "long" else 90
            wait_until(lambda: inbox.busy() == 0 and len(inbox.keys()) >= len(unique), timeout=settle, every=0.5)
            elapsed = time.monotonic() - started
            kept = inbox.keys()
            twice = inbox.rows("SELECT count(*) FROM (SELECT delivery_id FROM decisions GROUP BY delivery_id"
                               " HAVING count(*) > 1) AS d")[0][0]
            reverted_twice = inbox.rows("SELECT count(*) FROM (SELECT ticket FROM decisions WHERE verdict = 'reverted'"
                                        " GROUP BY ticket HAVING count(*) > 1) AS d")[0][0]
        finally:
            inbox.close()
        made = change_calls(jira)
        not_once = [k for k in forbidden if made[(k, "transitions")] != 1 or made[(k, "comment")] != 1]
        not_back = [k for k in forbidden
                    if (issue := jira.control("GET", f"/issues/{k}"))["status"] != "Na klientovi"  # type: ignore[index]
                    or len(issue["comments"]) != 1]  # type: ignore[index]
        lost = [d for d in sender.acknowledged if kept.get(d) != "done"]

        row.figures = {
            "deliveries": total, "unique": len(unique), "forbidden moves": len(forbidden),
            "SIGKILLs": len(killed), "resends": sender.resends,
            "acknowledged": len(sender.acknowledged), "lost": len(lost),
            "decided twice": twice + reverted_twice,
            "tickets without exactly 1 transition + 1 comment": len(set(not_once) | set(not_back)),
            "seconds": round(elapsed),
        }
        row.expect(len(killed) == KILLS[size], f"killed {len(killed)} times, not {KILLS[size]}")
        row.expect(sender.acknowledged == unique, f"{len(unique - sender.acknowledged)} never acknowledged")
        row.expect(not sender.refused, f"refused: {dict(list(sender.refused.items())[:3])}")
        row.expect(not lost, f"lost {lost[:5]}")
        row.expect(twice + reverted_twice == 0, f"decided twice: {twice} deliveries, {reverted_twice} tickets")
        row.expect(not not_once and not not_back, f"not exactly once: {sorted(set(not_once) | set(not_back))[:5]}")
    return row
