"""Jira development projects: issues read by key and linked back, on one site or across two
(HTTP faked with respx)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

from bridge.config import Settings
from bridge.devlinks.jira import JiraDevProvider, jira_dev_provider
from bridge.engine import DevItem
from bridge.trackers.base import TrackerRejected, TrackerUnauthorized, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy
from tests.conftest import FIXTURES

SITE = "https://acme.atlassian.net"
DEV_SITE = "https://dev.acme.test"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)
TICKET_URL = f"{SITE}/browse/SRV-412"
NO_ISSUE = {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}


def rest(name: str) -> Any:
    return json.loads((FIXTURES / "jira" / "real" / "rest" / name).read_text(encoding="utf-8"))


def issue(key: str, status: str, summary: str = "") -> dict[str, Any]:
    return {"id": "10001", "key": key, "fields": {"status": {"name": status}, "summary": summary}}


def same_site() -> JiraDevProvider:
    return JiraDevProvider(RestClient(SITE, user="bot@acme", token="t"), deployment="cloud", retry=FAST)


def other_site() -> JiraDevProvider:
    return JiraDevProvider(RestClient(DEV_SITE, token="pat"), same_site=False, retry=FAST)


# -- reading ---------------------------------------------------------------------------------
@respx.mock
async def test_issues_are_read_with_status_summary_and_where_to_open_them():
    route = respx.get(f"{DEV_SITE}/rest/api/2/issue/SAMPLEPROJECT-1").respond(
        json=rest("server_issue_without_links.json")
    )
    found = await other_site().items(["SAMPLEPROJECT-1"])
    assert found == {
        "SAMPLEPROJECT-1": DevItem("SAMPLEPROJECT-1", "Open", "Sample Issue", f"{DEV_SITE}/browse/SAMPLEPROJECT-1")
    }
    assert route.calls.last.request.url.params["fields"] == "status,summary"


@respx.mock
async def test_a_key_with_no_issue_is_left_out_and_the_others_still_found():
    respx.get(f"{SITE}/rest/api/3/issue/DEV-12").respond(json=issue("DEV-12", "Done", "Export"))
    respx.get(f"{SITE}/rest/api/3/issue/DEV-13").respond(404, json=NO_ISSUE)
    respx.get(f"{SITE}/rest/api/3/issue/DEV-14").respond(json=issue("DEV-14", "In Progress"))
    found = await same_site().items(["DEV-12", "DEV-13", "DEV-14"])
    assert {key: item.state for key, item in found.items()} == {"DEV-12": "Done", "DEV-14": "In Progress"}


@respx.mock
async def test_keys_not_shaped_like_jiras_are_left_out_unasked():
    route = respx.get(f"{SITE}/rest/api/3/issue/DEV-12").respond(json=issue("DEV-12", "Done"))
    found = await same_site().items(["DEV-12", "DEV-12", "12", "DEV-0", "../DEV-12", "DEV 12", "X" * 70 + "-1"])
    assert list(found) == ["DEV-12"]
    assert route.call_count == 1
    assert len(respx.calls) == 1


@respx.mock
async def test_a_moved_issue_is_found_under_the_key_asked_and_opened_under_its_new_one():
    respx.get(f"{SITE}/rest/api/3/issue/DEV-12").respond(json=issue("NEW-3", "Done"))
    found = await same_site().items(["DEV-12"])
    assert found["DEV-12"].url == f"{SITE}/browse/NEW-3"


@respx.mock
async def test_credentials_refused_are_raised_not_taken_for_missing_issues():
    respx.get(f"{SITE}/rest/api/3/issue/DEV-12").respond(json=issue("DEV-12", "Done"))
    respx.get(f"{SITE}/rest/api/3/issue/DEV-13").respond(401, json={"errorMessages": ["Unauthorized"]})
    with pytest.raises(TrackerUnauthorized):
        await same_site().items(["DEV-12", "DEV-13"])


@respx.mock
async def test_throttled_reads_are_retried_after_the_wait_jira_asks():
    route = respx.get(f"{SITE}/rest/api/3/issue/DEV-12")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json=issue("DEV-12", "Done"))]
    assert list(await same_site().items(["DEV-12"])) == ["DEV-12"]
    respx.get(f"{SITE}/rest/api/3/issue/DEV-13").respond(429, headers={"Retry-After": "9"})
    with pytest.raises(TrackerUnavailable) as caught:
        await JiraDevProvider(RestClient(SITE), deployment="cloud", retry=RetryPolicy(1)).items(["DEV-13"])
    assert caught.value.retry_after == 9.0


@respx.mock
async def test_an_issue_without_a_status_is_refused_not_guessed():
    respx.get(f"{SITE}/rest/api/3/issue/DEV-12").respond(json={"key": "DEV-12", "fields": {}})
    with pytest.raises(TrackerRejected, match="without a status"):
        await same_site().items(["DEV-12"])


# -- linking back ----------------------------------------------------------------------------
class Site:
    """One Jira site's issue links: a new link shows on the issue's `issuelinks`."""

    def __init__(self, dev_issue: dict[str, Any]) -> None:
        self.issue = dev_issue
        self.posted: list[dict[str, Any]] = []

    def read(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["fields"] == "issuelinks"
        return httpx.Response(200, json=self.issue)

    def link(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.posted.append(body)
        self.issue["fields"]["issuelinks"].append({"id": "1", "type": body["type"], "outwardIssue": body["outwardIssue"]})
        return httpx.Response(201)


@respx.mock
async def test_same_site_links_the_two_issues_once():
    site = Site(issue("DEV-12", "In Progress") | {"fields": {"issuelinks": []}})
    respx.get(f"{SITE}/rest/api/3/issue/DEV-12").mock(side_effect=site.read)
    respx.post(f"{SITE}/rest/api/3/issueLink").mock(side_effect=site.link)
    provider = same_site()
    await provider.link_back("DEV-12", "SRV-412", TICKET_URL)
    await provider.link_back("DEV-12", "SRV-412", TICKET_URL)
    assert site.posted == [
        {"type": {"name": "Relates"}, "outwardIssue": {"key": "SRV-412"}, "inwardIssue": {"key": "DEV-12"}}
    ]
    assert not [c for c in respx.calls if "remotelink" in c.request.url.path]


@respx.mock
async def test_same_site_a_link_of_any_type_either_way_counts():
    respx.get(f"{SITE}/rest/api/3/issue/ED-1").respond(json=rest("cloud_issue_with_issuelinks.json"))
    post = respx.post(f"{SITE}/rest/api/3/issueLink").respond(201)
    await same_site().link_back("ED-1", "PR-2", f"{SITE}/browse/PR-2")  # ED-1 → PR-2, "Dependent"
    await same_site().link_back("ED-1", "PR-3", f"{SITE}/browse/PR-3")  # PR-3 → ED-1
    assert post.call_count == 0
    await same_site().link_back("ED-1", "SRV-412", TICKET_URL)
    assert post.call_count == 1


@respx.mock
async def test_other_site_puts_a_remote_link_to_the_ticket_kept_by_its_global_id():
    route = respx.post(f"{DEV_SITE}/rest/api/2/issue/DEV-12/remotelink").respond(
        201, json=rest("cloud_remotelink_created.json")
    )
    provider = other_site()
    await provider.link_back("DEV-12", "SRV-412", TICKET_URL)
    await provider.link_back("DEV-12", "SRV-412", TICKET_URL)
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert bodies[0] == {
        "globalId": f"ticket-bridge:ticket:{TICKET_URL}",
        "object": {"url": TICKET_URL, "title": "SRV-412"},
    }
    assert bodies[1] == bodies[0]  # Jira updates the link with that globalId: still one link
    assert not [c for c in respx.calls if "issueLink" in c.request.url.path or c.request.method == "GET"]


@respx.mock
async def test_linking_an_issue_that_does_not_exist_is_refused():
    respx.get(f"{SITE}/rest/api/3/issue/DEV-13").respond(404, json=NO_ISSUE)
    with pytest.raises(TrackerRejected, match="Issue does not exist"):
        await same_site().link_back("DEV-13", "SRV-412", TICKET_URL)


async def test_a_number_that_is_no_issue_key_is_refused_without_a_call():
    with pytest.raises(TrackerRejected, match="not a Jira issue key"):
        await same_site().link_back("4711", "SRV-412", TICKET_URL)


# -- which site ------------------------------------------------------------------------------
def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def recording(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=issue("DEV-12", "Done"))

    return httpx.MockTransport(answer)


async def test_by_default_the_development_project_is_on_the_tickets_site():
    seen: list[httpx.Request] = []
    tracker = RestClient(SITE + "/jira", user="bot@acme", token="t", transport=recording(seen))
    provider = jira_dev_provider(settings(jira_url=SITE + "/jira", jira_deployment="datacenter"), tracker)
    assert provider is not None and provider.same_site
    await provider.items(["DEV-12"])
    assert str(seen[-1].url).startswith(f"{SITE}/jira/rest/api/2/issue/DEV-12?")  # the tracker's REST version
    # the same site written once with and once without the closing slash
    same = jira_dev_provider(settings(jira_url=SITE + "/jira", dev_jira_url=SITE + "/jira/"), tracker)
    assert same is not None and same.same_site
    await same.items(["DEV-12"])
    assert seen[-1].headers["authorization"] == "Basic " + base64.b64encode(b"bot@acme:t").decode()


async def test_another_site_is_reached_with_its_own_credentials():
    seen: list[httpx.Request] = []
    provider = jira_dev_provider(
        settings(jira_url=SITE, dev_jira_url=DEV_SITE, dev_jira_user="dev@acme", dev_jira_token="dev-token"),
        RestClient(SITE, user="bot@acme", token="t"),
        transport=recording(seen),
    )
    assert provider is not None and not provider.same_site
    await provider.items(["DEV-12"])
    assert str(seen[0].url).startswith(f"{DEV_SITE}/rest/api/2/issue/DEV-12?")
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(b"dev@acme:dev-token").decode()


def test_with_no_jira_at_all_there_is_no_provider():
    assert jira_dev_provider(settings(), None) is None
