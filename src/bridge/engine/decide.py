"""The decision core: an event, what is known of the ticket now, a workflow → a decision.

`decide` is pure. It decides on what it is given and, where that is not enough, answers
`Verdict.NEEDS` naming what it lacks (the ticket as it is now, the actor's role, the
customer's earlier moves that were let stand, the ticket's recent comments). The worker
fetches exactly that and asks again, so events that cannot lead to an action never cost a
tracker call.

A required comment need not come in the change's own delivery: Jira may send it as a
comment event of its own, before or after the status change. A comment by the same person
within `window` of the change counts as made with it. While the window is still open and no
such comment is found, the answer is `Verdict.WAITING` until it closes: the change is judged
again then, so a reason typed a moment after the click is never reverted as missing.

A move into a workflow's development status that the rules above let stand must also name
development items that exist (`bridge.engine.development`); `items` is what the provider
said of them (None: not yet asked, answered with `Need.ITEMS`). Attachments a customer adds
are judged on top of every decision (`bridge.engine.attachments`). A new ticket is judged by
its workflow's rules on creation (`bridge.engine.creation`).

A comment on a governed ticket may be a customer's reply, which moves a waiting ticket back
to the team (`bridge.engine.replies`).

A move into a closing status stands only with every sub-task done (`bridge.engine.subtasks`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bridge.engine.attachments import judge_attachments
from bridge.engine.creation import decide_creation
from bridge.engine.development import Refusal, check_entry, entering
from bridge.engine.replies import decide_reply
from bridge.engine.subtasks import OpenTasks, check_close, closing
from bridge.engine.model import (
    COMMENT_WINDOW,
    Action,
    Chain,
    Comment,
    CommentAction,
    Decision,
    DevItems,
    Event,
    Kind,
    NO_CHAIN,
    Need,
    Role,
    Rule,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
)
from bridge.workflows.model import Requirements, Workflow


@dataclass(frozen=True)
class _Comments:
    """The ticket's recent comments (None: not yet read), and the time to judge them at."""

    found: tuple[Comment, ...] | None
    now: datetime | None
    window: timedelta


def decide(
    event: Event,
    workflow: Workflow | None,
    ticket: Ticket | None = None,
    chain: Chain | None = None,
    comments: tuple[Comment, ...] | None = None,
    *,
    now: datetime | None = None,
    window: timedelta = COMMENT_WINDOW,
    items: DevItems | None = None,
) -> Decision:
    """`chain`: the customer's earlier moves on this ticket that were let stand because they
    were stale when judged (`NO_CHAIN` when there are none; None when not yet looked up).
    `comments`: the ticket's recent comments (None when not yet read); `now`: the time they
    were read at (None: the window is taken as closed). `items`: the development items the
    ticket names, as their provider has them (None when not yet asked)."""
    decision = _decide(event, workflow, ticket, chain, _Comments(comments, now, window))
    if workflow is not None and closing(event, workflow, decision):  # sub-tasks must be done
        closed = check_close(event, workflow, ticket, decision)
        if isinstance(closed, OpenTasks):
            assert ticket is not None
            closed = _revert(event, workflow, ticket, Rule.SUBTASKS_OPEN, closed.reason, closed.text)
        return replace(closed, chain_from=decision.chain_from) if closed.verdict is not Verdict.NEEDS else closed
    decision = judge_attachments(event, workflow, ticket, decision)
    if workflow is None or not entering(event, workflow, decision):
        return decision
    checked = check_entry(event, workflow, ticket, items)
    if isinstance(checked, Refusal):
        assert ticket is not None
        checked = _revert(event, workflow, ticket, checked.rule, checked.reason, checked.text)
    if checked.verdict is Verdict.NEEDS:
        return checked
    return replace(checked, reason=f"{decision.reason}; {checked.reason}", chain_from=decision.chain_from)


