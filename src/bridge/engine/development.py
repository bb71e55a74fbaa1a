"""Development items: a ticket enters development only with items that exist, and comes
back by itself once development has finished them.

Pure, like `decide`. The item numbers people type are normalised here (`PBI 4711`, `#4711`
and `4711` are one item), so that the check on entry, the links the bridge records and the
hooks that come back all speak of the same item. What the provider says of the items is
asked for with `Need.ITEMS` and handed in as `DevItems`; a provider that cannot be reached
never decides a ticket's fate: the move is let stand and agents are told.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.engine.model import (
    Action,
    CommentAction,
    Decision,
    DevItem,
    DevItems,
    Event,
    LinkAction,
    Need,
    Rule,
    Ticket,
    TransitionAction,
    Verdict,
)
from bridge.workflows.development import Development
from bridge.workflows.model import Workflow

QUOTED = 60  # how much of a field's value a message quotes
_SEPARATORS = re.compile(r"[\s,;]+")
# An Azure DevOps work item: `4711`, `#4711`, `PBI 4711`, `PBI-4711`, `AB#4711` (the form
# GitHub and commit messages use), or the link a browser shows for it.
_AZURE = re.compile(
    r"(?:(?:pbi|ab)\s*[-#:]?\s*|#)?(\d+)(?=[\s,;]|$)"
    r"|https?://\S*?/_workitems/edit/(\d+)(?=[/?#\s,;]|$)[^\s,;]*",
    re.IGNORECASE,
)
# A Jira issue key, `DEV-12`, or the link a browser shows for it.
_JIRA = re.compile(
    r"([a-z][a-z0-9_]*)-(\d+)(?=[\s,;]|$)"
    r"|https?://\S*?/browse/([a-z][a-z0-9_]*)-(\d+)(?=[/?#\s,;]|$)[^\s,;]*",
    re.IGNORECASE,
)


class NotAnItem(ValueError):
    """A field value that is not a development item number; `value` quotes it, cut."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(f"'{value}' is not a development item number")


def item_numbers(provider: str, value: object) -> list[str]:
    """The item numbers a tracker field holds, normalised and without repeats, in the order
    written: `["4711"]` for Azure DevOps, `["DEV-12"]` for Jira. A field may hold text, a
    number or a list of them; `NotAnItem` (a ValueError) when any of it is no item number."""
    found: list[str] = []
    for part in _parts(value):
        try:
            found += _numbers(provider, part)
        except ValueError:
            raise NotAnItem(_quoted(value)) from None
    return list(dict.fromkeys(found))


def _parts(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _parts(v)]
    if isinstance(value, dict):  # an issue or an option, as Jira gives a field's value
        inner = next((value[k] for k in ("key", "value") if k in value), value)
        return [inner] if inner is value else _parts(inner)
    return [value]


def _numbers(provider: str, part: object) -> list[str]:
    if isinstance(part, bool):
        raise ValueError(part)
    if isinstance(part, float) and part.is_integer():
        part = int(part)  # Jira keeps number fields as floats: 4711.0
    if isinstance(part, int):
        if provider == "jira" or part <= 0:
            raise ValueError(part)
        return [str(part)]
    if not isinstance(part, str):
        raise ValueError(part)
    text = part.strip()
    found: list[str] = []
    pos = 0
    while pos < len(text):
        gap = _SEPARATORS.match(text, pos)
        if gap:
            pos = gap.end()
            continue
        match = (_JIRA if provider == "jira" else _AZURE).match(text, pos)
        if match is None:
            raise ValueError(text)
        if provider == "jira":
            found.append(f"{(match[1] or match[3]).upper()}-{int(match[2] or match[4])}")
        elif int(match[1] or match[2]) > 0:
            found.append(str(int(match[1] or match[2])))
        else:
            raise ValueError(text)  # no work item has number 0
        pos = match.end()
    return found


def _quoted(value: object) -> str:
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


def named_items(workflow: Workflow, ticket: Ticket) -> list[str]:
    """The items the ticket's development field names, as `Need.ITEMS` asks for them;
    nothing when the workflow has no development or the field holds no item number."""
    dev = workflow.development
    if dev is None:
        return []
    try:
        return item_numbers(dev.provider, ticket.fields.get(dev.field))
    except NotAnItem:
        return []


