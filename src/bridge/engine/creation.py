"""Rules on a ticket's creation: a new ticket is brought in line with its workflow's
`on_create` before anyone works on it.

Pure, like `decide`. Judged on the ticket as it is now (`Need.TICKET`), and, where a rule is
about the channel the request came by, with that channel (`Need.CHANNEL`): Jira's creation
delivery does not carry it (it is the request's `request.channel.type` property, not a
field), so the tracker is asked once.

Only what was set on creation is corrected: a field someone changed between the creation and
its judging (the present value differs from the delivery's) is a person's later choice, and
stays. Each change names the rule that made it (`FieldsAction.rule`), so that the audit log
says why; the decision's rule is the first change's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.engine.model import (
    Action,
    CommentAction,
    Decision,
    Event,
    FieldsAction,
    Need,
    Role,
    Rule,
    Ticket,
    Verdict,
)
from bridge.workflows.creation import OnCreate
from bridge.workflows.model import Workflow


@dataclass(frozen=True)
class _Change:
    value: Any
    rule: Rule
    why: str


def decide_creation(event: Event, workflow: Workflow, ticket: Ticket | None) -> Decision:
    """What to change on a ticket just created, by the workflow's `on_create` rules."""
    rules = workflow.on_create
    assert rules is not None and event.ticket is not None
    name = workflow.name
    if ticket is None:
        return _needs(name, Need.TICKET, *((Need.CHANNEL,) if rules.by_channel else ()))
    if rules.by_channel and ticket.channel is None:
        return _needs(name, Need.CHANNEL)
    creation = event.snapshot.fields if event.snapshot is not None else {}
    kept: list[str] = []
    resets = _resets(event, rules, ticket, creation, kept)
    if resets and event.actor.role is Role.UNKNOWN:
        return _needs(name, Need.ROLE)  # only a customer's value is put back
    changes = resets if event.actor.role is Role.CUSTOMER else {}
    changes.update(_by_channel(rules, ticket, creation, kept))
    actions: list[Action] = list(_updates(event.ticket, ticket, changes))
    reasons = [change.why for change in changes.values()]
    for comment, why in _missing(event, rules, ticket, changes):
        actions.append(comment)
        reasons.append(why)
    if not actions:
        said = "; ".join(kept) or "nothing to change"
        return Decision(Verdict.ALLOWED, Rule.CREATION_MET, f"{_created(event, ticket)}: {said}", name)
    first = next(iter(changes.values())).rule if changes else Rule.REQUIRED_FIELDS
    reason = f"{_created(event, ticket)}: {'; '.join(reasons + kept)}"
    return Decision(Verdict.CORRECTED, first, reason, name, actions=tuple(actions))


def _resets(
    event: Event, rules: OnCreate, ticket: Ticket, creation: Mapping[str, Any], kept: list[str]
) -> dict[str, _Change]:
    """Fields set on creation where the ticket's type does not let customers set them."""
    found: dict[str, _Change] = {}
    for rule in rules.customer_fields:
        if rule.allows(event.request_type, event.issue_type):
            continue
        now = ticket.fields.get(rule.field)
        if blank(now) or holds(now, rule.value()) or _changed_since(rule.field, now, creation, kept):
            continue
        why = (
            f"{rule.field} {shown(now)} → {shown(rule.value())} "
            f"({Rule.CUSTOMER_FIELD.value}: not the customer's to set on {_type(event)})"
        )
        found[rule.field] = _Change(rule.value(), Rule.CUSTOMER_FIELD, why)
    return found


def _by_channel(
    rules: OnCreate, ticket: Ticket, creation: Mapping[str, Any], kept: list[str]
) -> dict[str, _Change]:
    found: dict[str, _Change] = {}
    for rule in rules.by_channel:
        if rule.channel != ticket.channel:
            continue
        for field, value in rule.values().items():
            now = ticket.fields.get(field)
            if holds(now, value) or _changed_since(field, now, creation, kept):
                continue
            why = f"{field} {shown(now)} → {shown(value)} ({Rule.CHANNEL_FIELD.value}: came by {rule.channel})"
            found[field] = _Change(value, Rule.CHANNEL_FIELD, why)
    return found


