"""A ticket's remote link to its development item, and the links read off a Jira issue
(HTTP faked with respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from bridge.engine import Event
from bridge.trackers.base import OfflineTracker, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker
from bridge.trackers.jira_links import global_id, linked_keys, remote_link_body
from tests.conftest import FIXTURES

BASE = "https://jira.test"
PBI_URL = "https://dev.azure.com/acme/ERP/_workitems/edit/4711"


def rest(name: str) -> Any:
    return json.loads((FIXTURES / "jira" / "real" / "rest" / name).read_text(encoding="utf-8"))


def tracker(deployment: str = "cloud") -> JiraTracker:
    return JiraTracker(RestClient(BASE, user="bot@x", token="t"), deployment=deployment, retry=RetryPolicy(1))


@respx.mock
async def test_the_ticket_gets_a_remote_link_to_the_item_with_its_global_id():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-412/remotelink").respond(
        201, json=rest("cloud_remotelink_created.json")
    )
    await tracker().remote_link("SRV-412", "ticket-bridge:azure-devops:4711", PBI_URL, "PBI 4711: Export", False)
    assert json.loads(route.calls.last.request.content) == {
        "globalId": "ticket-bridge:azure-devops:4711",
        "object": {"url": PBI_URL, "title": "PBI 4711: Export", "status": {"resolved": False}},
    }


@respx.mock
async def test_linking_again_when_the_item_is_done_resends_the_same_global_id_resolved():
    route = respx.post(f"{BASE}/rest/api/2/issue/SRV-412/remotelink").respond(200, json={"id": 10000})
    jira = tracker("datacenter")
    ident = global_id("azure-devops", "4711")
    await jira.remote_link("SRV-412", ident, PBI_URL, "PBI 4711", False)
    await jira.remote_link("SRV-412", ident, PBI_URL, "PBI 4711", True)
    first, second = (json.loads(c.request.content) for c in route.calls)
    assert first["globalId"] == second["globalId"] == ident  # Jira updates that link, not adds one
    assert (first["object"]["status"], second["object"]["status"]) == ({"resolved": False}, {"resolved": True})


@respx.mock
async def test_the_remote_link_is_sent_once_per_call():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-412/remotelink").respond(503)
    with pytest.raises(TrackerUnavailable):
        await JiraTracker(RestClient(BASE), retry=RetryPolicy(5, backoff=0)).remote_link(
            "SRV-412", "ticket-bridge:jira:DEV-1", PBI_URL, "DEV-1", False
        )
    assert route.call_count == 1


def parse_nothing(body: bytes) -> Event:
    raise AssertionError("no delivery is parsed here")


async def test_with_no_tracker_a_remote_link_waits_for_one():
    offline = OfflineTracker("jira", parse_nothing)
    with pytest.raises(TrackerUnavailable, match="no tracker configured"):
        await offline.remote_link("SRV-412", "ticket-bridge:azure-devops:4711", PBI_URL, "PBI 4711", False)


def test_global_ids_are_stable_and_tell_items_and_providers_apart():
    assert global_id("azure-devops", "4711") == "ticket-bridge:azure-devops:4711"
    assert global_id("azure-devops", "4711") != global_id("jira", "4711")
    assert global_id("azure-devops", "4711") != global_id("azure-devops", "4712")


def test_a_global_id_too_long_for_jira_is_shortened_stably():
    long_url = "https://support.example/browse/" + "x" * 400
    ident = global_id("ticket", long_url)
    assert len(ident) <= 255 and ident == global_id("ticket", long_url)
    assert ident != global_id("ticket", long_url + "y")


def test_a_remote_links_title_is_cut_to_what_jira_takes_and_its_status_left_out_when_unknown():
    body = remote_link_body("ticket-bridge:ticket:x", "https://x.test/1", "T" * 300)
    assert len(body["object"]["title"]) == 255
    assert "status" not in body["object"]
    assert remote_link_body("g", "https://x.test/1", "")["object"]["title"] == "https://x.test/1"


def test_the_issues_linked_to_an_issue_are_read_whichever_way_they_point():
    assert linked_keys(rest("cloud_issue_with_issuelinks.json")) == {"PR-2", "PR-3"}
    assert linked_keys(rest("server_issue_without_links.json")) == set()
    assert linked_keys({"fields": {"issuelinks": [None, {"outwardIssue": "DEV-1"}, {"inwardIssue": {}}]}}) == set()
