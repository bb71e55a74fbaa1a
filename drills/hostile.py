"""Hostile input: schemathesis against the service's own /openapi.json (every operation, with
the admin token), and hypothesis against `POST /webhooks/jira`, which the description leaves
out (a bare ASGI edge): random JSON, the real delivery with its fields replaced by random
values, raw bytes, odd headers; most signed correctly, so that they reach the parser and the
worker.

What must hold: no 5xx, the process never dies, and the worker meets no internal error
(each poison delivery is dead-lettered with a reason, or done)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import fixture, sign
from drills.table import Row
from drills.world import SECRET, Inbox, served, workdir
from tests.e2e.service import ADMIN, wait_until

SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
# (schemathesis examples per operation, hypothesis deliveries)
SIZES = {"long": (300, 3000), "short": (5, 60)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


REAL = fixture("customer_forbidden_transition.json")
REAL_PATHS = _paths(REAL)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The real delivery with some of its values replaced."""
    payload = json.loads(json.dumps(REAL))
    for path in draw(st.lists(st.sampled_from(REAL_PATHS), min_size=1, max_size=4)):
        target = payload
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode()


bodies = (
    mutated()
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=2000)
    | st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=300)
deliveries = st.tuples(
    bodies,
    st.none() | header_text,  # delivery id
    st.sampled_from(["right", "right", "right", "wrong", "none"]),
    st.dictionaries(st.sampled_from(["Content-Type", "X-Atlassian-Webhook-Flow", "User-Agent", "X-Bridge-Token",
                                     "Content-Encoding"]), header_text, max_size=3),
)


def fuzz_webhook(url: str, examples: int) -> tuple[int, list[str]]:
    """(deliveries sent, what answered 5xx or broke the connection)."""
    sent: list[int] = []
    bad: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(deliveries)
    def one(delivery: tuple) -> None:
        body, delivery_id, signing, extra = delivery
        headers = {k: v.encode("latin-1") for k, v in extra.items()}
        if signing != "none":
            headers["X-Hub-Signature"] = sign(body, SECRET if signing == "right" else SECRET + "x").encode()
        if delivery_id is not None:
            headers["X-Atlassian-Webhook-Identifier"] = delivery_id.encode("latin-1")
        try:
            status = httpx.post(f"{url}/webhooks/jira", content=body, headers=headers, timeout=30).status_code
        except httpx.LocalProtocolError:  # a header our own client will not send: not a test of the service
            return
        except httpx.HTTPError as exc:
            sent.append(1)
            bad.append(f"{type(exc).__name__} for {body[:80]!r}")
            return
        sent.append(1)
        if status >= 500:
            bad.append(f"{status} for {body[:80]!r} {headers}")

    one()
    return len(sent), bad


def schemathesis(url: str, examples: int, folder: Path) -> tuple[int, int, str]:
    """(exit status, test cases generated, the failures' summary) of `st run` against /openapi.json."""
    run = subprocess.run(
        [SCHEMATHESIS, "run", f"{url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", str(examples),
         "--workers", "1", "--seed", "1", "--header", f"Authorization: {ADMIN['Authorization']}",
         "--generation-database", "none", "--no-color", "--report-dir", str(folder / "schemathesis")],
        capture_output=True, text=True, timeout=1800, cwd=folder,
    )
    generated = re.search(r"(\d+) generated", run.stdout)
    failures = run.stdout[run.stdout.find("FAILURES"):][:1500] if run.returncode else ""
    return run.returncode, int(generated[1]) if generated else 0, failures or run.stderr[-500:]


def hostile(size: str = "short", database: str = "sqlite") -> Row:
    st_examples, deliveries_count = SIZES[size]
    row = Row("hostile input", database)
    with workdir("hostile") as folder, served(folder, database, BRIDGE_LOG_LEVEL="WARNING",
                                              BRIDGE_FINANCE_TOKEN="drill-finance") as (bridge, jira, url):
        bridge.start()
        code, generated, failures = schemathesis(bridge.url, st_examples, folder)
        sent, bad = fuzz_webhook(bridge.url, deliveries_count)
        alive = bridge.proc is not None and bridge.proc.poll() is None
        inbox = Inbox(url)
        try:
            wait_until(lambda: inbox.busy() == 0, timeout=120, every=0.5)
            internal = inbox.rows("SELECT count(*) FROM deliveries WHERE last_error LIKE 'internal error%'")[0][0]
            states = dict(inbox.states())
        finally:
            inbox.close()
        row.figures = {
            "schemathesis cases": generated, "webhook deliveries": sent,
            "5xx": len(bad) + (1 if code else 0), "crashes": 0 if alive else 1,
            "worker internal errors": internal, "inbox": states,
        }
        row.expect(code == 0, f"schemathesis: {failures}")
        row.expect(generated > 0, "schemathesis generated nothing")
        row.expect(not bad, f"webhook: {bad[:3]}")
        row.expect(alive, "the service died")
        row.expect(internal == 0, f"{internal} deliveries met an internal error in the worker")
    return row
