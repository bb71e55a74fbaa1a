"""The workflow model: what an admin writes in `workflows/*.yaml`, validated.

Every model forbids unknown keys: a typo in a rule must never silently disable it.
Cross-references (a status used but not declared, an unreachable status) are checked in
`reference_problems`, which reports the path of the offending key so the loader can
point at its line and column.

The model is also what `bridge schema` publishes for editors and CI, so each field takes
exactly what its schema says a file may write: a coercion declares the input it accepts
(`json_schema_input_type`), `comment` takes true or false and nothing that pydantic could
read as one, and `from` has no second name.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from bridge.workflows.attachments import ATTACHMENT_FIELD, Attachments
from bridge.workflows.billing import Billing
from bridge.workflows.creation import OnCreate
from bridge.workflows.development import Development
from bridge.workflows.problems import placeholder_problems, undeclared_status
from bridge.workflows.replies import STUCK_DEFAULT, reply_problems
from bridge.workflows.site_names import SITE_NAME_MAX, SITE_NAME_PATTERN, site_name_problem
from bridge.workflows.subtasks import Subtasks
from bridge.workflows.timers import TIMER_PLACEHOLDERS, CalendarSpec, Timer

STATUS_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
StatusId = Annotated[str, StringConstraints(pattern=STATUS_ID_PATTERN)]
Loc = tuple[str | int, ...]

def _one_or_more(value: object) -> object:
    """`to: done` stands for `to: [done]`; anything but text or a list is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise PydanticCustomError("status_or_list", "expected a status id or a list of status ids")


# The JSON Schema describes what a file may say (text or a list), not what it becomes.
StatusIds = Annotated[
    list[StatusId],
    Field(min_length=1),
    BeforeValidator(
        _one_or_more,
        json_schema_input_type=StatusId | Annotated[list[StatusId], Field(min_length=1)],
    ),
]


def _site_name(value: object) -> object:
    """A site name, refused in the words of `site_name_problem`; other types pass on to be
    refused as not text."""
    if isinstance(value, str) and (problem := site_name_problem(value)):
        raise ValueError(problem)
    return value


