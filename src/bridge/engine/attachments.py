"""Attachments: a customer's file that breaks the workflow's policy (a type the team does
not accept, more than the size limit) is answered with a comment naming it, and removed
where the workflow says so.

Pure, like `decide`, which hands every decision through `judge_attachments`: a creation or
an update that added attachments is judged on top of whatever the other rules decided, so
an answer by comment that also carries a screenshot gets both. The attachments are read from
the ticket's attachment field, as the tracker lists them (Jira's shape: `id`, `filename`,
`size`, `author`). What the delivery shows is enough to let files pass; one that would be
answered is judged again on the ticket as it is now (`Need.TICKET`), so that a file an agent
removed meanwhile is not complained about. A file whose name or size cannot be read is never
guessed at: agents get an internal note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.engine.model import (
    Action,
    CommentAction,
    Decision,
    Event,
    Kind,
    Need,
    RemoveAttachmentAction,
    Role,
    Rule,
    Ticket,
    Verdict,
)
from bridge.workflows.attachments import ATTACHMENT_FIELD, Attachments, shown_size
from bridge.workflows.model import Workflow

NAME_SHOWN = 120  # how much of a file name a message quotes


@dataclass(frozen=True)
class Listed:
    """One attachment as the ticket lists it; None where a value cannot be read."""

    id: str | None
    name: str | None
    size: int | None
    author: frozenset[str] = frozenset()  # every id its author goes by

    @property
    def shown(self) -> str:
        text = self.name or (f"#{self.id}" if self.id else "?")
        return text if len(text) <= NAME_SHOWN else text[: NAME_SHOWN - 1] + "…"


@dataclass
class _Judged:
    """What was found of the attachments the change added."""

    rejected: list[tuple[Listed, list[str]]] = field(default_factory=list)  # with the problems
    unreadable: list[tuple[Listed, list[str]]] = field(default_factory=list)  # with what is missing
    gone: list[str] = field(default_factory=list)  # no longer on the ticket
    accepted: list[Listed] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Whether nothing needs the ticket as it is now to be told."""
        return not (self.rejected or self.unreadable or self.gone)

    @property
    def empty(self) -> bool:
        return self.settled and not self.accepted


def judge_attachments(
    event: Event, workflow: Workflow | None, ticket: Ticket | None, decision: Decision
) -> Decision:
    """`decision`, with what the workflow's attachment policy says of the files the event's
    change added. Agents' files, and the bridge's own, are not judged."""
    policy = workflow.attachments if workflow is not None else None
    if policy is None or decision.verdict in (Verdict.NEEDS, Verdict.WAITING):
        return decision
    assert workflow is not None
    if not _adds(event) or event.actor.role in (Role.AGENT, Role.BRIDGE):
        return decision
    if event.actor.role is Role.UNKNOWN:
        return _needs(workflow, Need.ROLE)
    present = ticket is not None
    judged = _judge(event, policy, ticket if present else event.snapshot, present=present)
    if judged is None or (not present and not judged.settled):
        return _needs(workflow, Need.TICKET)
    if judged.empty:
        return decision
    return _combined(decision, _decision(event, workflow, policy, judged))


def _adds(event: Event) -> bool:
    """Whether the change may have added attachments: a new ticket (unless the delivery
    shows it came without any), or an update naming the files it added."""
    if event.kind is Kind.CREATED:
        shown = event.snapshot.fields.get(ATTACHMENT_FIELD) if event.snapshot else None
        return shown is None or bool(shown)
    return event.kind in (Kind.UPDATED, Kind.COMMENTED) and bool(event.attached)


def _judge(event: Event, policy: Attachments, ticket: Ticket | None, *, present: bool) -> _Judged | None:
    """The added attachments, each judged; None when the delivery lists none at all, so the
    ticket must be read. `present`: `ticket` is the ticket as it is now, not the delivery's."""
    listed = _listed(ticket.fields.get(ATTACHMENT_FIELD)) if ticket is not None else None
    judged = _Judged()
    if listed is None:
        if not present:
            return None
        if event.kind is not Kind.CREATED:  # the tracker shows none of the files it named
            judged.unreadable = [(Listed(ident, None, None), ["name", "size"]) for ident in event.attached]
        return judged
    nameless = any(a.id is None and a.name is None for a in listed)
    for wanted, found in _added(event, listed):
        if found is None and nameless:  # perhaps it, but nothing of it can be read
            judged.unreadable.append((Listed(wanted, None, None), ["name", "size"]))
            continue
        if found is None:
            judged.gone.append(wanted)
            continue
        missing = [what for what, value in (("name", found.name), ("size", found.size)) if value is None]
        if policy.action == "remove" and found.id is None:
            missing.append("id")
        if missing:
            judged.unreadable.append((found, missing))
        elif problems := _problems(policy, found, event.ticket or ""):
            judged.rejected.append((found, problems))
        else:
            judged.accepted.append(found)
    return judged


