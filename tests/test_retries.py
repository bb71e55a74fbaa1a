"""Tracker outages and lost answers, in one process against the stand-in: a delivery waits
and is applied when the tracker is back, a ticket's deliveries keep their order, and a
change whose answer was lost is looked up, never sent twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bridge.store import DEAD, DONE, RETRYING
from tests.test_processing import ADMIN, Harness, forbidden, issue

TRANSITION = ("POST", "/rest/api/3/issue/SRV-412/transitions")
COMMENT = ("POST", "/rest/api/3/issue/SRV-412/comment")


async def started(h: Harness) -> Harness:
    h.services.inbox.start()
    await h.services.worker.tracker.identity()
    h.standin.calls.clear()
    return h


@pytest.fixture
async def harness(tmp_path):
    # long enough that a delivery is seen waiting before it comes due again, on a slow run too
    h = await started(Harness(tmp_path, tracker_retry_interval_seconds=0.3,
                              tracker_retry_interval_max_seconds=0.3))
    yield h
    h.services.inbox.stop()


async def until_settled(h: Harness, rounds: int = 100) -> None:
    """Process, letting waiting deliveries come due, until nothing is left to do."""
    for _ in range(rounds):
        await h.process()
        counts = h.services.store.counts()
        if not counts["retrying"] and not counts["pending"]:
            return
        await asyncio.sleep(0.06)
    raise AssertionError(f"still not settled: {h.services.store.counts()}")


def comments(h: Harness, key: str = "SRV-412") -> list[dict]:
    return h.standin.issues[key].comments


async def test_while_jira_is_down_the_delivery_waits_and_is_applied_when_it_is_back(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    harness.standin.add_fault({"path_regex": "/issue/SRV-412$", "status": 503, "times": 2, "retry_after": 0})
    await harness.deliver(forbidden())
    await harness.process()
    (waiting,) = harness.services.store.list_deliveries(RETRYING)
    assert "503" in waiting["last_error"] and harness.standin.issues["SRV-412"].status == "Hotovo"
    assert waiting["attempts"] == 2  # the two reads Jira refused
    assert harness.services.store.list_deliveries(DEAD) == []

    await until_settled(harness)  # Jira answers again: nobody had to replay anything
    assert harness.standin.issues["SRV-412"].status == "Na klientovi"
    assert len(comments(harness)) == 1
    done = harness.services.store.list_deliveries(DONE)[-1]
    assert done["id"] == waiting["id"] and done["attempts"] == 2 + 3  # read, transition, comment


async def test_an_outage_longer_than_the_horizon_dead_letters_and_replay_reverts(tmp_path):
    h = await started(Harness(tmp_path, tracker_retry_horizon_seconds=0))
    try:
        issue(h.standin, "SRV-412", "Hotovo")
        h.standin.add_fault({"path_regex": "/issue/SRV-412$", "status": 503, "times": 2, "retry_after": 0})
        await h.deliver(forbidden())
        await h.process()
        (dead,) = h.services.store.list_deliveries(DEAD)
        assert "gave up" in dead["last_error"] and "503" in dead["last_error"]

        api, replay = h.bridge, f"/api/deliveries/{dead['id']}/replay"
        assert (await api.post(replay)).status_code == 401
        assert (await api.post(replay, headers={"Authorization": "Bearer wrong"})).status_code == 401
        listed = await api.get("/api/deliveries", params={"state": "dead"}, headers=ADMIN)
        assert [d["id"] for d in listed.json()] == [dead["id"]]
        assert (await api.post(replay, headers=ADMIN)).json()["state"] == "pending"
        await h.process()
        assert h.standin.issues["SRV-412"].status == "Na klientovi"
        found = (await api.get("/api/decisions", params={"ticket": "SRV-412"}, headers=ADMIN)).json()
        assert "reverted" in [d["verdict"] for d in found]
        assert (await api.post(replay, headers=ADMIN)).status_code == 200  # done may be replayed
        assert (await api.post("/api/deliveries/99999/replay", headers=ADMIN)).status_code == 409
    finally:
        h.services.inbox.stop()


async def test_a_refusal_is_dead_at_once(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    harness.standin.add_fault({"path_regex": "/transitions$", "method": "POST", "status": 403})
    await harness.deliver(forbidden())
    await harness.process()
    (dead,) = harness.services.store.list_deliveries(DEAD)
    assert "403" in dead["last_error"] and harness.services.store.counts()["retrying"] == 0


async def test_a_comment_that_failed_is_sent_later_without_a_second_transition(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    harness.standin.add_fault({"path_regex": "/comment$", "status": 503, "times": 3})
    await harness.deliver(forbidden())
    await harness.process()
    assert harness.standin.issues["SRV-412"].status == "Na klientovi" and comments(harness) == []
    (decision,) = [d for d in harness.decisions("SRV-412") if d["verdict"] == "reverted"]
    assert [a["outcome"] for a in decision["actions"]] == ["done", "pending"]
    assert "503" in decision["actions"][1]["error"]

    await until_settled(harness)
    assert harness.rest_calls().count(TRANSITION) == 1 and len(comments(harness)) == 1
    (decision,) = [d for d in harness.decisions("SRV-412") if d["verdict"] == "reverted"]
    assert [a["outcome"] for a in decision["actions"]] == ["done", "done"]


async def test_a_tickets_later_deliveries_wait_behind_it_and_others_go_on(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    issue(harness.standin, "SRV-413", "Hotovo")
    harness.standin.add_fault({"path_regex": "/issue/SRV-412$", "status": 503, "times": 2})
    first = await harness.deliver(forbidden("SRV-412"))
    comment = json.loads(json.dumps(forbidden("SRV-412")))
    comment.update(webhookEvent="comment_created", comment={"body": "hello", "author": comment["user"]})
    comment.pop("changelog")
    await harness.deliver(comment)
    await harness.deliver(forbidden("SRV-413"))
    await harness.process()

    waiting = {d["delivery_key"]: d for d in harness.services.store.list_deliveries(RETRYING)}
    assert len(waiting) == 2 and "503" in waiting[first.json()["delivery"]]["last_error"]
    assert any(d["last_error"].startswith("waits behind delivery") for d in waiting.values())
    assert harness.standin.issues["SRV-413"].status == "Na klientovi"  # not held up

    await until_settled(harness)
    assert harness.standin.issues["SRV-412"].status == "Na klientovi"
    events = [(d["event"], d["verdict"]) for d in harness.decisions("SRV-412")[::-1]]
    assert events[:2] == [("jira:issue_updated", "reverted"), ("comment_created", "ignored")]


class LostAnswers(httpx.AsyncBaseTransport):
    """Passes calls to the stand-in; the first call matching each (method, path suffix) is
    made there, but its answer is lost: the bridge sees a read timeout."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *lose: tuple[str, str]) -> None:
        self.inner, self.lose = inner, list(lose)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        for method, suffix in self.lose:
            if request.method == method and request.url.path.endswith(suffix):
                self.lose.remove((method, suffix))
                await response.aread()
                raise httpx.ReadTimeout("timed out", request=request)
        return response