SiteName = Annotated[
    str,
    BeforeValidator(
        _site_name,
        json_schema_input_type=Annotated[
            str, StringConstraints(pattern=SITE_NAME_PATTERN, max_length=SITE_NAME_MAX)
        ],
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppliesTo(_Strict):
    """Which tickets a workflow governs.

    `issue_types` match the tracker's issue type name; `request_types` match a Jira Service
    Management request type name (read from the "Customer Request Type" field).
    """

    issue_types: list[str] = Field(default_factory=list)
    request_types: list[str] = Field(default_factory=list)
    projects: list[str] = Field(
        default_factory=list, description="Project keys; empty means every project."
    )

    def only_request_types(self) -> tuple[str, ...]:
        """The request types, where the workflow governs by them alone (no issue type): a
        tracker that has no request types has no ticket of such a workflow."""
        return () if self.issue_types else tuple(self.request_types)


class Requirements(_Strict):
    """What must accompany a change: a comment in the same change, fields that must be set."""

    comment: StrictBool = Field(False, description="A comment must be made in the same change.")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Tracker field id → label shown to people, e.g. customfield_10050: PBI number.",
    )

    def __bool__(self) -> bool:
        return self.comment or bool(self.fields)


class CustomerTransition(_Strict):
    """A move a customer may make: from one status to one or more others."""

    from_: StatusId = Field(alias="from")
    to: StatusIds = Field(description="One status id, or a list of them.")
    name: str | None = Field(None, description="What the move means to people, e.g. 'approve'.")
    requires: Requirements = Field(default_factory=Requirements)


class StatusRules(_Strict):
    """Rules on entering a status; they apply to everyone, agents included."""

    requires: Requirements = Field(default_factory=Requirements)


class Messages(_Strict):
    """Texts the bridge posts. Placeholders: {ticket} {from_status} {to_status} {allowed}
    {missing} {actor}."""

    forbidden: str = Field(
        "The status change {from_status} → {to_status} is not allowed for customers and has "
        "been reverted. From {from_status} you may move the ticket to: {allowed}.",
        description="Customer-visible, after a forbidden move was reverted.",
    )
    nothing_allowed: str = Field(
        "nothing (the support team moves the ticket on)",
        description="Used for {allowed} when no move is open to customers.",
    )
    requirement_missing: str = Field(
        "The status change {from_status} → {to_status} has been reverted: {missing} must "
        "accompany it.",
        description="Posted after a change that lacked a required comment or field.",
    )
    missing_comment: str = Field("a comment with the reason", description="Used in {missing}.")
    missing_field: str = Field("the field '{label}'", description="Used in {missing}.")
    timer_stuck: str = Field(
        "ticket-bridge: the ticket has been in {status} since {entered}; its time ({after}) ran "
        "out on {deadline}, but no transition leads to {next}. Please move it by hand.",
        description="Internal note when a timer's path cannot be taken.",
    )
    no_way_back: str = Field(
        "ticket-bridge: {actor} moved the ticket {from_status} → {to_status}, which is not "
        "allowed, and no transition leads back to {from_status}. Please move it back by hand.",
        description="Internal note for agents when a change cannot be reverted.",
    )
    reply_stuck: str = Field(
        STUCK_DEFAULT,
        description="Internal note when a reply cannot move the ticket. Placeholders: {ticket} "
        "{status} {next} {actor}.",
    )


class Workflow(_Strict):
    """One service process for a set of ticket types."""

    name: str = Field(description="Stable identifier, used in the audit log.")
    description: str = ""
    language: str = Field("en", description="Language of the messages, e.g. cs or en.")
    applies_to: AppliesTo
    sites: list[SiteName] | None = Field(
        None,
        min_length=1,
        exclude_if=lambda listed: listed is None,
        description="The sites (trackers) whose tickets the workflow governs, by the names "
        "the sites file gives them; leave it out for every site.",
    )

    @field_validator("sites", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        if value is None:  # `sites:` written with nothing after it
            raise ValueError("expected a list, got nothing")
        return value
    statuses: dict[StatusId, str] = Field(
        description="Logical status id → the tracker's status name."
    )
    initial: StatusId = Field(description="The status a new ticket starts in.")
    flow: dict[StatusId, list[StatusId]] = Field(
        description="The whole process: status → statuses it may move to (by anyone)."
    )
    customer_transitions: list[CustomerTransition] = Field(default_factory=list)
    on_enter: dict[StatusId, StatusRules] = Field(default_factory=dict)
    messages: Messages = Field(default_factory=Messages)
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    timers: dict[StatusId, Timer] = Field(
        default_factory=dict,
        description="Status → how long a ticket may stay there, counted from its last entry.",
    )
    billing: Billing | None = Field(
        None, description="Which tickets are billed; none: the workflow bills nothing."
    )
    development: Development | None = Field(
        None,
        description="Tickets handed to development: the item they wait for, and where they go "
        "when it is done; none: the workflow hands nothing to development.",
    )
    attachments: Attachments | None = Field(
        None, description="What customers may attach; none: attachments are not judged."
    )
    on_create: OnCreate | None = Field(
        None, description="What a new ticket is brought in line with; none: nothing."
    )
    replies: dict[StatusId, StatusId] = Field(
        default_factory=dict,
        description="Waiting status → the team's status: a customer's public comment while the "
        "ticket waits there moves it back to the team.",
    )
    subtasks: Subtasks | None = Field(
        None, description="Statuses a ticket enters only with every sub-task done; none: no such rule."
    )

    # -- lookups used by the engine ---------------------------------------------------------
    @cached_property
    def _ids_by_name(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        for sid, name in self.statuses.items():
            ids.setdefault(name.casefold(), sid)  # the first declared wins, as it always has
        return ids

    def status_id(self, tracker_name: str | None) -> str | None:
        """The logical id of a tracker status name (case-insensitive), or None."""
        if tracker_name is None:
            return None
        return self._ids_by_name.get(tracker_name.casefold())

    def customer_move(self, from_id: str, to_id: str) -> CustomerTransition | None:
        for move in self.customer_transitions:
            if move.from_ == from_id and to_id in move.to:
                return move
        return None

    def customer_targets(self, from_id: str) -> list[str]:
        return [t for move in self.customer_transitions if move.from_ == from_id for t in move.to]

    def entry_requirements(self, status_id: str) -> Requirements:
        rules = self.on_enter.get(status_id)
        return rules.requires if rules else Requirements()

    def required_fields(self) -> set[str]:
        """Every tracker field some requirement reads, so one fetch brings them all."""
        found = {f for rules in self.on_enter.values() for f in rules.requires.fields}
        found |= {self.development.field} if self.development else set()
        found |= {ATTACHMENT_FIELD} if self.attachments else set()
        found |= self.on_create.fields() if self.on_create else set()
        found |= {"subtasks"} if self.subtasks else set()  # Jira lists each with its status
        return found | {f for move in self.customer_transitions for f in move.requires.fields}

    def serves(self, site: str) -> bool:
        """Whether the workflow applies on a site: its `sites` name it, or it has none."""
        return not self.sites or site in self.sites

    def governs(self, project: str | None, issue_type: str | None, request_type: str | None) -> bool:
        if self.applies_to.projects and project not in self.applies_to.projects:
            return False
        return (issue_type is not None and issue_type in self.applies_to.issue_types) or (
            request_type is not None and request_type in self.applies_to.request_types
        )

    # -- cross-reference checks ---------------------------------------------------------------
    def _timer_problems(self, sid: str, timer: Timer, declared: set[str]) -> Iterator[tuple[Loc, str]]:
        """A path the bridge cannot take along `flow`, reminders that come too late, texts
        with placeholders the engine does not fill."""
        here = sid
        for i, step in enumerate(timer.path):
            loc: Loc = ("timers", sid, "path", i)
            if step not in declared:
                yield loc, undeclared_status(step, self.statuses)
            elif here in declared and step not in self.flow.get(here, []):
                yield loc, f"'{here}' → '{step}' is not part of 'flow'"
            here = step
        for i, reminder in enumerate(timer.reminders):
            if reminder.offset.span >= timer.duration.span:
                yield (
                    ("timers", sid, "reminders", i, "before"),
                    f"a reminder {reminder.before} before the deadline comes before the timer "
                    f"starts ({timer.after}); make it shorter",
                )
        texts = [(("timers", sid, "comment"), timer.comment)] + [
            (("timers", sid, "reminders", i, "comment"), r.comment) for i, r in enumerate(timer.reminders)
        ]
        for loc, text in texts:
            yield from placeholder_problems(loc, text, TIMER_PLACEHOLDERS)

    def reference_problems(self) -> Iterator[tuple[Loc, str]]:
        """Yield (location, message) for every status referenced but not declared, and every
        declared status that cannot be reached from `initial`."""
        declared = set(self.statuses)

        def undeclared(loc: Loc, sid: str) -> Iterator[tuple[Loc, str]]:
            if sid not in declared:
                yield loc, undeclared_status(sid, self.statuses)

        yield from undeclared(("initial",), self.initial)
        for src, targets in self.flow.items():
            yield from undeclared(("flow", src), src)
            for i, dst in enumerate(targets):
                yield from undeclared(("flow", src, i), dst)
        for i, move in enumerate(self.customer_transitions):
            yield from undeclared(("customer_transitions", i, "from"), move.from_)
            for j, dst in enumerate(move.to):
                yield from undeclared(("customer_transitions", i, "to", j), dst)
                if move.from_ in declared and dst in declared and dst not in self.flow.get(
                    move.from_, []
                ):
                    yield (
                        ("customer_transitions", i, "to", j),
                        f"'{move.from_}' → '{dst}' is not part of 'flow'",
                    )
        for sid in self.on_enter:
            yield from undeclared(("on_enter", sid), sid)
        for sid, timer in self.timers.items():
            yield from undeclared(("timers", sid), sid)
            yield from self._timer_problems(sid, timer, declared)
        if self.billing is not None:
            yield from self.billing.problems(self.statuses)
        if self.development is not None:
            yield from self.development.problems(self.statuses, self.flow)
        if self.attachments is not None:
            yield from self.attachments.problems()
        if self.on_create is not None:
            yield from self.on_create.problems(self.applies_to.request_types, self.applies_to.issue_types)
        yield from reply_problems(self.replies, self.statuses, self.flow, self.messages.reply_stuck)
        if self.subtasks is not None:
            yield from self.subtasks.problems(self.statuses, self.flow)

        listed = self.sites or []
        for i, site in enumerate(listed):
            if site in listed[:i]:
                yield ("sites", i), f"site '{site}' is listed twice"

        seen = {self.initial} if self.initial in declared else set()
        stack = list(seen)
        while stack:
            for nxt in self.flow.get(stack.pop(), []):
                if nxt in declared and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        for sid in self.statuses:
            if seen and sid not in seen:
                yield ("statuses", sid), f"status '{sid}' cannot be reached from '{self.initial}'"
