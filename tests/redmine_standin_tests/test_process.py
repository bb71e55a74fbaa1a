"""The stand-in as its own process, driven through the helper end-to-end tests use; and the
benchmark's data: many issues, a few of them changed since a cursor."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.redmine_standin.client import RedmineStandinProcess

from .conftest import BASE


@pytest.fixture(scope="module")
def process():
    with RedmineStandinProcess(key="e2e-bridge-key") as started:
        yield started


def test_the_process_announces_its_url_and_takes_its_key(process):
    assert process.url.startswith("http://127.0.0.1:")
    process.reset()
    assert process.key_of("bridgebot") == "e2e-bridge-key"  # kept over a reset
    current = httpx.get(f"{process.url}/users/current.json", headers={"X-Redmine-API-Key": "e2e-bridge-key"})
    assert current.json()["user"]["login"] == "bridgebot"
    assert httpx.get(f"{process.url}/users/current.json", headers={"X-Redmine-API-Key": "bridge-key"}).status_code == 401


def test_the_helper_drives_a_customer_move_and_counts_calls_per_issue(process):
    process.reset()
    (ticket,) = process.seed_issues({"subject": "Faktura", "status": "Na klientovi"})
    moved = process.act(ticket["id"], user="zakaznik", status="Hotovo", notes="Hotovo, díky.")
    assert moved["issue"]["status"] == "Hotovo" and moved["status_dropped"] is False
    process.clear_calls()
    process.rest("GET", f"/issues/{ticket['id']}.json", params={"include": "journals"})
    process.rest("PUT", f"/issues/{ticket['id']}.json", json={"issue": {"status_id": 12, "notes": "Vráceno."}})
    process.rest("GET", "/issues.json")
    assert process.calls_per_issue() == {ticket["id"]: 2}
    assert process.issue(ticket["id"])["status"] == "Na klientovi"
    assert [c["user"] for c in process.calls()] == ["bridgebot"] * 3


def test_webhooks_from_the_process_reach_a_dead_bridge_without_harm(process):
    process.reset()
    process.webhook("http://127.0.0.1:9/webhooks/redmine", token="t")  # nothing listens there
    (ticket,) = process.seed_issues({"status": "Na klientovi"})
    process.act(ticket["id"], user="zakaznik", status="Vráceno klientem")
    assert process.rest("GET", f"/issues/{ticket['id']}.json").status_code == 200
    deliveries = process.deliveries()
    assert len(deliveries) == 1 and deliveries[0]["action"] == "updated"


def test_a_state_file_seeds_the_process(tmp_path):
    seed = {"issues": [{"id": 4711, "subject": "Ze souboru", "status": "Realizace"}],
            "webhook": {"url": "http://127.0.0.1:9/h", "form": "signed", "secret": "x"}}
    (tmp_path / "seed.json").write_text(json.dumps(seed, ensure_ascii=False), "utf-8")
    with RedmineStandinProcess(state_file=tmp_path / "seed.json") as started:
        issue = started.rest("GET", "/issues/4711.json").json()["issue"]
        assert (issue["subject"], issue["status"]["name"]) == ("Ze souboru", "Realizace")
        assert started.state()["webhook"]["form"] == "signed"


async def test_ten_thousand_issues_with_one_percent_changed_since_a_cursor(redmine):
    made = (await redmine.post("/_standin/bulk", json={
        "count": 10_000, "created_on": "2026-11-01T08:00:00Z",
        "changed": {"count": 100, "status": "Realizace", "user": "resitel", "at": "2026-11-02T09:14:03Z"}})).json()
    assert (made["count"], len(made["changed"])) == (10_000, 100)
    changed = (await redmine.get("/issues.json", params={"updated_on": ">=2026-11-02T09:14:03Z", "limit": 100,
                                                         "sort": "updated_on:asc", "status_id": "*"})).json()
    assert changed["total_count"] == 100
    assert sorted(i["id"] for i in changed["issues"]) == sorted(made["changed"])
    assert {i["status"]["name"] for i in changed["issues"]} == {"Realizace"}
    everything = (await redmine.get("/issues.json", params={"limit": 1})).json()
    assert everything["total_count"] == 10_000
    one = (await redmine.get(f"{BASE}/issues/{made['changed'][0]}.json", params={"include": "journals"})).json()["issue"]
    assert one["journals"][0]["details"] == [{"property": "attr", "name": "status_id", "old_value": "7", "new_value": "9"}]
