"""Replies, as an admin writes them in a workflow: a customer's answer moves the ticket back.

```yaml
replies:
  waiting_for_customer: waiting_for_support   # waiting status → where a reply moves it
```

Customers answer in a comment (in the portal, or by replying to the e-mail) and seldom
change the status as well, so a ticket waiting for them would wait for ever. With this
section a public comment by the customer, made while the ticket waits in one of these
statuses, moves it to the team's status. The bridge adds no comment of its own: the
customer's says it all. Each move is one the bridge makes along `flow`, so it must be an
arrow there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bridge.workflows.problems import placeholder_problems, undeclared_status

_Loc = tuple[str | int, ...]

# What the internal note to agents may say when no transition leads where a reply goes.
STUCK_PLACEHOLDERS = frozenset({"ticket", "status", "next", "actor"})
STUCK_DEFAULT = (
    "ticket-bridge: {actor} replied while the ticket waited in {status}, but no transition "
    "leads to {next}. Please move it on by hand."
)


def reply_problems(
    replies: Mapping[str, str],
    statuses: Mapping[str, str],
    flow: Mapping[str, list[str]],
    stuck: str,
) -> Iterator[tuple[_Loc, str]]:
    """(location, message) for statuses not declared, a move that is no arrow in `flow` (the
    bridge could not make it), and a note to agents it cannot fill."""
    for waiting, to in replies.items():
        if waiting not in statuses:
            yield ("replies", waiting), undeclared_status(waiting, statuses)
        if to not in statuses:
            yield ("replies", waiting), undeclared_status(to, statuses)
        elif waiting == to:
            yield ("replies", waiting), f"a reply in '{waiting}' would move the ticket nowhere"
        elif waiting in statuses and to not in flow.get(waiting, []):
            yield ("replies", waiting), f"'{waiting}' → '{to}' is not part of 'flow'"
    yield from placeholder_problems(("messages", "reply_stuck"), stuck, STUCK_PLACEHOLDERS)
