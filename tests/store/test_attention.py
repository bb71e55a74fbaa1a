"""The "touched by customers" queue on real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bridge.store import Audit, DecisionRecord, create_db_engine, migrate
from bridge.store.attention import Attention
from tests.databases import database_url

SHEET = "service-sheet"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Audit(engine), Attention(engine)
        engine.dispose()


def record(audit: Audit, ticket: str, role: str, verdict: str = "ignored", *, rule: str = "no-rule",
           event: str = "jira:issue_updated", moved: tuple[str, str] | None = None, workflow: str | None = SHEET,
           reason: str = "", tracker: str = "jira") -> None:
    who = {"customer": "Jana (qm:1)", "agent": "Petr (5b10)", "bridge": "Ticket Bridge (me)"}.get(role)
    frm, to = moved or (None, "Na klientovi")
    audit.record_decision(None, DecisionRecord(tracker, ticket, event, who, role, frm, to, workflow, verdict, rule,
                                               reason, dry_run=False), [])


def listed(attention: Attention, limit: int = 100) -> list[tuple[str, str, str]]:
    return [(w.ticket, w.kind, w.what) for w in attention.queue(limit)]


def test_a_customers_comment_waits_until_someone_of_the_team_answers(store):
    audit, attention = store
    record(audit, "SRV-1", "customer", rule="comment", event="comment_created")
    (waiting,) = attention.queue()
    assert (waiting.ticket, waiting.kind, waiting.what, waiting.workflow) == ("SRV-1", "customer", "commented", SHEET)
    assert waiting.by == "Jana (qm:1)" and waiting.since.tzinfo is not None
    record(audit, "SRV-1", "agent", rule="comment", event="comment_created")
    assert attention.queue() == []


def test_the_longest_waiting_comes_first_since_the_first_change_nobody_answered(store):
    audit, attention = store
    record(audit, "SRV-1", "customer", rule="comment", event="comment_created")
    record(audit, "SRV-1", "agent", "allowed", rule="allowed", moved=("Realizace", "Na klientovi"))
    record(audit, "SRV-2", "customer", "allowed", rule="allowed", moved=("Na klientovi", "Vráceno klientem"))
    record(audit, "SRV-1", "customer", "returned", rule="reply", event="comment_created")  # after the answer
    record(audit, "SRV-2", "customer", rule="comment", event="comment_updated")
    found = attention.queue()
    assert [(w.ticket, w.what) for w in found] == [
        ("SRV-2", "commented"),  # its first unanswered change came before SRV-1's
        ("SRV-1", "commented, moved back to the team"),
    ]
    assert found[0].since < found[1].since


def test_the_bridges_own_changes_answer_nobody_and_unjudged_tickets_are_not_listed(store):
    audit, attention = store
    record(audit, "SRV-1", "customer", "reverted", rule="customer-transition", moved=("Na klientovi", "Hotovo"))
    record(audit, "SRV-1", "bridge", rule="own-change", moved=("Hotovo", "Na klientovi"))
    record(audit, "SRV-1", "bridge", rule="own-change", event="comment_created")
    record(audit, "SRV-1", "unknown", rule="dev-changed")
    record(audit, "DEV-9", "customer", rule="no-workflow", workflow=None)
    assert listed(attention) == [("SRV-1", "customer", "moved Na klientovi → Hotovo (reverted)")]


def test_a_decision_that_needs_attention_stays_until_the_team_changes_the_ticket(store):
    audit, attention = store
    record(audit, "SRV-3", "customer", "needs_attention", rule="customer-transition", moved=("Na klientovi", "Hotovo"),
           reason="customers may not move Na klientovi → Hotovo; no transition leads back to 'Na klientovi'")
    record(audit, "SRV-3", "bridge", rule="own-change", event="comment_created")  # the bridge's note
    record(audit, "SRV-3", "customer", rule="comment", event="comment_created")
    (waiting,) = attention.queue()
    assert waiting.kind == "attention" and waiting.what.startswith("needs attention: customers may not move")
    record(audit, "SRV-3", "agent", "allowed", rule="allowed", moved=("Hotovo", "Na klientovi"))
    assert attention.queue() == []


def test_a_team_members_move_that_needs_attention_is_no_answer(store):
    audit, attention = store
    record(audit, "SRV-4", "agent", "needs_attention", rule="dev-unreachable", moved=("Realizace", "Na vývoji"),
           reason="azure-devops could not be reached (timeout); 4711 not checked")
    assert listed(attention) == [("SRV-4", "attention", "needs attention: azure-devops could not be reached (timeout); 4711 not checked")]


def test_sites_are_kept_apart_and_the_queue_is_cut_at_its_limit(store):
    audit, attention = store
    record(audit, "SRV-1", "customer", event="jira:issue_created", tracker="jira")
    record(audit, "SRV-1", "customer", rule="comment", event="comment_created", tracker="redmine")
    record(audit, "SRV-1", "agent", rule="comment", event="comment_created", tracker="redmine")
    record(audit, "SRV-5", "customer")
    assert [(w.tracker, w.ticket, w.what) for w in attention.queue()] == [
        ("jira", "SRV-1", "created the ticket"), ("jira", "SRV-5", "updated the ticket"),
    ]
    assert listed(attention, limit=1) == [("SRV-1", "customer", "created the ticket")]
