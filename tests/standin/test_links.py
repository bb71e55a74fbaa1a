"""Remote links and issue links on the Jira stand-in, as Jira keeps and shows them."""

from __future__ import annotations

import httpx
import pytest

from .app import create_app
from .state import JiraStandin

PBI = {"globalId": "azure-devops:example-org/ERP:4711", "relationship": "development item",
       "application": {"type": "com.microsoft.azure-devops", "name": "Azure DevOps"},
       "object": {"url": "https://dev.azure.com/example-org/ERP/_workitems/edit/4711",
                  "title": "PBI 4711", "summary": "Export faktur selhává",
                  "status": {"resolved": False}}}


@pytest.fixture
def standin() -> JiraStandin:
    standin = JiraStandin()
    standin.add_issue({"key": "SRV-412", "id": "20417", "status": "Realizace",
                       "fields": {"summary": "Faktura se neodeslala"}})
    standin.add_issue({"key": "DEV-12", "id": "20500", "status": "Nový", "project": "DEV",
                       "issuetype": "Story", "fields": {"summary": "Export faktur"}})
    return standin


@pytest.fixture
async def jira(standin: JiraStandin):
    transport = httpx.ASGITransport(app=create_app(standin))
    async with httpx.AsyncClient(transport=transport, base_url="https://jira.test",
                                 auth=("bridge@example.com", "token")) as client:
        yield client


async def control(jira: httpx.AsyncClient, key: str) -> dict:
    return (await jira.get(f"/_standin/issues/{key}")).json()


@pytest.mark.parametrize("version", ["2", "3"])
async def test_a_remote_link_is_created_then_updated_by_its_global_id(jira, version):
    url = f"/rest/api/{version}/issue/SRV-412/remotelink"
    created = await jira.post(url, json=PBI)
    assert created.status_code == 201
    link_id = created.json()["id"]
    assert created.json() == {"id": link_id, "self": f"https://jira.test{url}/{link_id}"}
    done = PBI | {"object": PBI["object"] | {"status": {"resolved": True}}}
    updated = await jira.post(url, json=done)
    assert updated.status_code == 200 and updated.json()["id"] == link_id
    (shown,) = (await jira.get(url)).json()
    assert shown["globalId"] == PBI["globalId"] and shown["object"]["status"] == {"resolved": True}
    assert shown["relationship"] == "development item" and shown["application"]["name"] == "Azure DevOps"
    (kept,) = (await control(jira, "SRV-412"))["remote_links"]
    assert kept["id"] == link_id and kept["object"]["status"]["resolved"] is True


async def test_links_without_a_global_id_are_each_new(jira):
    plain = {"object": {"url": "https://wiki.example/page", "title": "Postup"}}
    ids = {(await jira.post("/rest/api/3/issue/SRV-412/remotelink", json=plain)).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert len((await jira.get("/rest/api/3/issue/SRV-412/remotelink")).json()) == 2


async def test_one_remote_link_is_read_by_its_global_id(jira):
    await jira.post("/rest/api/3/issue/SRV-412/remotelink", json=PBI)
    one = await jira.get("/rest/api/3/issue/SRV-412/remotelink", params={"globalId": PBI["globalId"]})
    assert one.status_code == 200 and one.json()["object"]["title"] == "PBI 4711"
    none = await jira.get("/rest/api/3/issue/SRV-412/remotelink", params={"globalId": "other"})
    assert none.status_code == 404


async def test_the_same_global_id_on_two_issues_is_two_links(jira):
    first = await jira.post("/rest/api/3/issue/SRV-412/remotelink", json=PBI)
    second = await jira.post("/rest/api/3/issue/DEV-12/remotelink", json=PBI)
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    "body,errors",
    [
        ({"globalId": "x"}, {"object": "'object' is required."}),
        ({"object": {"url": "https://x"}}, {"title": "'title' is required."}),
        ({"object": {"title": "PBI 1", "url": ""}}, {"url": "'url' is required."}),
    ],
)
async def test_a_remote_link_without_its_object_title_or_url_is_400(jira, body, errors):
    response = await jira.post("/rest/api/3/issue/SRV-412/remotelink", json=body)
    assert response.status_code == 400 and response.json() == {"errorMessages": [], "errors": errors}
    assert (await control(jira, "SRV-412"))["remote_links"] == []


