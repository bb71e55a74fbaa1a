"""Deliveries real Jira sites sent (`tests/fixtures/jira/real/`, sources in SOURCES.md): each
is taken at the door and parses into the event it describes — the right kind, ticket and
actor — or into an event about no one ticket. None is malformed.
"""

from __future__ import annotations

import json

import pytest

from bridge.trackers.jira import envelope_problem, parse_delivery
from tests.conftest import FIXTURES

REAL = FIXTURES / "jira" / "real"
BODIES = sorted(p.name for p in REAL.glob("*.json"))

ALICE = "5c5f880629be9642ba529340"
ROBIN = "557058:8b6b268b-17b3-407b-8974-bed4042fa709"
KIM = "5cedcb4355a88a0fc86388ba"
LEO = "99:27935d01-92a7-4687-8272-a9b8d3b2ae2e"
C, D, S, U = "commented", "comment_deleted", "status_changed", "updated"
CREATED, OTHER, NO_TICKET = "created", "other", "no_ticket"
NONE = (NO_TICKET, None, None)

# file → (kind of event, ticket key, actor id)
EXPECTED = {
    "cloud_attachment_created.json": (OTHER, "BUG-15", None),  # not judged: the update says it too
    "cloud_board_configuration_changed.json": NONE,
    "cloud_board_created.json": NONE,
    "cloud_board_deleted.json": NONE,
    "cloud_board_updated.json": NONE,
    "cloud_comment_created.json": (C, "TES-41", ALICE),
    "cloud_comment_created_noformat.json": (C, "TES-1", ROBIN),
    "cloud_comment_deleted.json": (D, "KT-7", None),  # Cloud does not say who deleted it
    "cloud_comment_deleted_2.json": (D, "TES-1", None),
    "cloud_comment_updated.json": (C, "TES-41", ALICE),
    "cloud_comment_updated_2.json": (C, "TES-1", ROBIN),
    "cloud_issue_created.json": (CREATED, "TES-41", ALICE),
    "cloud_issue_created_2.json": (CREATED, "GOLD-189", ROBIN),
    "cloud_issue_created_many_fields.json": (CREATED, "KT-22", KIM),
    "cloud_issue_created_with_changelog.json": (CREATED, "KAN-3", "712020:28d10afc-d4b0-47f2-b86f-74d9a5f29c81"),
    "cloud_issue_deleted.json": (OTHER, "IDT-19", ALICE),
    "cloud_issue_deleted_2.json": (OTHER, "TIGR-361", "5af9bec4d95cfc55bfb77e36"),
    "cloud_issue_moved_to_another_project.json": (S, "GOLD-208", ROBIN),
    "cloud_issue_updated_assigned.json": (U, "TES-41", ALICE),
    "cloud_issue_updated_assigned_empty_changelog.json": (U, "TEST-123", "123456"),
    "cloud_issue_updated_attachments.json": (U, "TES-41", ALICE),
    "cloud_issue_updated_custom_field.json": (U, "TES-14", KIM),
    "cloud_issue_updated_sprint.json": (U, "TES-41", ALICE),
    "cloud_issue_updated_with_subtasks.json": (U, "GOLD-137", "5af9bec4d95cfc55bfb77e36"),
    "cloud_issue_updated_without_event_type.json": (U, "TES-41", ALICE),
    "cloud_issuelink_created.json": NONE,
    "cloud_issuelink_deleted.json": NONE,
    "cloud_project_created.json": NONE,
    "cloud_project_deleted.json": NONE,
    "cloud_project_updated.json": NONE,
    "cloud_sprint_closed.json": NONE,
    "cloud_sprint_created.json": NONE,
    "cloud_sprint_deleted.json": NONE,
    "cloud_sprint_started.json": NONE,
    "cloud_sprint_updated.json": NONE,
    "cloud_status_done_to_to_do.json": (S, "TES-41", ALICE),
    "cloud_status_in_progress_to_done.json": (S, "TES-41", ALICE),
    "cloud_status_to_do_to_closed.json": (S, "TES-19", ROBIN),
    "cloud_status_to_do_to_in_progress.json": (S, "TES-41", ALICE),
    "cloud_user_created.json": NONE,
    "cloud_user_updated.json": NONE,
    "cloud_version_released.json": NONE,
    "cloud_worklog_created.json": (NO_TICKET, None, LEO),
    "cloud_worklog_deleted.json": (NO_TICKET, None, LEO),
    "cloud_worklog_updated.json": (NO_TICKET, None, LEO),
    "jira_worklog_updated.json": (OTHER, "SCRUM-23", "admin"),
    "server_comment_created_without_issue.json": (C, None, "levbrouk"),
    "server_comment_deleted_without_issue.json": (D, None, "levbrouk"),
    "server_comment_updated_without_issue.json": (C, None, "levbrouk"),
    "server_issue_updated_assigned.json": (U, "PRJA-37", "admin"),
    "server_issue_updated_custom_field.json": (U, "TES-8", "test"),
    "server_issue_updated_issue_comment_deleted.json": (D, "PRJX-14", "levbrouk"),
    "server_issue_updated_issue_comment_edited.json": (C, "PRJX-14", "levbrouk"),
    "server_issue_updated_issue_commented.json": (C, "PRJX-14", "levbrouk"),
    "server_issue_updated_issue_commented_indented.json": (C, "TEST-4", "test"),
    "server_old_issue_updated_comment_deleted.json": (U, "PRJX-14", "levbrouk"),  # nothing tells
    "server_old_issue_updated_comment_edited.json": (C, "PRJX-14", "levbrouk"),
    "server_old_issue_updated_commented.json": (C, "PRJX-14", "levbrouk"),
    "server_status_in_progress_to_resolved.json": (S, "TES-4", "admin"),
    "server_status_reopened_to_in_progress.json": (S, "TES-4", "admin"),
    "server_status_resolved_to_closed.json": (S, "TES-4", "admin"),
    "server_status_resolved_to_reopened.json": (S, "TES-4", "admin"),
}
MOVES = {
    "cloud_issue_moved_to_another_project.json": ("To Do", "Work Required"),
    "cloud_status_done_to_to_do.json": ("Done", "To Do"),
    "cloud_status_in_progress_to_done.json": ("In Progress", "Done"),
    "cloud_status_to_do_to_closed.json": ("To Do", "Closed"),
    "cloud_status_to_do_to_in_progress.json": ("To Do", "In Progress"),
    "server_status_in_progress_to_resolved.json": ("In Progress", "Resolved"),
    "server_status_reopened_to_in_progress.json": ("Reopened", "In Progress"),
    "server_status_resolved_to_closed.json": ("Resolved", "Closed"),
    "server_status_resolved_to_reopened.json": ("Resolved", "Reopened"),
}
# attachments a change added: by name, where the changelog gives no ids
ATTACHED = {"cloud_issue_updated_attachments.json": ("test.gif",)}
# the ticket by id, where the delivery names it so: Data Center comments, worklogs
BY_ID = {
    "server_comment_created_without_issue.json": "10013",
    "server_comment_deleted_without_issue.json": "10013",
    "server_comment_updated_without_issue.json": "10013",
    "cloud_worklog_created.json": "10014",
    "cloud_worklog_deleted.json": "10014",
    "cloud_worklog_updated.json": "10014",
}


def load(name: str) -> dict:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def test_every_real_body_has_an_expectation():
    assert len(BODIES) >= 30 and set(BODIES) == set(EXPECTED)


@pytest.mark.parametrize("name", BODIES)
def test_a_real_body_is_taken_and_parses_into_what_it_describes(name):
    payload = load(name)
    assert envelope_problem(payload) is None
    event = parse_delivery(payload)
    assert (event.kind.value, event.ticket, event.actor.id) == EXPECTED[name]
    assert (event.from_status, event.to_status) == MOVES.get(name, (None, event.to_status))
    if event.ticket is None:
        assert event.ticket_id == BY_ID.get(name)
    assert event.attached == ATTACHED.get(name, ())
    assert event.at is not None and event.raw_event == payload["webhookEvent"]


@pytest.mark.parametrize("name", [n for n in BODIES if EXPECTED[n][0] in (C, D)])
def test_a_made_or_edited_comment_carries_its_text_and_a_deleted_one_none(name):
    event = parse_delivery(load(name))
    if event.kind.value == C:
        assert event.comment and event.comment.strip()
    else:
        assert event.comment is None
