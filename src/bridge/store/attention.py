"""The "touched by customers" queue: tickets the team should look at, read from the bridge's
own records, so it costs no tracker query.

Support teams lose tickets that a customer changed last: the customer answered in a comment,
or moved the ticket, and nobody of the team noticed (the Easy Project helpdesk's advice: a
ticket last updated by a client must never slip by). So a ticket is on the queue while a
customer's change to it, judged under a workflow, has no change by the team after it; and
while a decision that needs attention (a move that could not be undone, a reply with no way
back, a development provider out of reach) has none either. The bridge's own changes and
timers answer nobody: only a person of the team takes a ticket off the queue.

Who made a change is what the bridge recorded of it (`actor_role`): customers by their portal
account, the team by theirs, the bridge's own account told apart from both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, or_, select

from bridge.store.tables import decisions
from bridge.store.values import aware

CUSTOMER, TEAM = "customer", "agent"
NEEDS_ATTENTION = "needs_attention"
_COMMENT_RULES = ("reply", "comment")


@dataclass(frozen=True)
class Waiting:
    """A ticket waiting for the team: since when, and why.

    `kind` is `customer` (the customer changed it last: `what` says how) or `attention` (a
    decision needs someone: `what` gives its reason). `since` is when the bridge recorded the
    first change nobody of the team has answered; `by`, who made the change `what` names."""

    tracker: str
    ticket: str
    since: datetime
    kind: str
    what: str
    workflow: str | None
    by: str | None


_answer = decisions.alias("answer")
# A change by the team recorded after the decision: it answers it. A team member's move that
# itself needs attention answers nothing.
_ANSWERED = exists().where(
    _answer.c.tracker == decisions.c.tracker,
    _answer.c.ticket == decisions.c.ticket,
    _answer.c.actor_role == TEAM,
    _answer.c.verdict != NEEDS_ATTENTION,
    _answer.c.id > decisions.c.id,
)
_UNANSWERED = (
    select(
        decisions.c.tracker,
        decisions.c.ticket,
        decisions.c.created_at,
        decisions.c.event,
        decisions.c.actor,
        decisions.c.actor_role,
        decisions.c.from_status,
        decisions.c.to_status,
        decisions.c.workflow,
        decisions.c.verdict,
        decisions.c.rule,
        decisions.c.reason,
    )
    .where(
        decisions.c.ticket.is_not(None),
        or_(
            and_(decisions.c.actor_role == CUSTOMER, decisions.c.workflow.is_not(None)),
            decisions.c.verdict == NEEDS_ATTENTION,
        ),
        ~_ANSWERED,
    )
    .order_by(decisions.c.id)
)


class Attention:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queue(self, limit: int = 100) -> list[Waiting]:
        """The tickets waiting for the team, the longest waiting first, at most `limit`."""
        with self.engine.connect() as conn:
            rows = conn.execute(_UNANSWERED).all()
        first: dict[tuple[str, str], Any] = {}
        latest: dict[tuple[str, str], Any] = {}  # the attention, else the customer's last change
        for row in rows:
            key = (row.tracker, row.ticket)
            first.setdefault(key, row)
            if row.verdict == NEEDS_ATTENTION or latest.get(key, row).verdict != NEEDS_ATTENTION:
                latest[key] = row
        found = [_waiting(first[key], row) for key, row in latest.items()]
        found.sort(key=lambda w: w.since)
        return found[:limit]


def _waiting(first: Any, row: Any) -> Waiting:
    since = aware(first.created_at) or first.created_at
    if row.verdict == NEEDS_ATTENTION:
        kind, what = "attention", f"needs attention: {row.reason}"
    else:
        kind, what = CUSTOMER, _change(row)
    return Waiting(row.tracker, row.ticket, since, kind, what, row.workflow, row.actor)


def _change(row: Any) -> str:
    """A customer's change in a few words."""
    if row.event == "comment_deleted":
        return "deleted a comment"
    if row.rule in _COMMENT_RULES or (row.event or "").startswith("comment_"):
        return "commented" + (", moved back to the team" if row.verdict == "returned" else "")
    if row.from_status is not None:
        undone = " (reverted)" if row.verdict == "reverted" else ""
        return f"moved {row.from_status} → {row.to_status}{undone}"
    if row.event == "jira:issue_created":
        return "created the ticket"
    return "updated the ticket"
