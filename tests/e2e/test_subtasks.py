"""Warranticon's tickets through the real service, against the Jira stand-in: a ticket closed
while one of its tasks (Jira sub-tasks) is open is reopened with a comment naming the task;
closed once its tasks are done, it stays closed; and where the workflow says so, the last
task done closes the ticket by itself."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ROOT, SECRET, Bridge, decided, wait_until

pytestmark = pytest.mark.e2e

AGENT = {"accountId": "agent-7", "accountType": "atlassian", "displayName": "Piotr Serwisant"}
TICKET = {
    "W toku": [{"id": "41", "name": "Zamknij", "to": "Zamknięte"},
               {"id": "42", "name": "Wstrzymaj", "to": "Zaakceptowane"}],
    "Zamknięte": [{"id": "51", "name": "Wznów", "to": "W toku"}],
}
TASK_STATUSES = {"Do zrobienia": {"id": "10300", "category": "new"},
                 "W realizacji": {"id": "10301", "category": "indeterminate"},
                 "Gotowe": {"id": "10302", "category": "done"}}


@pytest.fixture
def warranticon(jira) -> None:
    """WAR-1 in progress with two tasks: the compressor still to do, the filter done."""
    jira("POST", "/workflow", {"transitions": TICKET, "statuses": TASK_STATUSES})
    jira("POST", "/issues", [
        {"key": "WAR-1", "status": "W toku", "issuetype": "Zgłoszenie", "fields": {"summary": "Awaria chłodni"}},
        {"key": "WAR-2", "parent": "WAR-1", "status": "Do zrobienia", "fields": {"summary": "Wymiana sprężarki"}},
        {"key": "WAR-3", "parent": "WAR-1", "status": "Gotowe", "fields": {"summary": "Czyszczenie filtra"}},
    ])


def move(jira, key: str, to: str) -> None:
    jira("POST", f"/issues/{key}/transition", {"to": to, "user": AGENT})




def comments(jira, key: str) -> list[dict]:
    return jira("GET", f"/issues/{key}")["comments"]


def text(comment: dict) -> str:
    return json.dumps(comment["body"], ensure_ascii=False)


def test_closing_with_an_open_task_is_reverted_with_the_task_named(jira, warranticon, bridge):
    move(jira, "WAR-1", "Zamknięte")
    wait_until(lambda: jira("GET", "/issues/WAR-1")["status"] == "W toku", timeout=10)
    decision = decided(bridge, "WAR-1", "subtasks-open")
    assert decision["verdict"] == "reverted"
    (comment,) = wait_until(lambda: comments(jira, "WAR-1"), timeout=10)
    said = text(comment)
    assert "WAR-2 „Wymiana sprężarki” (Do zrobienia)" in said and "WAR-3" not in said
    assert "nie można zamknąć" in said, "in the workflow's language"
    assert comment["jsdPublic"] is False, "an agent's close is answered internally"


def test_closing_once_the_tasks_are_done_stays_closed(jira, warranticon, bridge):
    move(jira, "WAR-2", "Gotowe")
    move(jira, "WAR-1", "Zamknięte")
    decision = decided(bridge, "WAR-1", "subtasks-done")
    assert decision["verdict"] == "allowed" and "every sub-task is done" in decision["reason"]
    assert jira("GET", "/issues/WAR-1")["status"] == "Zamknięte"
    assert comments(jira, "WAR-1") == []
    # the sub-task's own move was recorded, and moved nothing: the shipped file closes by hand
    assert [d["rule"] for d in bridge.api("/api/decisions", ticket="WAR-2")] == ["no-workflow"]


@pytest.fixture
def closes_by_itself(tmp_path, jira) -> Iterator[Bridge]:
    """The service with warranticon's documented `then` switched on."""
    folder = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", folder)
    path = folder / "warranticon.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("  # then:\n")
    lines[start:] = [line.replace("  # ", "  ", 1) if line.startswith("  #   ") or line == "  # then:\n" else line
                     for line in lines[start:]]
    path.write_text("".join(lines), encoding="utf-8")
    service = Bridge(tmp_path, jira.url).start()
    assert service.cli("check", str(folder)).returncode == 0
    jira("POST", "/webhook", {"url": f"{service.url}/webhooks/jira", "secret": SECRET})
    yield service
    service.stop()


def test_the_last_task_done_closes_the_ticket_with_a_comment(jira, warranticon, closes_by_itself):
    move(jira, "WAR-2", "W realizacji")
    decided(closes_by_itself, "WAR-2", "subtask-changed")
    assert jira("GET", "/issues/WAR-1")["status"] == "W toku", "a task still open: the ticket stays"
    move(jira, "WAR-2", "Gotowe")
    wait_until(lambda: jira("GET", "/issues/WAR-1")["status"] == "Zamknięte", timeout=10)
    moved = decided(closes_by_itself, "WAR-2", "subtasks-finished")
    assert moved["verdict"] == "returned"
    (comment,) = comments(jira, "WAR-1")
    assert comment["jsdPublic"] is True and "Wszystkie zadania zgłoszenia WAR-1" in text(comment)
    # the bridge's own close came back as a delivery: recorded, not judged
    assert decided(closes_by_itself, "WAR-1", "own-change")["to_status"] == "Zamknięte"
