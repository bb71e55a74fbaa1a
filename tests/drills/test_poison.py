"""Drill: poison deliveries mixed into a burst of ordinary ones, sent to the real `bridge serve`
on SQLite and on PostgreSQL.

What must hold: every request is answered for itself (no ordinary delivery gets 503 because a
poison one shared its commit), every ordinary delivery ends `done`, every poison one ends
`dead` with a reason an operator can read, nothing stays `processing`, no REST call leaves
the ticket it belongs to, and a restart takes nothing up again.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import poison
from tests.conftest import load_fixture
from tests.databases import database_url
from tests.e2e.conftest import SECRET, Bridge, wait_until

REVERTS = [f"SRV-{n}" for n in range(100, 120)]
QUIET = 40
OWN_PATHS = re.compile(r"/rest/api/3/(myself|issue/SRV-1[0-2][0-9](/transitions|/comment)?)")


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path, jira):
    with database_url(request.param, tmp_path) as url:
        bridge = Bridge(tmp_path, jira.url, BRIDGE_DATABASE_URL=url).start()
        jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        try:
            yield bridge
        finally:
            bridge.stop()


def burst() -> list[tuple[str, dict]]:
    """Ordinary deliveries, with every kind of poison in the middle."""
    ordinary = []
    for key in REVERTS:
        payload = load_fixture("customer_forbidden_transition.json")
        payload["issue"]["key"] = key
        ordinary.append((f"revert-{key}", payload))
    for n in range(QUIET):
        payload = load_fixture("summary_only_change.json")
        payload["issue"]["key"] = f"SRV-{200 + n}"
        ordinary.append((f"quiet-{n}", payload))
    random.Random(7).shuffle(ordinary)
    bad = [(delivery_id, payload) for delivery_id, (payload, _) in poison.DEAD.items()]
    bad += [(poison.LONG_DELIVERY_ID, load_fixture("summary_only_change.json")),
            ("nul-name", poison.nul_in_actor_name("SRV-120"))]
    middle = len(ordinary) // 2
    return ordinary[:middle] + bad + ordinary[middle:]


def deliveries(bridge: Bridge) -> dict[str, dict]:
    return {row["delivery_key"]: row for row in bridge.api("/api/deliveries", limit="1000")}


def settled(bridge: Bridge, expected: int) -> dict[str, dict] | None:
    rows = deliveries(bridge)
    busy = [r for r in rows.values() if r["state"] in ("pending", "processing")]
    return rows if len(rows) >= expected and not busy else None


def test_poison_in_a_burst_is_dead_lettered_alone(served: Bridge, jira):
    for key in [*REVERTS, "SRV-120"]:
        jira("POST", "/issues", {"key": key, "status": "Hotovo", "project": "SRV"})
    sent = burst()
    with ThreadPoolExecutor(16) as pool:
        answers = dict(zip((d for d, _ in sent), pool.map(lambda s: served.post(s[1], s[0]), sent)))
    assert {d: a.status_code for d, a in answers.items() if a.status_code != 200} == {}
    long_key = answers[poison.LONG_DELIVERY_ID].json()["delivery"]
    assert long_key == "sha256:" + hashlib.sha256(poison.LONG_DELIVERY_ID.encode()).hexdigest()

    echoes = len(REVERTS) + 1  # the stand-in reports the bridge's own reverts back
    rows = wait_until(lambda: settled(served, len(sent) + echoes), timeout=30, every=0.2)
    for delivery_id, (_, reason) in poison.DEAD.items():
        row = rows.pop(delivery_id)
        # dead at the first look, before any call to the tracker on its behalf
        assert (row["state"], row["attempts"]) == ("dead", 0) and reason in row["last_error"], row
    assert {key: row["state"] for key, row in rows.items() if row["state"] != "done"} == {}
    assert rows[long_key]["state"] == "done"
    assert all(jira("GET", f"/issues/{key}")["status"] == "Na klientovi" for key in [*REVERTS, "SRV-120"])
    (nul_named, _) = served.api("/api/decisions", ticket="SRV-120")[::-1]
    assert nul_named["actor"].startswith("Jana Nováková (") and nul_named["verdict"] == "reverted"
    calls = jira("GET", "/calls")
    assert [c["path"] for c in calls if not OWN_PATHS.fullmatch(c["path"])] == []

    before = deliveries(served)
    log_size = served.log.stat().st_size
    served.stop()
    served.start()
    time.sleep(2)  # longer than the worker's idle wait: it has looked at the inbox again
    assert deliveries(served) == before
    after = [c["path"] for c in jira("GET", "/calls")[len(calls):]]
    assert set(after) <= {"/rest/api/3/myself"}  # it learns its own account again, nothing more
    assert "taking up" not in served.log.read_text()[log_size:]
