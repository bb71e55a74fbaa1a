"""Development items, as an admin writes them in a workflow.

```yaml
development:
  status: in_development          # where a ticket waits for development
  field: customfield_10050        # the tracker field holding the item's number(s)
  label: Číslo PBI                # how people call it, in messages
  provider: azure-devops          # or jira
  done: [Done]                    # the provider's states that count as done
  removed: [Removed]              # states of an item no longer worked on
  wait_for: all                   # several items: all (default) or any must be done
  then: testing                   # where the ticket goes when development is done
  comment: Vývoj {items} je hotov ({states}).
  public: false
```

A ticket enters `status` only with items that exist and are not removed; once they are done
the bridge moves it to `then`. Azure DevOps processes name "done" differently (Scrum and
Basic `Done`, Agile `Closed` or `Resolved`, CMMI `Closed`), so the states are the admin's to
list; a removed item is never done, whatever `done` says, hence the two must not overlap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from bridge.workflows.problems import placeholder_problems, undeclared_status

_StatusId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_State = Annotated[str, StringConstraints(min_length=1)]
_Loc = tuple[str | int, ...]

# Placeholders each text may use (see bridge.engine.development): a typo in a translated
# text would otherwise only surface as a KeyError while a ticket is being judged.
_REVERTED = frozenset({"ticket", "label", "from_status", "to_status"})
MESSAGE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "missing": _REVERTED,
    "not_found": _REVERTED | {"number"},
    "removed": _REVERTED | {"number"},
    "garbage": _REVERTED | {"value"},
    "unreachable": frozenset({"ticket", "label", "number", "reason"}),
    "stuck": frozenset({"ticket", "items", "states", "status", "next"}),
}
COMMENT_PLACEHOLDERS = frozenset({"ticket", "items", "states"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DevelopmentMessages(_Strict):
    """Texts about development items. A move into development that is reverted is answered
    with one of the first four (public to a customer who made the move, as other reverts);
    the last two are internal notes for agents."""

    missing: str = Field(
        "The status change {from_status} → {to_status} has been reverted: the field '{label}' "
        "must hold the number of the development item.",
        description="Entering development with the field empty. Placeholders: {ticket} {label} "
        "{from_status} {to_status}.",
    )
    not_found: str = Field(
        "The status change {from_status} → {to_status} has been reverted: there is no "
        "development item {number} ('{label}').",
        description="No such item at the provider. Adds {number}.",
    )
    removed: str = Field(
        "The status change {from_status} → {to_status} has been reverted: development item "
        "{number} ('{label}') has been removed.",
        description="The item is in a `removed` state. Adds {number}.",
    )
    garbage: str = Field(
        "The status change {from_status} → {to_status} has been reverted: '{value}' in the "
        "field '{label}' is not a development item number.",
        description="The field holds something that is not an item number. Adds {value}.",
    )
    unreachable: str = Field(
        "ticket-bridge: the development provider could not be reached ({reason}), so "
        "{label} {number} was neither checked nor linked. Please check it by hand.",
        description="Internal note. Placeholders: {ticket} {label} {number} {reason}.",
    )
    stuck: str = Field(
        "ticket-bridge: development of {items} is done ({states}), but no transition leads "
        "from {status} to {next}. Please move the ticket on by hand.",
        description="Internal note. Placeholders: {ticket} {items} {states} {status} {next}.",
    )


class Development(_Strict):
    """Where a ticket waits for development, which item it waits for, and where it goes when
    development is done."""

    status: _StatusId = Field(description="The status in which a ticket waits for development.")
    field: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The tracker field holding the item's number, or several, e.g. "
        "customfield_10050."
    )
    label: str = Field("development item", description="How people call the field, in messages.")
    provider: Literal["azure-devops", "jira"] = Field(
        description="Where the items live: Azure DevOps Boards, or a Jira development project."
    )
    done: list[_State] = Field(
        min_length=1,
        description="The provider's states that count as done: Scrum and Basic Done; Agile "
        "Closed, Resolved; CMMI Closed.",
    )
    removed: list[_State] = Field(
        default_factory=lambda: ["Removed"],
        description="States of an item no longer worked on: entering development with one is "
        "refused, and it never counts as done.",
    )
    wait_for: Literal["all", "any"] = Field(
        "all", description="With several items linked, whether all or any must be done."
    )
    then: _StatusId = Field(description="Where the ticket goes when development is done.")
    comment: str = Field(
        "Development of {items} is done ({states}).",
        description="Posted when the ticket moves on. Placeholders: {ticket} {items} {states}.",
    )
    public: StrictBool = Field(
        False, description="Whether that comment is visible to the customer."
    )
    messages: DevelopmentMessages = Field(default_factory=DevelopmentMessages)

    def is_done(self, state: str) -> bool:
        wanted = state.casefold()
        return any(s.casefold() == wanted for s in self.done)

    def is_removed(self, state: str) -> bool:
        wanted = state.casefold()
        return any(s.casefold() == wanted for s in self.removed)

    def problems(
        self, statuses: Mapping[str, str], flow: Mapping[str, list[str]]
    ) -> Iterator[tuple[_Loc, str]]:
        """(location, message) for statuses not declared, a `then` the bridge cannot move to
        in one step, states both done and removed, and texts it cannot fill."""
        for key in ("status", "then"):
            sid = getattr(self, key)
            if sid not in statuses:
                yield ("development", key), undeclared_status(sid, statuses)
        if self.status in statuses and self.then in statuses and self.then not in flow.get(self.status, []):
            yield ("development", "then"), f"'{self.status}' → '{self.then}' is not part of 'flow'"
        for i, state in enumerate(self.removed):
            if self.is_done(state):
                yield ("development", "removed", i), f"state '{state}' is also under 'done'"
        yield from placeholder_problems(("development", "comment"), self.comment, COMMENT_PLACEHOLDERS)
        for key, allowed in MESSAGE_PLACEHOLDERS.items():
            text = getattr(self.messages, key)
            yield from placeholder_problems(("development", "messages", key), text, allowed)