async def test_remote_links_of_an_issue_that_does_not_exist_are_404(jira):
    assert (await jira.post("/rest/api/3/issue/NOPE-1/remotelink", json=PBI)).status_code == 404
    assert (await jira.get("/rest/api/3/issue/NOPE-1/remotelink")).status_code == 404


async def test_deleting_a_remote_link_is_not_served_but_known_to_jira(jira):
    response = await jira.delete("/rest/api/3/issue/SRV-412/remotelink/10000")
    assert response.status_code == 501  # in Jira's OpenAPI, not in the stand-in


@pytest.mark.parametrize("version", ["2", "3"])
async def test_an_issue_link_shows_on_both_issues_with_the_other_one(jira, version):
    body = {"type": {"name": "Relates"}, "inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"key": "DEV-12"}}
    response = await jira.post(f"/rest/api/{version}/issueLink", json=body)
    assert response.status_code == 201 and response.content == b""
    (on_ticket,) = (await jira.get(f"/rest/api/{version}/issue/SRV-412")).json()["fields"]["issuelinks"]
    assert on_ticket["type"] == {"id": "10003", "name": "Relates", "inward": "relates to",
                                 "outward": "relates to",
                                 "self": "https://jira.test/rest/api/2/issueLinkType/10003"}
    assert "inwardIssue" not in on_ticket
    other = on_ticket["outwardIssue"]
    assert (other["key"], other["id"]) == ("DEV-12", "20500")
    assert other["fields"]["status"]["name"] == "Nový" and other["fields"]["summary"] == "Export faktur"
    (on_dev,) = (await jira.get(f"/rest/api/{version}/issue/DEV-12")).json()["fields"]["issuelinks"]
    assert on_dev["id"] == on_ticket["id"] and on_dev["inwardIssue"]["key"] == "SRV-412"
    assert "outwardIssue" not in on_dev
    whole = (await jira.get(f"/rest/api/{version}/issueLink/{on_dev['id']}")).json()
    assert (whole["inwardIssue"]["key"], whole["outwardIssue"]["key"]) == ("SRV-412", "DEV-12")


async def test_an_issue_link_made_again_stays_one(jira):
    body = {"type": {"id": "10003"}, "inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"id": "20500"}}
    for _ in range(2):
        assert (await jira.post("/rest/api/3/issueLink", json=body)).status_code == 201
    assert len((await control(jira, "SRV-412"))["issue_links"]) == 1
    assert (await control(jira, "DEV-12"))["issue_links"] == [
        {"id": (await control(jira, "SRV-412"))["issue_links"][0]["id"], "type": "Relates",
         "inward": "SRV-412", "outward": "DEV-12"}]


async def test_an_issue_without_links_shows_none(jira):
    assert (await jira.get("/rest/api/3/issue/SRV-412")).json()["fields"]["issuelinks"] == []
    only = (await jira.get("/rest/api/3/issue/SRV-412", params={"fields": "summary"})).json()
    assert "issuelinks" not in only["fields"]


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"type": {"name": "Implements"}, "inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"key": "DEV-12"}},
         404, "No issue link type with name 'Implements' found."),
        ({"type": {"name": "Relates"}, "inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"key": "DEV-99"}},
         404, "Issue Does Not Exist"),
        ({"type": {"name": "Relates"}, "inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"key": "SRV-412"}},
         400, "You cannot link an issue to itself."),
        ({"inwardIssue": {"key": "SRV-412"}, "outwardIssue": {"key": "DEV-12"}},
         400, "Issue link type is required."),
    ],
)
async def test_an_issue_link_jira_would_refuse_is_refused(jira, body, status, message):
    response = await jira.post("/rest/api/3/issueLink", json=body)
    assert response.status_code == status and response.json()["errorMessages"] == [message]
    assert (await control(jira, "SRV-412"))["issue_links"] == []


async def test_the_link_types_are_jiras_defaults(jira):
    types = (await jira.get("/rest/api/3/issueLinkType")).json()["issueLinkTypes"]
    assert [t["name"] for t in types] == ["Blocks", "Cloners", "Duplicate", "Relates"]


async def test_a_reset_forgets_the_links(jira, standin):
    await jira.post("/rest/api/3/issue/SRV-412/remotelink", json=PBI)
    standin.load({"issues": [{"key": "SRV-412", "id": "20417"}]})
    assert (await jira.get("/rest/api/3/issue/SRV-412/remotelink")).json() == []