def _decide(
    event: Event, workflow: Workflow | None, ticket: Ticket | None, chain: Chain | None, said: _Comments
) -> Decision:
    if event.kind is Kind.NO_TICKET:
        what = event.raw_event or event.kind.value
        return Decision(Verdict.IGNORED, Rule.NO_RULE, f"{what}: not about one ticket; no rule applies")
    if event.ticket is None:  # named by id only: which ticket it is decides the workflow
        return _needs(None, Need.TICKET)
    if workflow is None:
        return Decision(Verdict.IGNORED, Rule.NO_WORKFLOW, "no workflow governs this ticket type")
    name = workflow.name
    if event.actor.role is Role.BRIDGE:
        return Decision(Verdict.IGNORED, Rule.OWN_CHANGE, "made by the bridge itself", name)
    if event.kind is Kind.CREATED and workflow.on_create is not None:
        return decide_creation(event, workflow, ticket)
    if event.kind is Kind.COMMENTED:  # a customer's reply moves a waiting ticket back
        return decide_reply(event, workflow, ticket)
    if event.kind is not Kind.STATUS_CHANGED:
        return Decision(Verdict.IGNORED, Rule.NO_RULE, f"{event.kind.value}: no rule applies", name)

    src = workflow.status_id(event.from_status)
    dst = workflow.status_id(event.to_status)
    if src is None or dst is None:
        unknown = event.from_status if src is None else event.to_status
        return Decision(
            Verdict.IGNORED,
            Rule.UNKNOWN_STATUS,
            f"status '{unknown}' is not declared in workflow '{name}'",
            name,
        )

    if event.actor.role in (Role.CUSTOMER, Role.UNKNOWN):
        if chain is None:
            return _needs(name, Need.CHAIN)
        if _continues(chain, event):
            if event.actor.role is Role.UNKNOWN:
                return _needs(name, Need.ROLE)
            return _judge_chain(event, workflow, ticket, chain, said)

    requires = workflow.entry_requirements(dst)
    if event.actor.role is Role.UNKNOWN:
        move = workflow.customer_move(src, dst)
        if move is None or move.requires:
            # The verdict depends on whether a customer made the move; ask who the actor is.
            return _needs(name, Need.ROLE)
    if event.actor.role is Role.CUSTOMER:
        move = workflow.customer_move(src, dst)
        if move is None:
            return _revert_forbidden(event, workflow, ticket)
        requires = _merge(requires, move.requires)

    if not requires:
        return Decision(Verdict.ALLOWED, Rule.ALLOWED, _move_text(event), name)
    return _check_requirements(event, workflow, ticket, requires, said)


def _continues(chain: Chain, event: Event) -> bool:
    """Whether this customer move starts where the customer's stale moves ended."""
    return (
        chain.origin is not None
        and chain.reached is not None
        and chain.reached.casefold() == (event.from_status or "").casefold()
    )


def _judge_chain(
    event: Event, workflow: Workflow, ticket: Ticket | None, chain: Chain, said: _Comments
) -> Decision:
    """Judge the customer's whole way, from where their stale moves began to here."""
    assert chain.origin is not None
    way = f"customer moves {chain.origin} → {event.from_status} → {event.to_status}"
    if chain.origin.casefold() == (event.to_status or "").casefold():
        return Decision(
            Verdict.ALLOWED,
            Rule.CHAIN_UNDONE,
            f"{way}: back where they began",
            workflow.name,
            chain_from=chain.origin,
        )
    whole = _decide(replace(event, from_status=chain.origin), workflow, ticket, NO_CHAIN, said)
    if whole.verdict in (Verdict.NEEDS, Verdict.WAITING):
        return whole
    return replace(whole, reason=f"{way}: {whole.reason}", chain_from=chain.origin)


def _needs(workflow: str | None, *needs: Need) -> Decision:
    return Decision(
        Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow, needs=frozenset(needs)
    )


def _merge(a: Requirements, b: Requirements) -> Requirements:
    if not b:
        return a
    if not a:
        return b
    return Requirements(comment=a.comment or b.comment, fields={**a.fields, **b.fields})


def _move_text(event: Event) -> str:
    return f"{event.from_status} → {event.to_status} by {event.actor.role.value}"


def _placeholders(event: Event, workflow: Workflow, **extra: str) -> dict[str, str]:
    values = {
        "ticket": event.ticket,
        "from_status": event.from_status or "",
        "to_status": event.to_status or "",
        "actor": event.actor.name or event.actor.id or "unknown",
        "allowed": "",
        "missing": "",
    }
    values.update(extra)
    return values


def _allowed_text(workflow: Workflow, src: str) -> str:
    targets = workflow.customer_targets(src)
    if not targets:
        return workflow.messages.nothing_allowed
    return ", ".join(workflow.statuses[t] for t in targets)


def _stale(event: Event, ticket: Ticket, workflow: Workflow) -> Decision | None:
    if ticket.status.casefold() != (event.to_status or "").casefold():
        return Decision(
            Verdict.STALE,
            Rule.STALE,
            f"ticket is now in '{ticket.status}', not '{event.to_status}': nothing to revert",
            workflow.name,
        )
    return None


