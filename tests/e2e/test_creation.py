"""Rules on creation through the real service and the shipped workflows, against the Jira
stand-in: DESO's e-mailed tickets get priority Medium, Targito's customers choose the
priority on bug reports only, and a bug report without a description is asked for one."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import CUSTOMER, decided, wait_until

pytestmark = pytest.mark.e2e

BUG, SUPPORT = "Něco mi nefunguje", "Potřebuji podporu"




def priority(jira, key: str) -> str:
    return jira("GET", f"/issues/{key}")["fields"]["priority"]["name"]


def deso(jira, key: str, channel: str, prio: str) -> None:
    jira("POST", "/create", {"key": key, "issuetype": "CRM", "project": "CRM", "user": CUSTOMER,
                             "channel": channel, "fields": {"summary": "Nejde export", "priority": prio}})


def targito(jira, key: str, request_type: str, prio: str, description: str | None = "Šablona XY nejde uložit") -> None:
    jira("POST", "/create", {"key": key, "project": "TGS", "user": CUSTOMER, "request_type": request_type,
                             "channel": "portal", "fields": {"summary": "Problém", "priority": prio,
                                                             "description": description}})


def test_an_e_mailed_deso_ticket_marked_high_gets_medium_and_the_audit_log_says_why(jira, bridge):
    deso(jira, "CRM-1", "email", "High")
    decision = decided(bridge, "CRM-1", "channel-field")
    assert decision["verdict"] == "corrected" and decision["workflow"] == "deso-crm"
    (update,) = decision["actions"]
    assert update["kind"] == "fields" and update["outcome"] == "done"
    assert update["payload"]["rule"] == "channel-field" and update["payload"]["was"] == {"priority": "High"}
    assert priority(jira, "CRM-1") == "Medium"
    # Jira tells the bridge of its own change: recorded, not judged again
    wait_until(lambda: any(d["event"] == "jira:issue_updated" for d in bridge.api("/api/decisions", ticket="CRM-1")))
    assert priority(jira, "CRM-1") == "Medium" and jira("GET", "/issues/CRM-1")["comments"] == []


def test_a_deso_ticket_from_the_portal_keeps_the_priority_chosen(jira, bridge):
    deso(jira, "CRM-2", "portal", "High")
    decision = decided(bridge, "CRM-2", "creation-met")
    assert decision["verdict"] == "allowed" and decision["actions"] == []
    assert priority(jira, "CRM-2") == "High"


def test_a_targito_customers_priority_on_a_question_goes_back_to_the_default(jira, bridge):
    targito(jira, "TGS-1", SUPPORT, "Highest")
    decision = decided(bridge, "TGS-1", "customer-field")
    assert decision["verdict"] == "corrected" and decision["actions"][0]["outcome"] == "done"
    assert priority(jira, "TGS-1") == "Medium"


def test_on_a_targito_bug_report_the_customers_priority_stands(jira, bridge):
    targito(jira, "TGS-2", BUG, "Highest")
    decided(bridge, "TGS-2", "creation-met")
    assert priority(jira, "TGS-2") == "Highest" and jira("GET", "/issues/TGS-2")["comments"] == []


def test_a_targito_bug_report_without_a_description_gets_a_comment_naming_it(jira, bridge):
    targito(jira, "TGS-3", BUG, "High", description=None)
    decision = decided(bridge, "TGS-3", "required-fields")
    assert decision["verdict"] == "corrected"
    (comment,) = jira("GET", "/issues/TGS-3")["comments"]
    text = json.dumps(comment["body"], ensure_ascii=False)
    assert comment["jsdPublic"] is True and "a description of what does not work" in text and "TGS-3" in text
    assert priority(jira, "TGS-3") == "High"