# -- entering development ----------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    """The move into development must be reverted: why, for the audit log, and the comment
    that says it (the revert itself is `decide`'s, as for every other rule)."""

    reason: str
    text: str
    rule: Rule = Rule.DEV_ITEM


def entering(event: Event, workflow: Workflow, decision: Decision) -> bool:
    """Whether a decision lets a ticket into its workflow's development status, so that
    the items must be checked before the move stands."""
    return (
        workflow.development is not None
        and decision.verdict is Verdict.ALLOWED
        and decision.rule in (Rule.ALLOWED, Rule.REQUIREMENTS_MET)
        and workflow.status_id(event.to_status) == workflow.development.status
    )


def check_entry(
    event: Event, workflow: Workflow, ticket: Ticket | None, items: DevItems | None
) -> Decision | Refusal:
    """Whether the items a ticket entering development names exist and are worked on; they
    are linked when they are, and a ticket whose development is already done moves on."""
    dev = workflow.development
    assert dev is not None and event.ticket is not None
    if ticket is None:
        return _needs(workflow, Need.TICKET)
    if ticket.status.casefold() != (event.to_status or "").casefold():
        return Decision(
            Verdict.STALE,
            Rule.STALE,
            f"ticket is now in '{ticket.status}', not '{event.to_status}': nothing to check",
            workflow.name,
        )
    values = {
        "ticket": event.ticket,
        "label": dev.label,
        "from_status": event.from_status or "",
        "to_status": event.to_status or "",
    }
    try:
        numbers = item_numbers(dev.provider, ticket.fields.get(dev.field))
    except NotAnItem as exc:
        text = dev.messages.garbage.format_map({**values, "value": exc.value})
        return Refusal(f"'{dev.label}' holds '{exc.value}', not an item number", text)
    if not numbers:
        return Refusal(f"'{dev.label}' is empty", dev.messages.missing.format_map(values))
    shown = ", ".join(numbers)
    if items is None:
        return _needs(workflow, Need.ITEMS)
    if not items.configured:
        return Decision(
            Verdict.ALLOWED,
            Rule.DEV_LINKED,
            f"{shown} not checked: no connection to {dev.provider} is configured",
            workflow.name,
        )
    if items.unreachable is not None:
        note = dev.messages.unreachable.format_map(
            {"ticket": event.ticket, "label": dev.label, "number": shown, "reason": items.unreachable}
        )
        return Decision(
            Verdict.NEEDS_ATTENTION,
            Rule.DEV_UNREACHABLE,
            f"{dev.provider} could not be reached ({items.unreachable}); {shown} not checked",
            workflow.name,
            actions=(CommentAction(event.ticket, note, public=False),),
        )
    absent = [n for n in numbers if n not in items.found]
    if absent:
        number = ", ".join(absent)
        text = dev.messages.not_found.format_map({**values, "number": number})
        return Refusal(f"no item {number} at {dev.provider}", text)
    removed = [n for n in numbers if dev.is_removed(items.found[n].state)]
    if removed:
        number = ", ".join(removed)
        text = dev.messages.removed.format_map({**values, "number": number})
        states = ", ".join(f"{n} {items.found[n].state}" for n in removed)
        return Refusal(f"item removed at {dev.provider}: {states}", text)
    found = [items.found[n] for n in numbers]
    links = tuple(_link(event.ticket, dev, item, workflow.name) for item in found)
    if _done(dev, found):
        return _move_on(ticket, workflow, found, links, links_first=True)
    return Decision(
        Verdict.ALLOWED,
        Rule.DEV_LINKED,
        f"{_states(found)}: linked, waiting for development",
        workflow.name,
        actions=links,
    )


# -- a linked item changed ---------------------------------------------------------------------
def decide_development(
    ticket: Ticket, workflow: Workflow, linked: Sequence[str], items: DevItems
) -> Decision:
    """Whether the ticket, waiting in development on the items `linked` to it, moves on now.

    The links on the ticket follow the items' states (resolved once done) either way. A
    provider that cannot be reached decides nothing and sends nothing (`Verdict.IGNORED`,
    `Rule.DEV_UNREACHABLE`): the caller asks again later, as polling would."""
    dev = workflow.development
    name = workflow.name
    if dev is None:
        return Decision(Verdict.IGNORED, Rule.NO_RULE, "the workflow hands nothing to development", name)
    if workflow.status_id(ticket.status) != dev.status:
        left = f"the ticket is in '{ticket.status}', no longer in development"
        return Decision(Verdict.IGNORED, Rule.DEV_LEFT, left, name)
    if items.unreachable is not None or not items.configured:
        why = f"{dev.provider}: {items.unreachable or 'no connection configured'}; asked again later"
        return Decision(Verdict.IGNORED, Rule.DEV_UNREACHABLE, why, name)
    numbers = list(dict.fromkeys(linked))
    found = [items.found[n] for n in numbers if n in items.found]
    links = tuple(_link(ticket.key, dev, item, workflow.name) for item in found)
    if numbers and _done(dev, [items.found.get(n) for n in numbers]):
        return _move_on(ticket, workflow, found, links, links_first=False)
    waiting = [
        f"{n} {items.found[n].state}" if n in items.found else f"{n} (not found)"
        for n in numbers
        if n not in items.found or not _is_done(dev, items.found[n])
    ]
    return Decision(
        Verdict.IGNORED,
        Rule.DEV_WAITING,
        f"not done: {', '.join(waiting)}" if waiting else "no items linked",
        name,
        actions=links,
    )


# -- shared ------------------------------------------------------------------------------------
def _done(dev: Development, items: Sequence[DevItem | None]) -> bool:
    """Whether development is done by `wait_for`; an item not found is not done."""
    done = [item is not None and _is_done(dev, item) for item in items]
    return all(done) if dev.wait_for == "all" else any(done)


def _is_done(dev: Development, item: DevItem) -> bool:
    return dev.is_done(item.state) and not dev.is_removed(item.state)


def _move_on(
    ticket: Ticket,
    workflow: Workflow,
    found: Sequence[DevItem],
    links: tuple[LinkAction, ...],
    *,
    links_first: bool,
) -> Decision:
    """Move the ticket to `then` with the workflow's comment. Entering, the links come
    first: they are what brings the ticket back should the move fail. Coming back, the
    move comes first: refreshing a link must not hold it up."""
    dev = workflow.development
    assert dev is not None
    target = workflow.statuses[dev.then]
    finished = [item for item in found if _is_done(dev, item)]  # with `any`, not all are
    values = {
        "ticket": ticket.key,
        "items": ", ".join(item.id for item in finished),
        "states": ", ".join(dict.fromkeys(item.state for item in finished)),
    }
    reason = f"{_states(found)}: development done, → {target}"
    way = _transition_to(ticket, target)
    if way is None:
        note = dev.messages.stuck.format_map({**values, "status": ticket.status, "next": target})
        return Decision(
            Verdict.NEEDS_ATTENTION,
            Rule.DEV_DONE,
            f"{reason}; no transition leads to '{target}'",
            workflow.name,
            actions=(*links, CommentAction(ticket.key, note, public=False)),
        )
    move: tuple[Action, ...] = (
        TransitionAction(ticket.key, way or None, target, ticket.status),
        CommentAction(ticket.key, dev.comment.format_map(values), public=dev.public),
    )
    actions = (*links, *move) if links_first else (*move, *links)
    return Decision(Verdict.RETURNED, Rule.DEV_DONE, reason, workflow.name, actions=actions)


def _transition_to(ticket: Ticket, status: str) -> str | None:
    """The id of the transition leading to `status` ('' when the transitions are unknown,
    judging without a tracker), or None when none does."""
    if ticket.transitions is None:
        return ""
    wanted = status.casefold()
    return next((t.id for t in ticket.transitions if t.to_status.casefold() == wanted), None)


def _link(ticket: str, dev: Development, item: DevItem, workflow: str) -> LinkAction:
    return LinkAction(
        ticket, dev.provider, item.id, item.url, item.title, resolved=_is_done(dev, item),
        state=item.state, workflow=workflow,
    )


def _states(items: Sequence[DevItem]) -> str:
    return ", ".join(f"{item.id} {item.state}" for item in items)


def _needs(workflow: Workflow, need: Need) -> Decision:
    return Decision(Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow.name, needs=frozenset({need}))
