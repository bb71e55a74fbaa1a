"""Sub-tasks on the Jira stand-in, as Jira shows them: the parent lists each with its status
and status category, a sub-task names its parent, and a moved sub-task is listed anew."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import load_fixture

from .app import create_app
from .state import JiraStandin

STATUSES = {"Do zrobienia": {"id": "10300", "category": "new"}, "Gotowe": {"id": "10301", "category": "done"}}


@pytest.fixture
def standin() -> JiraStandin:
    standin = JiraStandin()
    standin.add_issue({"key": "WAR-1", "status": "W toku", "issuetype": "Zgłoszenie",
                       "fields": {"summary": "Awaria chłodni"}})
    for key, summary, status in (("WAR-2", "Wymiana sprężarki", "Do zrobienia"), ("WAR-3", "Czyszczenie filtra", "Gotowe")):
        standin.add_issue({"key": key, "parent": "WAR-1", "status": status, "statuses": STATUSES,
                           "fields": {"summary": summary}})
    return standin


@pytest.fixture
async def jira(standin: JiraStandin):
    transport = httpx.ASGITransport(app=create_app(standin))
    async with httpx.AsyncClient(transport=transport, base_url="https://jira.test",
                                 auth=("bridge@example.com", "token")) as client:
        yield client


async def fields(jira: httpx.AsyncClient, key: str, wanted: str) -> dict:
    answer = await jira.get(f"/rest/api/3/issue/{key}", params={"fields": wanted})
    assert answer.status_code == 200
    return answer.json()["fields"]


def shape(value: object) -> object:
    """The keys of a JSON value, nested: the shape without the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return [shape(value[0])] if isinstance(value, list) and value else type(value).__name__


async def test_the_parent_lists_its_sub_tasks_as_jira_does(jira):
    listed = (await fields(jira, "WAR-1", "status,subtasks"))["subtasks"]
    assert [(t["key"], t["fields"]["summary"], t["fields"]["status"]["name"],
             t["fields"]["status"]["statusCategory"]["key"]) for t in listed] == [
        ("WAR-2", "Wymiana sprężarki", "Do zrobienia", "new"),
        ("WAR-3", "Czyszczenie filtra", "Gotowe", "done"),
    ]  # fmt: skip
    real = load_fixture("real/cloud_issue_updated_with_subtasks.json")["issue"]["fields"]["subtasks"][0]
    ours = listed[0]
    assert (set(ours), set(ours["fields"])) == (set(real), set(real["fields"])), "as a real site lists them"
    assert shape(ours["fields"]["status"]) == shape(real["fields"]["status"])
    assert ours["fields"]["issuetype"]["subtask"] is True
    assert (await fields(jira, "WAR-2", "subtasks"))["subtasks"] == []


async def test_a_sub_task_names_its_parent_and_only_asked_fields_come(jira):
    parent = (await fields(jira, "WAR-2", "parent"))["parent"]
    assert (parent["key"], parent["fields"]["issuetype"]["name"], parent["fields"]["status"]["name"]) == (
        "WAR-1", "Zgłoszenie", "W toku")
    assert "subtasks" not in await fields(jira, "WAR-1", "status")
    assert "parent" not in await fields(jira, "WAR-1", "*all")


async def test_a_sub_task_moved_is_listed_anew_and_its_delivery_names_the_parent(jira):
    moved = await jira.post("/_standin/issues/WAR-2/transition", json={"to": "Gotowe", "webhook": False})
    delivery = moved.json()
    assert delivery["issue"]["fields"]["parent"]["key"] == "WAR-1"
    listed = (await fields(jira, "WAR-1", "subtasks"))["subtasks"]
    assert {t["fields"]["status"]["statusCategory"]["key"] for t in listed} == {"done"}
