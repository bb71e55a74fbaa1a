"""The inbox, decisions and actions on real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from bridge.store import (
    DEAD,
    DONE,
    PENDING,
    PROCESSING,
    REJECTED,
    RETRYING,
    DecisionRecord,
    Finished,
    Held,
    Incoming,
    InboxWriter,
    Store,
    create_db_engine,
    migrate,
)
from bridge.store.tables import metadata
from tests.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Store(engine)
        engine.dispose()


def incoming(key: str, body: bytes = b'{"webhookEvent": "x"}', **kw) -> Incoming:
    return Incoming("jira", key, {"x-atlassian-webhook-identifier": key}, body, **kw)


async def put_all(store: Store, items: list[Incoming]) -> int:
    commits = []
    writer = InboxWriter(store.engine, on_commit=lambda: commits.append(1))
    writer.start()
    try:
        await asyncio.gather(*(writer.put(i) for i in items))
    finally:
        writer.stop()
    return len(commits)


RECORD = DecisionRecord("jira", "SRV-1", "jira:issue_updated", "Jana", "customer", "A", "B", "wf", "ignored", "no-rule", "r", False)


def test_migrations_match_the_table_definitions(store):
    found = inspect(store.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in found.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
        indexes = {
            (ix["name"], bool(ix["unique"]))
            for ix in found.get_indexes(table.name)
            if "duplicates_constraint" not in ix  # PostgreSQL's own for unique constraints
        }
        assert indexes == {(ix.name, bool(ix.unique)) for ix in table.indexes}, table.name


async def test_group_commit_stores_every_delivery_once(store):
    items = [incoming(f"d-{i}") for i in range(300)] + [incoming("d-1"), incoming("d-2")]
    commits = await put_all(store, items)
    assert commits < len(items)  # committed in groups
    assert store.counts()[PENDING] == 300


async def test_duplicate_delivery_is_dropped_silently(store):
    await put_all(store, [incoming("same")])
    await put_all(store, [incoming("same", body=b'{"webhookEvent": "other"}')])
    rows = store.list_deliveries(include_body=True)
    assert len(rows) == 1 and "x" in rows[0]["body"]
    assert rows[0]["headers"] == {"x-atlassian-webhook-identifier": "same"}


async def test_rejected_delivery_is_kept_with_its_reason(store):
    await put_all(store, [incoming("bad", body=b"{nope", state=REJECTED, error="body is not valid JSON")])
    (row,) = store.list_deliveries(REJECTED, include_body=True)
    assert row["body"] == "{nope" and row["last_error"] == "body is not valid JSON"
    assert store.claim(10) == []  # never processed


async def test_claim_finish_and_replay(store):
    await put_all(store, [incoming(f"k{i}") for i in range(5)])
    first = store.claim(3)
    assert [c.delivery_key for c in first] == ["k0", "k1", "k2"] and all(c.claims == 1 for c in first)
    assert [c.delivery_key for c in store.claim(10)] == ["k3", "k4"]
    assert store.claim(10) == []
    store.finish_many([Finished(first[0].id, DONE, RECORD), Finished(first[1].id, DEAD, error="Jira down")])
    assert store.counts()[DEAD] == 1 and store.counts()[DONE] == 1
    (dead,) = store.list_deliveries(DEAD)
    assert dead["last_error"] == "Jira down"
    assert store.replay(dead["id"])
    (again,) = store.claim(10)
    assert again.id == dead["id"] and again.claims == 2
    assert not store.replay(999999)
    assert store.list_decisions("SRV-1")[0]["rule"] == "no-rule"


async def test_concurrent_claims_never_share_a_delivery(store):
    await put_all(store, [incoming(f"c{i}") for i in range(200)])
    seen: list[int] = []
    lock = threading.Lock()

    def claimer():
        while batch := store.claim(7):
            with lock:
                seen.extend(c.id for c in batch)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 and len(set(seen)) == 200


async def test_actions_recorded_before_applied_and_resumable(store):
    await put_all(store, [incoming("act")])
    (claimed,) = store.claim(1)
    assert store.unfinished_actions(claimed.id) is None  # never decided
    planned = [
        ("jira:act:0:transition", "transition", "SRV-1", {"transition_id": "31"}),
        ("jira:act:1:comment", "comment", "SRV-1", {"body": "b", "public": True}),
    ]
    pending = store.record_decision(claimed.id, RECORD, planned)
    store.set_action_outcome(pending[0].id, "done")
    store.set_action_outcome(pending[1].id, "failed", "503")
    left = store.unfinished_actions(claimed.id)
    assert [a.kind for a in left] == ["comment"]
    (decision,) = store.list_decisions("SRV-1")
    assert [a["outcome"] for a in decision["actions"]] == ["done", "failed"]
    assert decision["actions"][1]["error"] == "503"


async def test_decisions_recorded_together_each_get_their_actions_and_one_refused_fails_alone(store):
    await put_all(store, [incoming("g1"), incoming("g2"), incoming("g3")])
    first, second, third = store.claim(3)
    taken = ("jira:g1:0:transition", "transition", "SRV-1", {"transition_id": "31"})
    answers = store.record_decisions([
        (first.id, RECORD, [taken, ("jira:g1:1:comment", "comment", "SRV-1", {"body": "b", "public": True})]),
        (second.id, RECORD, [taken]),  # its key is the first's: the database refuses it
        (third.id, RECORD, [("jira:g3:0:transition", "transition", "SRV-1", {"transition_id": "31"})]),
    ])
    assert [a.key for a in answers[0]] == ["jira:g1:0:transition", "jira:g1:1:comment"]
    assert isinstance(answers[1], Exception)
    assert [a.key for a in answers[2]] == ["jira:g3:0:transition"]
    assert [a.kind for a in store.unfinished_actions(first.id)] == ["transition", "comment"]
    assert store.unfinished_actions(second.id) is None  # nothing of it was kept
    assert [a.id for a in store.unfinished_actions(third.id)] == [answers[2][0].id]


async def test_retrying_deliveries_wait_until_due_and_hold_their_ticket(store):
    await put_all(store, [incoming("r1"), incoming("r2"), incoming("r3")])
    first, second, third = store.claim(3)
    soon, later = datetime.now(UTC) - timedelta(seconds=1), datetime.now(UTC) + timedelta(hours=1)
    since = datetime.now(UTC) - timedelta(minutes=3)
    store.finish_many([
        Finished(first.id, RETRYING, None, "503", later, "SRV-1", since),
        Finished(second.id, RETRYING, None, "waits", soon, "SRV-1"),
        Finished(third.id, DONE),
    ])
    assert store.counts()[RETRYING] == 2 and not store.list_deliveries(RETRYING)[0]["finished_at"]
    held = store.held_tickets()
    assert held == {("jira", "SRV-1"): Held(first.id, later)}
    (due,) = store.claim(10)  # the first is not due yet
    assert due.id == second.id and due.retrying_since is None
    assert store.replay(first.id)  # "retry now"
    (again,) = store.claim(10)
    assert again.id == first.id and again.retrying_since is None and again.claims == 2
    store.finish_many([Finished(first.id, RETRYING, None, "503", soon, "SRV-1", since)])
    (resumed,) = store.claim(10)
    assert resumed.retrying_since == since


async def test_dry_run_actions_are_listed_not_pending(store):
    await put_all(store, [incoming("dry")])
    (claimed,) = store.claim(1)
    dry = DecisionRecord(**{**RECORD.__dict__, "dry_run": True})
    assert store.record_decision(claimed.id, dry, [("k", "comment", "SRV-1", {"body": "b", "public": True})]) == []
    (decision,) = store.list_decisions()
    assert decision["dry_run"] and decision["actions"][0]["outcome"] == "dry_run"


async def test_release_all_claims_after_a_crash(store):
    await put_all(store, [incoming("crash")])
    store.claim(1)
    assert store.counts()[PROCESSING] == 1
    assert store.release_all_claims() == 1
    assert store.counts()[PENDING] == 1


async def test_acknowledged_deliveries_commit_with_full_sync_on_sqlite(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'sync.db'}")
    migrate(engine)
    writer = InboxWriter(engine)
    writer.start()
    try:
        await writer.put(incoming("sync"))
        assert writer._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        writer.stop()
    for _ in range(2):
        with engine.connect() as conn:  # bookkeeping: durable with the next inbox commit
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


async def test_customer_chain_is_the_latest_status_change_when_a_customer_left_it_stale(store):
    await put_all(store, [incoming(f"ch{i}") for i in range(4)])
    ids = [c.id for c in store.claim(4)]

    def record(i: int, **kw: object) -> None:
        fields = {**RECORD.__dict__, "ticket": "SRV-9", **kw}
        store.finish_many([Finished(ids[i], DONE, DecisionRecord(**fields))])

    assert store.customer_chain("jira", "SRV-9") == (None, None)
    record(0, verdict="stale", rule="stale", actor_role="customer", from_status="Na klientovi", to_status="Hotovo")
    assert store.customer_chain("jira", "SRV-9") == ("Na klientovi", "Hotovo")
    record(1, verdict="ignored", rule="no-rule", from_status=None, to_status=None)  # a comment meanwhile
    assert store.customer_chain("jira", "SRV-9") == ("Na klientovi", "Hotovo")
    assert store.customer_chain("jira", "SRV-10") == (None, None)
    record(2, verdict="stale", rule="stale", actor_role="customer", from_status="Hotovo",
           to_status="Schváleno", chain_from="Na klientovi")
    assert store.customer_chain("jira", "SRV-9") == ("Na klientovi", "Schváleno")
    # read for a whole claim at once, each ticket's as it is read alone
    assert store.customer_chains("jira", ["SRV-9", "SRV-10"]) == {
        "SRV-9": ("Na klientovi", "Schváleno"), "SRV-10": (None, None)
    }
    assert store.customer_chains("other-site", ["SRV-9"]) == {"SRV-9": (None, None)}
    record(3, verdict="ignored", rule="own-change", actor_role="bridge", from_status="Schváleno", to_status="Na klientovi")
    assert store.customer_chain("jira", "SRV-9") == (None, None)
    assert store.customer_chains("jira", ["SRV-9"]) == {"SRV-9": (None, None)}


async def put_each(store: Store, items: list[Incoming]) -> list[BaseException | None]:
    """Put all at once (so they share commits); what each request learnt."""
    writer = InboxWriter(store.engine)
    writer.start()
    try:
        return await asyncio.gather(*(writer.put(i) for i in items), return_exceptions=True)
    finally:
        writer.stop()


async def test_a_row_the_database_refuses_fails_only_its_own_request(store):
    good = [incoming(f"g-{i}") for i in range(150)]
    bad = Incoming("jira", "bad", {}, b"{}", state=None)  # type: ignore[arg-type]  # NOT NULL
    answers = await put_each(store, good[:70] + [bad] + good[70:])
    assert [a is None for a in answers].count(False) == 1
    assert answers[70] is not None
    assert store.counts()[PENDING] == 150


async def test_a_nul_in_a_rejection_reason_is_dropped_before_storing(store):
    answers = await put_each(store, [incoming("ok"), incoming("nul", body=b"{", state=REJECTED, error="bad\x00 byte")])
    assert answers == [None, None]
    (row,) = store.list_deliveries(REJECTED)
    assert row["last_error"] == "bad byte"


def record(**changes) -> DecisionRecord:
    return DecisionRecord(**{**RECORD.__dict__, **changes})


async def test_a_result_the_database_cannot_hold_is_dead_lettered_alone(store):
    await put_all(store, [incoming(f"r{i}") for i in range(3)])
    first, odd, last = store.claim(10)
    unbindable = record(actor={"name": "Jana"})  # type: ignore[arg-type]
    store.finish_many([Finished(first.id, DONE, RECORD), Finished(odd.id, DONE, unbindable), Finished(last.id, DONE, RECORD)])
    states = {row["id"]: (row["state"], row["last_error"]) for row in store.list_deliveries()}
    assert states[first.id] == (DONE, None) and states[last.id] == (DONE, None)
    assert states[odd.id][0] == DEAD and "could not be recorded" in states[odd.id][1]
    assert store.counts()[PROCESSING] == 0
    assert len(store.list_decisions("SRV-1")) == 2


async def test_texts_are_stored_without_nul_and_within_their_columns(store):
    await put_all(store, [incoming("t1"), incoming("t2")])
    decided, dead = store.claim(10)
    long_status = "Čeká na zákazníka " * 30
    store.finish_many([
        Finished(decided.id, DONE, record(actor="Ja\x00na (qm:1)", to_status=long_status, reason="moved by Ja\x00na")),
        Finished(dead.id, DEAD, error="Jira said: \x00nope"),
    ])
    (decision,) = store.list_decisions("SRV-1")
    assert decision["actor"] == "Jana (qm:1)" and decision["reason"] == "moved by Jana"
    assert decision["to_status"] == long_status[:255]
    assert store.list_deliveries(DEAD)[0]["last_error"] == "Jira said: nope"


async def test_decisions_with_actions_and_action_errors_are_stored_without_nul(store):
    await put_all(store, [incoming("a1")])
    (claimed,) = store.claim(1)
    planned = [("jira:a1:0:comment", "comment", "SRV-1", {"body": "b", "public": True})]
    (action,) = store.record_decision(claimed.id, record(actor="Ja\x00na"), planned)
    store.set_action_outcome(action.id, "failed", "Jira said: \x00nope")
    (decision,) = store.list_decisions("SRV-1")
    assert decision["actor"] == "Jana" and decision["actions"][0]["error"] == "Jira said: nope"


async def test_a_claim_held_past_its_lease_is_taken_up_by_another_process(store):
    """A process that died holding a claim (PostgreSQL: nobody releases it) gives it up once
    the lease runs out; before that nobody else takes it."""
    await put_all(store, [incoming("d-held")])
    (held,) = store.claim(10)
    other = Store(store.engine)
    other.lease = timedelta(seconds=0.5)
    assert other.claim(10) == []
    await asyncio.sleep(0.6)
    (again,) = other.claim(10)
    assert again.id == held.id and again.claims == 2
