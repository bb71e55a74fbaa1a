"""Sub-tasks, as an admin writes them in a workflow.

```yaml
subtasks:
  closing: [closed]            # a move into these is reverted while a sub-task is open
  messages:
    open_tasks: "Reverted, these tasks are not done yet: {tasks}."
    task: "{key} {summary} ({status})"
  then:                        # optional: once the last open sub-task is done
    status: closed             # the parent moves here by itself
    from: [in_progress]        # only from these; default: every status `flow` leads there from
    comment: Every task of {ticket} is done: {tasks}.
    public: true
```

A ticket whose work is split into sub-tasks (one per device, team or visit) is finished
only when every one of them is: closing it earlier loses the open ones from sight. The rule
applies to everyone, agents included, as `on_enter` does. A sub-task counts as done when the
tracker puts its status among the done ones (Jira: the Done status category, whatever the
status is called), so a sub-task workflow of its own ("Gotowe", "Anulowane") needs no list
here. Moving the parent on by itself is opt-in: many teams close by hand, after a last call
to the customer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from bridge.workflows.problems import placeholder_problems, undeclared_status

_StatusId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Loc = tuple[str | int, ...]

# Placeholders each text may use (see bridge.engine.subtasks).
TASK_PLACEHOLDERS = frozenset({"key", "summary", "status"})
MESSAGE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "open_tasks": frozenset({"ticket", "from_status", "to_status", "actor", "tasks", "count"}),
    "task": TASK_PLACEHOLDERS,
    "stuck": frozenset({"ticket", "tasks", "status", "next"}),
}
COMMENT_PLACEHOLDERS = frozenset({"ticket", "tasks", "next"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubtaskMessages(_Strict):
    """Texts about sub-tasks. `open_tasks` answers a reverted close (public to a customer who
    made the move, an internal note otherwise, as other reverts); `stuck` is an internal note."""

    open_tasks: str = Field(
        "The status change {from_status} → {to_status} has been reverted: {count} task(s) of "
        "this ticket are not done yet: {tasks}.",
        description="A move into a closing status while sub-tasks are open. Placeholders: "
        "{ticket} {from_status} {to_status} {actor} {tasks} {count}.",
    )
    task: str = Field(
        "{key} {summary} ({status})",
        description="How each sub-task is named in {tasks}. Placeholders: {key} {summary} {status}.",
    )
    stuck: str = Field(
        "ticket-bridge: every task of {ticket} is done ({tasks}), but no transition leads from "
        "{status} to {next}. Please move the ticket on by hand.",
        description="Internal note. Placeholders: {ticket} {tasks} {status} {next}.",
    )


class WhenDone(_Strict):
    """Where the parent goes by itself once its last open sub-task is done."""

    status: _StatusId = Field(description="The status the parent moves to.")
    from_: list[_StatusId] = Field(
        default_factory=list,
        alias="from",
        description="Only a parent in one of these moves; default: every status from which "
        "`flow` leads to `status`.",
    )
    comment: str = Field(
        "Every task of {ticket} is done: {tasks}.",
        description="Posted with the move. Placeholders: {ticket} {tasks} {next}.",
    )
    public: StrictBool = Field(False, description="Whether that comment is visible to the customer.")

    def starts(self, flow: Mapping[str, list[str]]) -> list[str]:
        """The statuses a parent moves on from."""
        return self.from_ or [sid for sid, targets in flow.items() if self.status in targets]


class Subtasks(_Strict):
    """A ticket closes only once its sub-tasks are done; optionally it moves on by itself then."""

    closing: list[_StatusId] = Field(
        min_length=1,
        description="Statuses a ticket enters only with every sub-task done: a move into one "
        "of them while a sub-task is open is reverted, whoever made it.",
    )
    messages: SubtaskMessages = Field(default_factory=SubtaskMessages)
    then: WhenDone | None = Field(
        None,
        description="Where the ticket goes by itself once its last open sub-task is done; "
        "none: people move it on.",
    )

    def problems(
        self, statuses: Mapping[str, str], flow: Mapping[str, list[str]]
    ) -> Iterator[tuple[_Loc, str]]:
        """(location, message) for statuses not declared, a move on the bridge cannot make
        in one step along `flow`, and texts it cannot fill."""
        for i, sid in enumerate(self.closing):
            if sid not in statuses:
                yield ("subtasks", "closing", i), undeclared_status(sid, statuses)
        for key, allowed in MESSAGE_PLACEHOLDERS.items():
            text = getattr(self.messages, key)
            yield from placeholder_problems(("subtasks", "messages", key), text, allowed)
        if self.then is not None:
            yield from self._then_problems(self.then, statuses, flow)

    def _then_problems(
        self, then: WhenDone, statuses: Mapping[str, str], flow: Mapping[str, list[str]]
    ) -> Iterator[tuple[_Loc, str]]:
        if then.status not in statuses:
            yield ("subtasks", "then", "status"), undeclared_status(then.status, statuses)
        for i, sid in enumerate(then.from_):
            if sid not in statuses:
                yield ("subtasks", "then", "from", i), undeclared_status(sid, statuses)
            elif then.status in statuses and then.status not in flow.get(sid, []):
                yield ("subtasks", "then", "from", i), f"'{sid}' → '{then.status}' is not part of 'flow'"
        if not then.from_ and then.status in statuses and not then.starts(flow):
            yield ("subtasks", "then", "status"), f"no status leads to '{then.status}' in 'flow'"
        yield from placeholder_problems(("subtasks", "then", "comment"), then.comment, COMMENT_PLACEHOLDERS)