def _changed_since(field: str, now: Any, creation: Mapping[str, Any], kept: list[str]) -> bool:
    """Whether a person changed the field after the ticket was created (the delivery showed
    another value): their choice stands."""
    if field not in creation or same(now, creation[field]):
        return False
    kept.append(f"{field} changed to {shown(now)} since it was created: left as it is")
    return True


def _updates(key: str, ticket: Ticket, changes: Mapping[str, _Change]) -> list[FieldsAction]:
    """One field update per rule, in the order the rules first changed a field."""
    by_rule: dict[Rule, dict[str, Any]] = {}
    for field, change in changes.items():
        by_rule.setdefault(change.rule, {})[field] = change.value
    return [
        FieldsAction(key, values, rule.value, {f: shown(ticket.fields.get(f)) for f in values})
        for rule, values in by_rule.items()
    ]


def _missing(
    event: Event, rules: OnCreate, ticket: Ticket, changes: Mapping[str, _Change]
) -> list[tuple[CommentAction, str]]:
    """A comment for each `required` rule whose fields the new ticket lacks."""
    assert event.ticket is not None
    found = []
    for rule in rules.required:
        if not rule.about(event.request_type, event.issue_type):
            continue
        fields = rule.fields.items()
        missing = [label for f, label in fields if f not in changes and blank(ticket.fields.get(f))]
        if missing:
            values = {"ticket": event.ticket, "missing": ", ".join(missing), "type": _type(event)}
            text = rules.messages.missing.format_map(values)
            why = f"missing {', '.join(missing)} ({Rule.REQUIRED_FIELDS.value})"
            found.append((CommentAction(event.ticket, text, public=rule.public), why))
    return found


# -- values as Jira shows them ---------------------------------------------------------------
def blank(value: Any) -> bool:
    """Whether a field holds nothing a person entered. A rich text field read from Cloud is
    an ADF document, which is blank when it holds no text."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping) and value.get("type") == "doc":
        return not _has_text(value)
    return value is None or (isinstance(value, (list, dict)) and not value)


def _has_text(document: Mapping[str, Any]) -> bool:
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if isinstance(node.get("text"), str) and node["text"].strip():
                return True
            if node.get("type") in ("mention", "emoji", "inlineCard", "media", "mediaSingle"):
                return True
            stack.extend(node.get("content") or [])
    return False


def holds(found: Any, wanted: Any) -> bool:
    """Whether a field's value as the tracker shows it is `wanted` as its REST API takes it:
    `{"self": …, "id": "3", "name": "Medium"}` holds `{"name": "Medium"}` (texts compared
    without regard to case, as Jira matches names)."""
    if isinstance(wanted, Mapping):
        return isinstance(found, Mapping) and all(holds(found.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(found, list)
            and len(found) == len(wanted)
            and all(holds(f, w) for f, w in zip(found, wanted, strict=True))
        )
    if isinstance(wanted, str) and isinstance(found, str):
        return found.casefold() == wanted.casefold()
    return bool(found == wanted)


def same(a: Any, b: Any) -> bool:
    """Whether two values of a field, as two answers of the tracker show them, are one: the
    webhook links to REST v2 and a v3 read to v3, so objects are compared by their id."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in ("id", "accountId", "name", "value"):
            if key in a and key in b:
                return bool(a[key] == b[key])
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def shown(value: Any) -> str:
    """A field's value as people read it: a priority or option by its name."""
    if isinstance(value, Mapping):
        for key in ("name", "value", "displayName", "key", "id"):
            if isinstance(value.get(key), (str, int)):
                return str(value[key])
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return "nothing" if blank(value) else str(value)


def _type(event: Event) -> str:
    return event.request_type or event.issue_type or "this type"


def _created(event: Event, ticket: Ticket) -> str:
    how = f" via {ticket.channel}" if ticket.channel else ""
    return f"created{how} by {event.actor.role.value}"


def _needs(workflow: str, *needs: Need) -> Decision:
    return Decision(Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow, needs=frozenset(needs))