def _revert(
    event: Event,
    workflow: Workflow,
    ticket: Ticket,
    rule: Rule,
    reason: str,
    public_text: str,
) -> Decision:
    """Move the ticket back to where it came from, or alert agents when no way leads back."""
    wanted = (event.from_status or "").casefold()
    if ticket.transitions is None:  # judging without a tracker: say where it would go
        back = [Transition("", "", event.from_status or "")]
    else:
        back = [t for t in ticket.transitions if t.to_status.casefold() == wanted]
    note = workflow.messages.no_way_back.format_map(_placeholders(event, workflow))
    if not back:
        return Decision(
            Verdict.NEEDS_ATTENTION,
            rule,
            f"{reason}; no transition leads back to '{event.from_status}'",
            workflow.name,
            actions=(CommentAction(event.ticket, note, public=False),),
        )
    actions: tuple[Action, ...] = (
        TransitionAction(event.ticket, back[0].id or None, back[0].to_status, ticket.status, if_kept=note),
        CommentAction(event.ticket, public_text, public=event.actor.role is Role.CUSTOMER),
    )
    return Decision(Verdict.REVERTED, rule, reason, workflow.name, actions=actions)


def _revert_forbidden(event: Event, workflow: Workflow, ticket: Ticket | None) -> Decision:
    if ticket is None:
        return _needs(workflow.name, Need.TICKET)
    stale = _stale(event, ticket, workflow)
    if stale:
        return stale
    src = workflow.status_id(event.from_status)
    assert src is not None
    text = workflow.messages.forbidden.format_map(
        _placeholders(event, workflow, allowed=_allowed_text(workflow, src))
    )
    return _revert(
        event,
        workflow,
        ticket,
        Rule.CUSTOMER_TRANSITION,
        f"customers may not move {event.from_status} → {event.to_status}",
        text,
    )


def _check_requirements(
    event: Event, workflow: Workflow, ticket: Ticket | None, requires: Requirements, said: _Comments
) -> Decision:
    missing: list[str] = []
    reason = _reason(event, said) if requires.comment else _Reason.GIVEN
    if reason is _Reason.UNREAD:
        return _needs(workflow.name, Need.COMMENTS)
    if reason is _Reason.MISSING:
        missing.append(workflow.messages.missing_comment)
    if requires.fields:
        if ticket is None:
            return _needs(workflow.name, Need.TICKET)
        for field_id, label in requires.fields.items():
            if _blank(ticket.fields.get(field_id)):
                missing.append(workflow.messages.missing_field.format(label=label))
    if not missing:
        if reason is _Reason.AWAITED:
            return _wait_for_comment(event, workflow, said)
        met = " (the comment came on its own)" if reason is _Reason.APART else ""
        return Decision(
            Verdict.ALLOWED, Rule.REQUIREMENTS_MET, f"{_move_text(event)}; requirements met{met}", workflow.name
        )
    if ticket is None:
        return _needs(workflow.name, Need.TICKET)
    stale = _stale(event, ticket, workflow)
    if stale:
        return stale
    text = workflow.messages.requirement_missing.format_map(
        _placeholders(event, workflow, missing=", ".join(missing))
    )
    return _revert(
        event,
        workflow,
        ticket,
        Rule.ENTRY_REQUIREMENT,
        f"entering '{event.to_status}' requires {', '.join(missing)}",
        text,
    )


class _Reason(enum.Enum):
    """Where the comment a change requires stands."""

    GIVEN = "in the change's own delivery"
    UNREAD = "not in the delivery; the ticket's comments not yet read"
    APART = "made on its own, within the window"
    AWAITED = "not found, and the window is still open"
    MISSING = "not found, and the window has closed"


def _reason(event: Event, said: _Comments) -> _Reason:
    if event.comment and event.comment.strip():
        return _Reason.GIVEN
    if said.found is None:
        return _Reason.UNREAD
    if any(_made_with(comment, event, said.window) for comment in said.found):
        return _Reason.APART
    if event.at is not None and said.now is not None and said.now < event.at + said.window:
        return _Reason.AWAITED
    return _Reason.MISSING  # also when the change's time is unknown: no window to place


def _made_with(comment: Comment, event: Event, window: timedelta) -> bool:
    """Whether `comment` counts as made with the change: by the same person, with text,
    within `window` of it."""
    if event.at is None or event.actor.id is None or event.actor.id not in comment.by:
        return False
    return bool(comment.text.strip()) and abs(comment.created - event.at) <= window


def _wait_for_comment(event: Event, workflow: Workflow, said: _Comments) -> Decision:
    assert event.at is not None
    until = event.at + said.window
    who = event.actor.name or event.actor.id or "the actor"
    return Decision(
        Verdict.WAITING,
        Rule.AWAITING_COMMENT,
        f"{_move_text(event)} requires a comment; waiting until {until.astimezone(UTC):%H:%M:%S} UTC "
        f"for one by {who}",
        workflow.name,
        wait_until=until,
    )


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    return False
