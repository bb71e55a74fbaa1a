"""What periodic jobs keep: their deliveries, the changes judged, their cursors — on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.store import DEAD, DONE, PENDING, Finished, JobRecords, Store, create_db_engine, migrate
from tests.store.test_store import incoming, put_all
from tests.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Store(engine), JobRecords(engine)
        engine.dispose()


def test_work_is_queued_once_by_its_key(stores):
    store, jobs = stores
    work = [("timer:SRV-1:t:expire", {"job": "timer"}), ("timer:SRV-2:t:expire", {"job": "timer"})]
    assert jobs.enqueue("jira", work) == ["timer:SRV-1:t:expire", "timer:SRV-2:t:expire"]
    assert jobs.enqueue("jira", work + [("timer:SRV-3:t:remind-0", {})]) == ["timer:SRV-3:t:remind-0"]
    assert store.counts()[PENDING] == 3
    (claimed, *_) = store.claim(1)
    assert claimed.body == b'{"job":"timer"}'


async def test_a_change_is_marked_judged_as_its_delivery_ends(stores):
    store, jobs = stores
    await put_all(store, [incoming("w1"), incoming("w2"), incoming("w3")])
    first, second, dead = store.claim(3)
    store.finish_many([
        Finished(first.id, DONE, change=("jira", "SRV-1/40017")),
        Finished(second.id, DONE, change=("jira", "SRV-1/40017")),  # the later one does not own it
        Finished(dead.id, DEAD, change=("jira", "SRV-2/40018")),  # a dead one judged nothing
    ])
    assert jobs.judged_by("jira", "SRV-1/40017") == first.id
    assert jobs.judged_by("other-site", "SRV-1/40017") is None
    assert jobs.judged("jira", ["SRV-1/40017", "SRV-2/40018"]) == {"SRV-1/40017"}
    asked = [("jira", "SRV-1/40017"), ("jira", "SRV-2/40018"), ("other-site", "SRV-1/40017")]
    assert jobs.judged_among(asked) == {("jira", "SRV-1/40017"): first.id}
    assert jobs.judged_among([]) == {}


def test_a_cursor_is_kept_per_job_and_tracker(stores):
    _, jobs = stores
    assert jobs.cursor("reconcile", "jira") is None
    first = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    jobs.move_cursor("reconcile", "jira", first)
    jobs.move_cursor("reconcile", "jira", first + timedelta(minutes=5))
    assert jobs.cursor("reconcile", "jira") == first + timedelta(minutes=5)
    assert jobs.cursor("timers", "jira") is None