@pytest.mark.parametrize("lost", [[("POST", "/transitions")], [("POST", "/comment")],
                                  [("POST", "/transitions"), ("POST", "/comment")]])
async def test_a_change_whose_answer_was_lost_is_made_once(tmp_path, lost):
    h = Harness(tmp_path)
    tracker = h.services.worker.tracker
    tracker._client.transport = LostAnswers(tracker._client.transport, *lost)
    await started(h)
    try:
        issue(h.standin, "SRV-412", "Hotovo")
        await h.deliver(forbidden())
        await h.process()
        assert h.standin.issues["SRV-412"].status == "Na klientovi"
        assert h.rest_calls().count(TRANSITION) == 1 and h.rest_calls().count(COMMENT) == 1
        assert len(comments(h)) == 1
        (decision,) = [d for d in h.decisions("SRV-412") if d["verdict"] == "reverted"]
        assert [a["outcome"] for a in decision["actions"]] == ["done", "done"]
    finally:
        h.services.inbox.stop()


async def test_a_revert_waiting_for_jira_is_skipped_when_an_agent_moved_the_ticket_on(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    harness.standin.add_fault({"path_regex": "/transitions$", "method": "POST", "status": 503, "times": 2})
    await harness.deliver(forbidden())
    await harness.process()
    assert harness.services.store.counts()["retrying"] == 1
    agent = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr"}
    ticket = harness.standin.issues["SRV-412"]
    harness.standin.move(ticket, "Na klientovi", by=agent, base="http://jira.test")
    harness.standin.move(ticket, "Vráceno klientem", by=agent, base="http://jira.test")

    await until_settled(harness)
    assert ticket.status == "Vráceno klientem" and comments(harness) == []
    (decision,) = [d for d in harness.decisions("SRV-412") if d["verdict"] == "reverted"]
    assert [a["outcome"] for a in decision["actions"]] == ["skipped", "skipped"]
    assert "Vráceno klientem" in decision["actions"][0]["error"]


async def test_credentials_revoked_mid_work_hold_the_worker_not_the_deliveries(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    harness.standin.credentials = ["bridge@example.com:a-newer-token"]  # the token was revoked
    await harness.deliver(forbidden())
    await harness.process()
    health = harness.services.health
    assert health.blocking and "401 from /myself" in health.describe()
    (waiting,) = harness.services.store.list_deliveries(RETRYING)
    assert "401" in waiting["last_error"] and harness.services.store.list_deliveries(DEAD) == []

    harness.standin.credentials = None  # fixed
    assert await health.check() is None and not health.blocking
    await until_settled(harness)
    assert harness.standin.issues["SRV-412"].status == "Na klientovi" and len(comments(harness)) == 1


class FailSecondTransition(httpx.AsyncBaseTransport):
    """The second transition POST of a ticket fails with 503 `times` times (Jira down half-way
    through a timer's path)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, times: int) -> None:
        self.inner, self.times, self.seen = inner, times, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/transitions"):
            self.seen += 1
            if self.seen >= 2 and self.times > 0:
                self.times -= 1
                return httpx.Response(503, json={"errorMessages": ["down"]}, request=request)
        return await self.inner.handle_async_request(request)


async def test_a_timer_path_that_fails_half_way_resumes_where_it_stopped(tmp_path):
    h = Harness(tmp_path, tracker_retry_interval_seconds=0.3, tracker_retry_interval_max_seconds=0.3)
    tracker = h.services.worker.tracker
    tracker._client.transport = FailSecondTransition(tracker._client.transport, times=2)
    await started(h)
    try:
        entered = (datetime.now(UTC) - timedelta(days=6)).isoformat()
        h.standin.add_issue({"key": "SRV-77", "status": "Ke schválení", "transitions": {
            "Ke schválení": [{"id": "71", "name": "Schválit", "to": "Schváleno"}],
            "Schváleno": [{"id": "81", "name": "Uzavřít", "to": "Hotovo"}]},
            "history": [{"from": "Realizace", "to": "Ke schválení", "at": entered}]})
        sweep = await h.services.jobs.timers()
        assert [r.found.ticket.key for r in sweep.queued] == ["SRV-77"]
        await h.process()
        ticket = h.standin.issues["SRV-77"]
        waiting = {d["delivery_key"].split(":")[0]: d for d in h.services.store.list_deliveries(RETRYING)}
        assert ticket.status == "Schváleno" and "503" in waiting["timer"]["last_error"]

        await until_settled(h)
        assert ticket.status == "Hotovo" and len(ticket.comments) == 1
        assert [(c["from"], c["to"]) for c in h.standin.issue_state(ticket)["history"]][-2:] == [
            ("Ke schválení", "Schváleno"), ("Schváleno", "Hotovo")]  # not started over
        (decision,) = [d for d in h.decisions("SRV-77") if d["verdict"] == "expired"]
        assert [a["outcome"] for a in decision["actions"]] == ["done", "done", "done"]
    finally:
        h.services.inbox.stop()
