"""Attachments on Jira: which ones a delivery says were added, and removing one (HTTP faked
with respx), through the executor's handler as a retry would meet it."""

from __future__ import annotations

import copy

import pytest
import respx

from bridge.attachments import AttachmentRemoval
from bridge.store import PendingAction
from bridge.trackers.base import TrackerRejected
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, parse_delivery
from bridge.trackers.jira_attachments import added_attachments
from tests.trackers.test_jira_real import load

BASE = "https://jira.test"
# As Jira Cloud reports an attachment added in the changelog.
ADDED = {"field": "Attachment", "fieldtype": "jira", "fieldId": "attachment", "from": None,
         "fromString": None, "to": "10001", "toString": "virus.exe"}  # fmt: skip


def tracker(deployment: str = "cloud") -> JiraTracker:
    return JiraTracker(RestClient(BASE, user="bot@x", token="t"), deployment=deployment, retry=RetryPolicy(1))


def removal(attachment: str = "10001") -> PendingAction:
    return PendingAction(
        1, "d:0:remove_attachment", "remove_attachment", "CRM-7",
        {"ticket": "CRM-7", "attachment": attachment, "filename": "virus.exe", "kind": "remove_attachment"},
    )  # fmt: skip


@pytest.mark.parametrize("items,added", [
    ([ADDED], ("10001",)),
    ([{**ADDED, "to": 10001}], ("10001",)),  # an id as a number
    ([{**ADDED, "fieldId": None}, {**ADDED, "to": "10002", "toString": "b.png"}], ("10001", "10002")),
    ([{**ADDED, "from": "10001", "fromString": "virus.exe", "to": None, "toString": None}], ()),  # removed
    ([{"field": "status", "fromString": "Open", "toString": "Answered"}], ()),
    ([{**ADDED, "to": None, "fromString": "a.txt b.txt", "toString": "a.txt b.txt c.png"}], ("c.png",)),
    ("not a list", ()),
])  # fmt: skip
def test_the_attachments_a_change_added(items: object, added: tuple[str, ...]) -> None:
    assert added_attachments({"id": "1", "items": items}) == added


def test_a_real_attachment_delivery_names_the_file_it_added() -> None:
    body = load("cloud_issue_updated_attachments.json")
    assert parse_delivery(body).attached == ("test.gif",)
    body = copy.deepcopy(body)
    body["changelog"]["items"] = [ADDED]
    event = parse_delivery(body)
    assert (event.kind.value, event.attached) == ("updated", ("10001",))


@respx.mock
@pytest.mark.parametrize("deployment,api", [("cloud", "3"), ("datacenter", "2")])
async def test_removing_deletes_the_attachment_by_its_id(deployment: str, api: str) -> None:
    route = respx.delete(f"{BASE}/rest/api/{api}/attachment/10001").respond(204)
    assert await tracker(deployment).remove_attachment("10001") is True
    assert route.call_count == 1


@respx.mock
async def test_an_attachment_gone_already_counts_as_removed() -> None:
    """A retry after a lost answer, or an agent quicker than the bridge: Jira answers 404."""
    respx.delete(f"{BASE}/rest/api/3/attachment/10001").respond(
        404, json={"errorMessages": ["The attachment with id '10001' does not exist"], "errors": {}}
    )
    assert await tracker().remove_attachment("10001") is False
    await AttachmentRemoval(tracker()).send(removal())  # done, not failed


@respx.mock
async def test_a_refusal_to_delete_is_reported_with_jiras_words() -> None:
    respx.delete(f"{BASE}/rest/api/3/attachment/10001").respond(
        403, json={"errorMessages": ["You do not have permission to delete attachments"], "errors": {}}
    )
    with pytest.raises(TrackerRejected, match="permission to delete attachments"):
        await AttachmentRemoval(tracker()).send(removal())


@respx.mock
async def test_a_hostile_id_stays_one_path_segment() -> None:
    route = respx.delete(f"{BASE}/rest/api/3/attachment/..%2F..%2Fmyself").respond(204)
    await tracker().remove_attachment("../../myself")
    assert route.called
