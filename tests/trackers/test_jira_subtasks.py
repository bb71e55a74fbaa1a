"""A Jira issue's sub-tasks and parent, read from a real delivery and from the REST answer:
the one read of a ticket says which tasks are open, and a sub-task names its parent."""

from __future__ import annotations

import copy

import respx

from bridge.engine import TaskRef
from bridge.trackers.jira import parse_delivery
from bridge.trackers.jira_subtasks import subtasks_of, task_ref
from tests.conftest import load_fixture
from tests.trackers.test_jira import BASE, tracker

REAL = "real/cloud_issue_updated_with_subtasks.json"
TASKS = [
    TaskRef("GOLD-138", "Create UI in the main app to enable signup", "To Do", False, "Sub-task"),
    TaskRef("GOLD-139", "Rework DB to use data from main app", "To Do", False, "Sub-task"),
    TaskRef("GOLD-140", "Add API Key screen in app", "To Do", False, "Sub-task"),
]


def test_a_real_delivery_lists_the_sub_tasks_with_their_statuses():
    event = parse_delivery(load_fixture(REAL))
    assert event.snapshot is not None and event.snapshot.parent is None
    assert list(event.snapshot.subtasks or ()) == TASKS


@respx.mock
async def test_one_read_of_the_ticket_says_which_tasks_are_done_by_status_category():
    """Done is Jira's Done category, whatever the status is called: no call per sub-task."""
    issue = copy.deepcopy(load_fixture(REAL)["issue"])
    finished = issue["fields"]["subtasks"][1]["fields"]["status"]
    finished["name"] = "Gotowe"
    finished["statusCategory"].update(id=3, key="done", colorName="green", name="Done")
    route = respx.get(f"{BASE}/rest/api/3/issue/GOLD-137").respond(json=issue)
    ticket = await tracker().ticket("GOLD-137", ["subtasks"])
    assert route.call_count == 1 and "subtasks" in route.calls[0].request.url.params["fields"].split(",")
    assert [(t.key, t.status, t.done) for t in ticket.subtasks or ()] == [
        ("GOLD-138", "To Do", False), ("GOLD-139", "Gotowe", True), ("GOLD-140", "To Do", False),
    ]  # fmt: skip


def test_a_sub_task_names_its_parent_and_the_parents_type():
    parent = load_fixture(REAL)["issue"]
    ref = {"id": parent["id"], "key": parent["key"], "self": parent["self"],
           "fields": {k: parent["fields"][k] for k in ("summary", "status", "priority", "issuetype")}}
    assert task_ref(ref) == TaskRef("GOLD-137", parent["fields"]["summary"], "Work Required", False, "Story")


def test_what_is_not_shaped_like_a_sub_task_is_left_out():
    listed = [None, "GOLD-1", {"key": "not a key"}, {"key": "GOLD-2"}, {"key": "GOLD-3", "fields": []}]
    assert subtasks_of({"subtasks": listed}) == (TaskRef("GOLD-2"), TaskRef("GOLD-3"))
    assert subtasks_of({}) is None and subtasks_of({"subtasks": None}) is None