def _added(event: Event, listed: Sequence[Listed]) -> list[tuple[str, Listed | None]]:
    """(how the change names it, the attachment as listed or None) for each file the change
    added. A new ticket's are all those its creator attached."""
    if event.kind is Kind.CREATED:
        mine = [a for a in listed if not a.author or event.actor.id is None or event.actor.id in a.author]
        return [(a.id or a.name or "?", a) for a in mine]
    found = []
    for wanted in dict.fromkeys(event.attached):
        match = next((a for a in listed if a.id == wanted), None)
        found.append((wanted, match or next((a for a in listed if a.name == wanted), None)))
    return found


def _problems(policy: Attachments, found: Listed, ticket: str) -> list[str]:
    """What is wrong with a readable attachment, in the workflow's words."""
    assert found.name is not None and found.size is not None
    values = {
        "ticket": ticket,
        "file": found.shown,
        "allowed": ", ".join(policy.extensions),
        "size": shown_size(found.size),
        "max_size": policy.shown_max,
    }
    problems = []
    if policy.extension_of(found.name) is None:
        stem, dot, extension = found.name.rpartition(".")
        if dot and stem.strip() and extension.strip():
            values["extension"] = extension.casefold()
            problems.append(policy.messages.extension.format_map(values))
        else:
            problems.append(policy.messages.no_extension.format_map(values))
    if found.size > policy.max_bytes:
        problems.append(policy.messages.too_large.format_map(values))
    return problems


def _decision(event: Event, workflow: Workflow, policy: Attachments, judged: _Judged) -> Decision:
    """One comment per rejected file (each removed after its comment, where the workflow
    says so), one internal note per file that cannot be read."""
    key = event.ticket or ""
    messages = policy.messages
    actions: list[Action] = []
    reasons: list[str] = []
    for found, problems in judged.rejected:
        values = {
            "ticket": key,
            "file": found.shown,
            "problem": "; ".join(problems),
            "allowed": ", ".join(policy.extensions),
            "max_size": policy.shown_max,
        }
        text = messages.comment.format_map(values)
        if policy.action == "remove":
            text = f"{text} {messages.removed.format_map(values)}"
        actions.append(CommentAction(key, text, public=True))
        if policy.action == "remove" and found.id is not None:
            actions.append(RemoveAttachmentAction(key, found.id, found.name or ""))
        reasons.append(f"'{found.shown}': {'; '.join(problems)}")
    for found, missing in judged.unreadable:
        values = {"ticket": key, "file": found.shown, "missing": " and ".join(missing)}
        actions.append(CommentAction(key, messages.unreadable.format_map(values), public=False))
        reasons.append(f"'{found.shown}': its {' and '.join(missing)} cannot be read")
    reasons += [f"'{name}' is no longer on the ticket" for name in judged.gone]
    reasons += [f"'{a.shown}' ({shown_size(a.size or 0)}) is accepted" for a in judged.accepted]
    reason = "; ".join(reasons) or "no attachments to judge"
    name = workflow.name
    if judged.rejected:
        removed = " (removed)" if policy.action == "remove" else ""
        return Decision(Verdict.REJECTED, Rule.ATTACHMENT_REJECTED, reason + removed, name, tuple(actions))
    if judged.unreadable:
        return Decision(Verdict.NEEDS_ATTENTION, Rule.ATTACHMENT_UNREADABLE, reason, name, tuple(actions))
    if judged.gone and not judged.accepted:
        return Decision(Verdict.STALE, Rule.STALE, reason, name)
    return Decision(Verdict.ALLOWED, Rule.ATTACHMENTS_ACCEPTED, reason, name)


def _combined(decision: Decision, attachments: Decision) -> Decision:
    """The attachments' decision where no other rule applied; otherwise the other rule's,
    with the attachments' actions after its own."""
    if decision.rule is Rule.NO_RULE:
        return attachments
    if not attachments.actions:
        return decision
    return replace(
        decision,
        actions=(*decision.actions, *attachments.actions),
        reason=f"{decision.reason}; {attachments.reason}",
    )


def _listed(value: Any) -> list[Listed] | None:
    """The attachments a ticket's field lists, or None when it holds no list."""
    if not isinstance(value, list):
        return None
    return [_one(item) for item in value]


def _one(item: Any) -> Listed:
    if not isinstance(item, Mapping):
        return Listed(None, None, None)
    ident = item.get("id")
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    name = item.get("filename")
    size = item.get("size")
    author = item.get("author") if isinstance(item.get("author"), Mapping) else {}
    return Listed(
        ident if isinstance(ident, str) and ident.strip() else None,
        name if isinstance(name, str) and name.strip() else None,
        size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        frozenset(str(author[k]) for k in ("accountId", "name", "key") if author.get(k)),
    )


def _needs(workflow: Workflow, need: Need) -> Decision:
    return Decision(Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow.name, needs=frozenset({need}))
