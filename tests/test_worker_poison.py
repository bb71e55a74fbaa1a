"""A delivery that cannot be handled is dead-lettered alone, with its reason; everything
claimed with it goes on. On SQLite and PostgreSQL, whose refusals differ."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.engine import Event
from bridge.trackers.base import Tracker
from bridge.worker import Worker
from tests import poison
from tests.conftest import load_fixture
from tests.databases import database_url
from tests.test_processing import Harness, forbidden, issue


@pytest.fixture(params=["sqlite", "postgresql"])
async def harness(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        h = Harness(tmp_path, database_url=url)
        h.services.inbox.start()
        await h.services.worker.tracker.identity()
        h.standin.calls.clear()
        yield h
        h.services.inbox.stop()
        h.services.store.engine.dispose()


def states(h: Harness) -> dict[str, dict]:
    return {row["delivery_key"]: row for row in h.services.store.list_deliveries(limit=500)}


async def test_poison_is_dead_lettered_alone_and_the_rest_goes_on(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    for delivery_id, (payload, _) in poison.DEAD.items():  # the oldest: claimed first
        await harness.deliver(payload, delivery_id)
    await harness.deliver(forbidden(), "revert")
    for i in range(5):
        await harness.deliver(load_fixture("summary_only_change.json"), f"quiet-{i}")
    await harness.process()

    found = states(harness)
    for delivery_id, (_, reason) in poison.DEAD.items():
        assert found[delivery_id]["state"] == "dead", found[delivery_id]
        assert reason in found[delivery_id]["last_error"]
    others = {key: row["state"] for key, row in found.items() if key not in poison.DEAD}
    assert set(others.values()) == {"done"} and len(others) == 7  # the revert's own echo too
    assert harness.standin.issues["SRV-412"].status == "Na klientovi"
    assert all(path.startswith("/rest/api/3/issue/SRV-412") for _, path in harness.rest_calls())


async def test_a_nul_in_an_actors_name_is_dropped_and_the_delivery_ends(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    quiet = load_fixture("summary_only_change.json")
    quiet["user"]["displayName"] = "Petr\x00 Konzultant"
    await harness.deliver(quiet, "quiet")
    await harness.deliver(poison.nul_in_actor_name(), "revert")
    await harness.process()

    assert {row["state"] for row in states(harness).values()} == {"done"}
    actors = {d["actor"].split(" (")[0] for d in harness.decisions("SRV-412")}
    assert {"Petr Konzultant", "Jana Nováková"} <= actors
    assert harness.standin.issues["SRV-412"].status == "Na klientovi"


class Flawed:
    """The real adapter, but a delivery marked `trips-a-bug` raises an unforeseen error in
    parsing, and one marked `unstorable` parses into an event the database cannot hold."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self.name = tracker.name

    def parse(self, body: bytes) -> Event:
        if b"trips-a-bug" in body:
            raise KeyError("trips-a-bug")
        event = self._tracker.parse(body)
        return replace(event, raw_event={"not": "text"}) if b"unstorable" in body else event

    def __getattr__(self, name: str) -> object:
        return getattr(self._tracker, name)


async def test_an_unforeseen_failure_dead_letters_only_its_delivery(harness):
    services = harness.services
    worker = Worker(services.store, Flawed(services.worker.tracker), services.worker.executor,
                    lambda: services.registry.current)
    for marker in ("trips-a-bug", "unstorable", "fine", "fine too"):
        payload = load_fixture("summary_only_change.json") | {"marker": marker}
        await harness.deliver(payload, marker)
    assert await worker.run_once() == 4

    found = states(harness)
    assert found["trips-a-bug"]["state"] == "dead" and "KeyError" in found["trips-a-bug"]["last_error"]
    assert found["unstorable"]["state"] == "dead" and "could not be recorded" in found["unstorable"]["last_error"]
    assert found["fine"]["state"] == found["fine too"]["state"] == "done"
