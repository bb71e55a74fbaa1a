"""What periodic jobs keep: their deliveries, the changes judged, their cursors — on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.store import PENDING, JobRecords, Store, create_db_engine, migrate
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


def test_a_change_is_judged_by_the_first_delivery_that_brings_it(stores):
    _, jobs = stores
    assert jobs.first_judgement("jira", "40017", 5)
    assert jobs.first_judgement("jira", "40017", 5)  # the same delivery again (a retry)
    assert not jobs.first_judgement("jira", "40017", 9)  # the same change by another way
    assert jobs.first_judgement("other-site", "40017", 9)
    assert jobs.judged("jira", ["40017", "40018"]) == {"40017"}


def test_a_cursor_is_kept_per_job_and_tracker(stores):
    _, jobs = stores
    assert jobs.cursor("reconcile", "jira") is None
    first = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    jobs.move_cursor("reconcile", "jira", first)
    jobs.move_cursor("reconcile", "jira", first + timedelta(minutes=5))
    assert jobs.cursor("reconcile", "jira") == first + timedelta(minutes=5)
    assert jobs.cursor("timers", "jira") is None
