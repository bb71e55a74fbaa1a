"""The attachment policy through the real service, against the Jira stand-in: DESO's CRM
accepts jpg, png, doc, docx, xls, xlsx, pdf, zip and rar of at most 2 MB (deso-crm.yaml)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import CUSTOMER, SECRET, Bridge, decided, wait_until

pytestmark = pytest.mark.e2e

AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
MB = 1024 * 1024


@pytest.fixture(params=["comment", "remove"])
def service(request, tmp_path, jira) -> Iterator[Bridge]:
    """The service with the shipped workflows, deso-crm's `action` as the test asks."""
    bridge = Bridge(tmp_path, jira.url, BRIDGE_SWEEP_INTERVAL="0")
    shipped = bridge.workflows / "deso-crm.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert text.count("  action: comment\n") == 1
    shipped.write_text(text.replace("  action: comment\n", f"  action: {request.param}\n"), encoding="utf-8")
    bridge.action = request.param  # type: ignore[attr-defined]
    bridge.start()
    jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
    yield bridge
    bridge.stop()


def crm_ticket(jira, key: str) -> None:
    jira("POST", "/issues", {"key": key, "status": "Answered", "project": "CRM", "issuetype": "CRM"})


def attach(jira, key: str, filename: str, size: int, by: dict = CUSTOMER) -> str:
    event = jira("POST", f"/issues/{key}/attachments", {"filename": filename, "size": size, "by": by})
    return event["changelog"]["items"][0]["to"]




def test_a_customers_exe_is_answered_with_a_comment_naming_it(jira, service):
    crm_ticket(jira, "CRM-1")
    attach(jira, "CRM-1", "virus.exe", 40 * 1024)
    decision = decided(service, "CRM-1", "attachment-rejected")
    assert decision["verdict"] == "rejected" and {a["outcome"] for a in decision["actions"]} == {"done"}
    state = jira("GET", "/issues/CRM-1")
    (comment,) = state["comments"]
    text = json.dumps(comment["body"], ensure_ascii=False)
    assert comment["jsdPublic"] is True, "the customer must see it"
    assert "virus.exe" in text and "files of type .exe are not accepted" in text
    if service.action == "remove":
        assert state["attachments"] == []
        # the bridge's own deletion came back as a webhook: recorded, nothing done about it
        wait_until(lambda: len(service.api("/api/decisions", ticket="CRM-1")) == 2, timeout=10)
        deleted = service.api("/api/decisions", ticket="CRM-1")[0]
        assert (deleted["verdict"], deleted["actions"]) == ("ignored", [])
        assert "It has been removed from the ticket." in text
    else:
        assert [a["filename"] for a in state["attachments"]] == ["virus.exe"]


def test_a_file_over_two_megabytes_is_named_with_its_size(jira, service):
    crm_ticket(jira, "CRM-2")
    attach(jira, "CRM-2", "scan.pdf", 3 * MB)
    decided(service, "CRM-2", "attachment-rejected")
    (comment,) = jira("GET", "/issues/CRM-2")["comments"]
    assert "scan.pdf" in json.dumps(comment["body"], ensure_ascii=False)
    assert "it is 3 MB, more than 2 MB" in json.dumps(comment["body"], ensure_ascii=False)


def test_a_one_megabyte_pdf_and_an_agents_exe_are_left_alone(jira, service):
    crm_ticket(jira, "CRM-3")
    attach(jira, "CRM-3", "invoice.pdf", MB)
    accepted = decided(service, "CRM-3", "attachments-accepted")
    assert accepted["verdict"] == "allowed" and accepted["actions"] == []
    attach(jira, "CRM-3", "diagnostics.exe", 5 * MB, by=AGENT)
    wait_until(lambda: len(service.api("/api/decisions", ticket="CRM-3")) == 2, timeout=10)
    state = jira("GET", "/issues/CRM-3")
    assert state["comments"] == []
    assert [a["filename"] for a in state["attachments"]] == ["invoice.pdf", "diagnostics.exe"]


def test_the_same_attachment_delivered_again_is_answered_once(jira, service):
    crm_ticket(jira, "CRM-7")
    attach(jira, "CRM-7", "setup.msi", 10 * 1024)
    decided(service, "CRM-7", "attachment-rejected")
    # Jira sends the change again under another delivery id: judged once, one comment
    sent = next(d for d in jira("GET", "/webhook/deliveries") if "setup.msi" in json.dumps(d["body"]))
    assert service.post(sent["body"], "sent-again").status_code == 200
    decided(service, "CRM-7", "judged-before")
    assert len(jira("GET", "/issues/CRM-7")["comments"]) == 1
