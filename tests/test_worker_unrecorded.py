"""A worker pass whose record the database refused (a PostgreSQL restart, a terminated
connection) gives its claims back as soon as the database answers again: the deliveries are
taken up at the next pass, not left `processing` until their lease runs out."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import load_fixture
from tests.test_processing import Harness, forbidden, issue


@pytest.fixture
async def harness(tmp_path):
    h = Harness(tmp_path)
    h.services.inbox.start()
    await h.services.worker.tracker.identity()
    yield h
    h.services.inbox.stop()
    h.services.store.engine.dispose()


def refuse_once(store, name: str) -> list[int]:
    """`store.<name>` raises as a lost connection does, the first time it has something to
    record; the calls with something are counted."""
    real, calls = getattr(store, name), []

    def flaky(results, *args, **kwargs):
        if results:
            calls.append(1)
        if len(calls) == 1 and results:
            raise OperationalError("UPDATE deliveries", {}, Exception("server closed the connection unexpectedly"))
        return real(results, *args, **kwargs)

    setattr(store, name, flaky)
    return calls


def states(h: Harness) -> dict[str, str]:
    return {row["delivery_key"]: row["state"] for row in h.services.store.list_deliveries(limit=50)}


async def test_a_batch_whose_end_was_not_recorded_is_taken_up_at_the_next_pass(harness):
    for i in range(3):
        await harness.deliver(load_fixture("summary_only_change.json"), f"quiet-{i}")
    refuse_once(harness.services.store, "finish_many")
    with pytest.raises(OperationalError):
        await harness.services.worker.run_once()
    assert set(states(harness).values()) == {"processing"}

    await harness.services.worker.run_once()
    assert states(harness) == {f"quiet-{i}": "done" for i in range(3)}


async def test_a_revert_whose_end_was_not_recorded_is_finished_without_acting_twice(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    await harness.deliver(forbidden(), "revert")
    refuse_once(harness.services.store, "finish_many")
    await harness.services.worker.run_once()  # the revert runs as a task; its record is refused
    assert states(harness)["revert"] == "processing"

    await harness.process()
    assert states(harness)["revert"] == "done"
    assert harness.standin.issues["SRV-412"].status == "Na klientovi"
    posts = [path for method, path in harness.rest_calls() if method == "POST"]
    assert sorted(posts) == ["/rest/api/3/issue/SRV-412/comment", "/rest/api/3/issue/SRV-412/transitions"]
