"""Replies: a customer's answer in a comment moves a waiting ticket back to the team.

Pure, like `decide`, which hands it every comment on a governed ticket. Only a public
comment by a customer can be a reply: the team's comments and internal notes move nothing,
nor does the bridge's own (judged before it gets here). Whether the ticket waits is decided on
the ticket as it is now (`Need.TICKET`), so a reply delivered after the team moved the ticket
on leaves it where it is; a delivery that shows the ticket elsewhere already when the
comment was made costs no tracker call at all.

Jira Cloud says whether a comment is public (`jsdPublic`); where a delivery does not say, a
customer's comment is taken as public, since Jira Service Management gives customers no
internal notes.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.engine.model import (
    CommentAction,
    Decision,
    Event,
    Kind,
    Need,
    Role,
    Rule,
    Ticket,
    TransitionAction,
    Verdict,
)
from bridge.workflows.model import Workflow


def decide_reply(event: Event, workflow: Workflow, ticket: Ticket | None) -> Decision:
    """Whether a comment on a ticket `workflow` governs moves it back to the team."""
    name = workflow.name
    if event.public is False:
        return _moves_nothing("an internal comment moves nothing", name)
    if event.actor.role is Role.AGENT:
        return _moves_nothing("a comment by the team moves nothing", name)
    if not workflow.replies:
        return _moves_nothing("the workflow moves nothing on replies", name)
    shown = workflow.status_id(event.to_status)
    if event.to_status is not None and shown not in workflow.replies:
        return _moves_nothing(f"commented in '{event.to_status}', which waits for no reply", name)
    if event.actor.role is Role.UNKNOWN:
        return _needs(name, Need.ROLE)
    if ticket is None:
        return _needs(name, Need.TICKET)
    target = workflow.replies.get(workflow.status_id(ticket.status) or "")
    if target is None:
        return Decision(
            Verdict.STALE,
            Rule.COMMENT,
            f"the ticket is now in '{ticket.status}', no longer waiting for the customer: nothing to move",
            name,
        )
    status = workflow.statuses[target]
    reason = f"the customer replied while the ticket waited in '{ticket.status}': → {status}"
    way = _transition_to(ticket, status)
    if way is None:
        who = event.actor.name or event.actor.id or "the customer"
        note = workflow.messages.reply_stuck.format_map(
            {"ticket": ticket.key, "status": ticket.status, "next": status, "actor": who}
        )
        return Decision(
            Verdict.NEEDS_ATTENTION,
            Rule.REPLY,
            f"{reason}; no transition leads to '{status}'",
            name,
            actions=(CommentAction(ticket.key, note, public=False),),
        )
    move = TransitionAction(ticket.key, way or None, status, ticket.status)
    return Decision(Verdict.RETURNED, Rule.REPLY, reason, name, actions=(move,))


def trimmed(event: Event, workflows: Iterable[Workflow]) -> bool:
    """Whether a customer's comment came without the request type its workflow may be chosen
    by: Jira trims the issue in comment deliveries, often of the request type field. Such a
    delivery is completed from the tracker before it is judged, else its ticket would seem
    governed by no workflow. One whose issue type a workflow governs is judged by that one
    as it comes, so that a comment that cannot be a reply costs no tracker call."""
    if event.kind is not Kind.COMMENTED or event.actor.role is not Role.CUSTOMER:
        return False
    if event.ticket is None or event.request_type is not None:
        return False
    found = list(workflows)
    if any(wf.governs(event.project, event.issue_type, None) for wf in found):
        return False
    return any(
        wf.applies_to.request_types
        and (not wf.applies_to.projects or event.project in wf.applies_to.projects)
        for wf in found
    )


def _transition_to(ticket: Ticket, status: str) -> str | None:
    """The id of the transition leading to `status` ('' when the transitions are unknown,
    judging without a tracker), or None when none does."""
    if ticket.transitions is None:
        return ""
    wanted = status.casefold()
    return next((t.id for t in ticket.transitions if t.to_status.casefold() == wanted), None)


def _moves_nothing(reason: str, workflow: str) -> Decision:
    return Decision(Verdict.IGNORED, Rule.COMMENT, reason, workflow)


def _needs(workflow: str, need: Need) -> Decision:
    return Decision(Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow, needs=frozenset({need}))
