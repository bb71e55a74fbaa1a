"""The decision core: an event, what is known of the ticket now, a workflow → a decision.

`decide` is pure. It decides on what it is given and, where that is not enough, answers
`Verdict.NEEDS` naming what it lacks (the ticket as it is now, the actor's role, the
customer's earlier moves that were let stand). The worker fetches exactly that and asks
again, so events that cannot lead to an action never cost a tracker call.
"""

from __future__ import annotations

from dataclasses import replace

from bridge.engine.model import (
    Action,
    Chain,
    CommentAction,
    Decision,
    Event,
    Kind,
    NO_CHAIN,
    Need,
    Role,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
)
from bridge.workflows.model import Requirements, Workflow


def decide(
    event: Event,
    workflow: Workflow | None,
    ticket: Ticket | None = None,
    chain: Chain | None = None,
) -> Decision:
    """`chain`: the customer's earlier moves on this ticket that were let stand because they
    were stale when judged (`NO_CHAIN` when there are none; None when not yet looked up)."""
    if event.kind is Kind.NO_TICKET:
        what = event.raw_event or event.kind.value
        return Decision(Verdict.IGNORED, "no-rule", f"{what}: not about one ticket; no rule applies")
    if event.ticket is None:  # named by id only: which ticket it is decides the workflow
        return _needs(None, Need.TICKET)
    if workflow is None:
        return Decision(Verdict.IGNORED, "no-workflow", "no workflow governs this ticket type")
    name = workflow.name
    if event.actor.role is Role.BRIDGE:
        return Decision(Verdict.IGNORED, "own-change", "made by the bridge itself", name)
    if event.kind is not Kind.STATUS_CHANGED:
        return Decision(Verdict.IGNORED, "no-rule", f"{event.kind.value}: no rule applies", name)

    src = workflow.status_id(event.from_status)
    dst = workflow.status_id(event.to_status)
    if src is None or dst is None:
        unknown = event.from_status if src is None else event.to_status
        return Decision(
            Verdict.IGNORED,
            "unknown-status",
            f"status '{unknown}' is not declared in workflow '{name}'",
            name,
        )

    if event.actor.role in (Role.CUSTOMER, Role.UNKNOWN):
        if chain is None:
            return _needs(name, Need.CHAIN)
        if _continues(chain, event):
            if event.actor.role is Role.UNKNOWN:
                return _needs(name, Need.ROLE)
            return _judge_chain(event, workflow, ticket, chain)

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
        return Decision(Verdict.ALLOWED, "allowed", _move_text(event), name)
    return _check_requirements(event, workflow, ticket, requires)


def _continues(chain: Chain, event: Event) -> bool:
    """Whether this customer move starts where the customer's stale moves ended."""
    return (
        chain.origin is not None
        and chain.reached is not None
        and chain.reached.casefold() == (event.from_status or "").casefold()
    )


def _judge_chain(
    event: Event, workflow: Workflow, ticket: Ticket | None, chain: Chain
) -> Decision:
    """Judge the customer's whole way, from where their stale moves began to here."""
    assert chain.origin is not None
    way = f"customer moves {chain.origin} → {event.from_status} → {event.to_status}"
    if chain.origin.casefold() == (event.to_status or "").casefold():
        return Decision(
            Verdict.ALLOWED,
            "chain-undone",
            f"{way}: back where they began",
            workflow.name,
            chain_from=chain.origin,
        )
    whole = decide(replace(event, from_status=chain.origin), workflow, ticket, NO_CHAIN)
    if whole.verdict is Verdict.NEEDS:
        return whole
    return replace(whole, reason=f"{way}: {whole.reason}", chain_from=chain.origin)


def _needs(workflow: str | None, *needs: Need) -> Decision:
    return Decision(
        Verdict.NEEDS, "needs", "more facts needed", workflow, needs=frozenset(needs)
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
            "stale",
            f"ticket is now in '{ticket.status}', not '{event.to_status}': nothing to revert",
            workflow.name,
        )
    return None


def _revert(
    event: Event,
    workflow: Workflow,
    ticket: Ticket,
    rule: str,
    reason: str,
    public_text: str,
) -> Decision:
    """Move the ticket back to where it came from, or alert agents when no way leads back."""
    wanted = (event.from_status or "").casefold()
    if ticket.transitions is None:  # judging without a tracker: say where it would go
        back = [Transition("", "", event.from_status or "")]
    else:
        back = [t for t in ticket.transitions if t.to_status.casefold() == wanted]
    if not back:
        note = workflow.messages.no_way_back.format_map(_placeholders(event, workflow))
        return Decision(
            Verdict.NEEDS_ATTENTION,
            rule,
            f"{reason}; no transition leads back to '{event.from_status}'",
            workflow.name,
            actions=(CommentAction(event.ticket, note, public=False),),
        )
    actions: tuple[Action, ...] = (
        TransitionAction(event.ticket, back[0].id or None, back[0].to_status, ticket.status),
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
        "customer-transition",
        f"customers may not move {event.from_status} → {event.to_status}",
        text,
    )


def _check_requirements(
    event: Event, workflow: Workflow, ticket: Ticket | None, requires: Requirements
) -> Decision:
    missing: list[str] = []
    if requires.comment and not (event.comment and event.comment.strip()):
        missing.append(workflow.messages.missing_comment)
    if requires.fields:
        if ticket is None:
            return _needs(workflow.name, Need.TICKET)
        for field_id, label in requires.fields.items():
            if _blank(ticket.fields.get(field_id)):
                missing.append(workflow.messages.missing_field.format(label=label))
    if not missing:
        return Decision(
            Verdict.ALLOWED, "requirements-met", f"{_move_text(event)}; requirements met", workflow.name
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
        "entry-requirement",
        f"entering '{event.to_status}' requires {', '.join(missing)}",
        text,
    )


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    return False
