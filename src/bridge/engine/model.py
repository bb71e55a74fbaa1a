"""Plain data the decision core works on: what happened, what the ticket looks like now,
and what to do about it. Trackers translate to and from these; nothing here does I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


# The longest texts an event carries. Trackers cut what they deliver to these, so that each
# fits the column the audit log keeps it in (store/tables.py).
KEY_LENGTH = 64  # ticket keys and the tracker's event names
NAME_LENGTH = 255  # statuses, actor ids and names, projects, ticket and request types
# How far from a status change a comment by the same person still counts as made with it.
COMMENT_WINDOW = timedelta(seconds=120)


class Role(str, enum.Enum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BRIDGE = "bridge"
    UNKNOWN = "unknown"  # the tracker must be asked (e.g. Data Center group membership)


class Kind(str, enum.Enum):
    STATUS_CHANGED = "status_changed"
    UPDATED = "updated"  # an edit without a status change
    CREATED = "created"
    COMMENTED = "commented"  # a comment made or edited
    COMMENT_DELETED = "comment_deleted"
    OTHER = "other"  # anything else about one ticket
    # not about one ticket: projects, versions, sprints, boards, users, issue links; and
    # worklogs, which name their ticket by id only and are not judged
    NO_TICKET = "no_ticket"
    TIMER = "timer"  # a timer of the bridge's own fell due on a ticket (see bridge.jobs)
    # a development item linked to the ticket changed (a provider's hook, or polling): is
    # development done, so that the ticket moves on?
    DEV_ITEM = "dev_item"


@dataclass(frozen=True)
class Actor:
    id: str | None
    name: str | None = None
    role: Role = Role.UNKNOWN


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to_status: str


@dataclass(frozen=True)
class TaskRef:
    """Another ticket as a ticket names it: one of its sub-tasks, or its parent."""

    key: str
    summary: str = ""
    status: str = ""
    done: bool = False  # its status is a done one (Jira: in the Done status category)
    issue_type: str | None = None


@dataclass(frozen=True)
class Ticket:
    """The ticket as the tracker shows it now."""

    key: str
    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    transitions: tuple[Transition, ...] | None = ()  # None: not known (no tracker to ask)
    channel: str | None = None  # where the request came in (JSM: email, portal…); "" none; None: not read
    subtasks: tuple[TaskRef, ...] | None = None  # None: the tracker did not list them
    parent: TaskRef | None = None  # of a sub-task


@dataclass(frozen=True)
class Comment:
    """A comment on the ticket, as the tracker lists it."""

    by: frozenset[str]  # every id its author goes by
    created: datetime
    text: str


@dataclass(frozen=True)
class StatusChange:
    """One entry of a ticket's status history (its tracker changelog)."""

    id: str  # the tracker's id of the change (Jira: the changelog history id)
    at: datetime
    actor: Actor
    from_status: str | None
    to_status: str


@dataclass(frozen=True)
class Found:
    """A ticket a tracker search found: as it is now (transitions not read) and, when asked
    for, its whole status history, oldest first."""

    ticket: Ticket
    project: str | None
    issue_type: str | None
    request_type: str | None
    updated: datetime | None
    history: tuple[StatusChange, ...] | None = None


@dataclass(frozen=True)
class Worklog:
    """Time logged on a ticket: the evidence finance bills from."""

    id: str  # the tracker's id of the worklog, stable across edits
    author: str  # display name (or id where the tracker gives no name)
    started: datetime  # aware, as the tracker gives it
    seconds: int
    comment: str = ""


@dataclass(frozen=True)
class WorkedTicket:
    """A ticket as billing reads it: what finance's rows show, its whole status history
    (oldest first) and every worklog on it."""

    key: str
    summary: str
    issue_type: str
    organization: str  # JSM organisations (joined by ", "), else the reporter's domain
    reporter: str
    status: str  # the tracker's status name now
    history: tuple[StatusChange, ...]
    worklogs: tuple[Worklog, ...]
    project: str | None = None
    request_type: str | None = None


@dataclass(frozen=True)
class Event:
    """One delivery, normalised. Status names are the tracker's, not the workflow's ids.

    `ticket` (the key) is None only for `Kind.NO_TICKET`, and for a delivery that names its
    ticket by id alone (`ticket_id`): the key, project and types are then read from the
    tracker before anything is judged.
    """

    tracker: str
    kind: Kind
    ticket: str | None
    actor: Actor
    project: str | None = None
    issue_type: str | None = None
    request_type: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    comment: str | None = None  # a comment made in the same change
    raw_event: str | None = None  # the tracker's own event name, for the audit log
    snapshot: Ticket | None = None  # the ticket as the delivery showed it (may be stale)
    ticket_id: str | None = None  # the tracker's numeric id of the ticket, where it is known
    at: datetime | None = None  # when the change was made, by the tracker's clock
    # the tracker's id of a status change (Jira: the changelog id), the same whether it
    # arrives as a webhook or is found by reconcile; of a timer: the workflow and the step
    change_id: str | None = None
    workflow: str | None = None
    step: str | None = None
    # attachments the change added (Jira: the changelog's `Attachment` items), by id, or by
    # name where the tracker gives none
    attached: tuple[str, ...] = ()
    public: bool | None = None  # of a comment: whether customers see it (None: not said)


class Verdict(str, enum.Enum):
    IGNORED = "ignored"  # nothing to judge: no workflow, own change, no rule touched
    ALLOWED = "allowed"
    STALE = "stale"  # the ticket has moved on since; nothing to undo
    REVERTED = "reverted"
    NEEDS_ATTENTION = "needs_attention"  # should be reverted but cannot be; agents alerted
    NEEDS = "needs"  # the core needs more facts (the ticket, the actor's role) to decide
    EXPIRED = "expired"  # a timer ran out: the bridge moves the ticket along its path
    REMINDED = "reminded"  # a timer's reminder falls due
    WAITING = "waiting"  # a fact may still arrive (a comment): ask again at `wait_until`
    RETURNED = "returned"  # the bridge moves the ticket on: work elsewhere is done (development, sub-tasks), a customer replied
    REJECTED = "rejected"  # a customer's attachment breaks the policy: they are told (and it goes)
    CORRECTED = "corrected"  # a new ticket brought in line with the rules on creation


class Rule(str, enum.Enum):
    """Why a decision is what it is; the audit log keeps the value."""

    NO_WORKFLOW = "no-workflow"  # no workflow governs the ticket's type
    OWN_CHANGE = "own-change"  # the bridge made the change itself
    NO_RULE = "no-rule"  # no rule is about this kind of event
    UNKNOWN_STATUS = "unknown-status"  # a status the workflow does not declare
    ALLOWED = "allowed"  # a move the workflow allows
    CHAIN_UNDONE = "chain-undone"  # a customer's quick moves ended where they began
    NEEDS = "needs"  # the core asks for more facts
    STALE = "stale"  # the ticket moved on before it was judged
    CUSTOMER_TRANSITION = "customer-transition"  # a move customers may not make, reverted
    REQUIREMENTS_MET = "requirements-met"  # a move whose requirements are met
    ENTRY_REQUIREMENT = "entry-requirement"  # a move lacking what entering its status requires, reverted
    AWAITING_COMMENT = "awaiting-comment"  # a required comment may still come
    ROLE_UNKNOWN = "role-unknown"  # the actor's role cannot be told
    JUDGED_BEFORE = "judged-before"  # a status change another delivery brought first
    NO_TIMER = "no-timer"  # no timer in the ticket's status
    TIMER_RUNNING = "timer-running"  # a timer runs, nothing is due yet
    TIMER_REMINDER = "timer-reminder"  # a timer's reminder (or a timer that only speaks)
    TIMER_EXPIRED = "timer-expired"  # a timer ran out: the ticket moves along its path
    TIMER_STALE = "timer-stale"  # the stay a timer counted from has ended
    TIMER_NOT_DUE = "timer-not-due"  # a queued timer step is no longer due
    DEV_ITEM = "dev-item"  # entering development without a development item that exists, reverted
    DEV_UNREACHABLE = "dev-unreachable"  # the development provider could not be asked; agents alerted
    DEV_LINKED = "dev-linked"  # entering development with items that exist: linked both ways
    DEV_DONE = "dev-done"  # development finished the items: the ticket moves on
    DEV_WAITING = "dev-waiting"  # some of the ticket's items are not done yet
    DEV_LEFT = "dev-left"  # the ticket left development meanwhile: left alone
    DEV_CHANGED = "dev-changed"  # a development item changed: its tickets queued to be judged
    ATTACHMENT_REJECTED = "attachment-rejected"  # a customer's attachment breaks the policy
    ATTACHMENT_UNREADABLE = "attachment-unreadable"  # its name or size cannot be read; agents alerted
    ATTACHMENTS_ACCEPTED = "attachments-accepted"  # a customer's attachments meet the policy
    CREATION_MET = "creation-met"  # a new ticket as the rules on creation want it
    CHANNEL_FIELD = "channel-field"  # a field set on a request that came by a channel (e-mail)
    CUSTOMER_FIELD = "customer-field"  # a field customers may not set on this type, put back
    REQUIRED_FIELDS = "required-fields"  # fields a new ticket of its type lacks, asked for
    REPLY = "reply"  # a customer's public comment on a waiting ticket: back to the team
    COMMENT = "comment"  # a comment that moves nothing (the team's, internal, not waiting)
    SUBTASKS_OPEN = "subtasks-open"  # entering a closing status with sub-tasks not done, reverted
    SUBTASKS_DONE = "subtasks-done"  # entering a closing status with every sub-task done (or none)
    SUBTASKS_FINISHED = "subtasks-finished"  # the last open sub-task is done: the parent moves on
    SUBTASK_CHANGED = "subtask-changed"  # a sub-task changed; its parent stays where it is


class Need(str, enum.Enum):
    TICKET = "ticket"  # for an event without a key: which ticket it is
    ROLE = "role"
    CHAIN = "chain"
    COMMENTS = "comments"  # the ticket's recent comments
    ITEMS = "items"  # the development items the ticket names, as their provider has them
    CHANNEL = "channel"  # where the request came in (Ticket.channel)


@dataclass(frozen=True)
class Chain:
    """Customer moves on this ticket that were let stand only because the ticket had moved
    on before they were judged: they began in `origin` and reached `reached`.

    A customer who clicks twice quickly (A → B → C) leaves the first move stale by the time
    it is judged; the second is then judged as the whole way, A → C.
    """

    origin: str | None = None
    reached: str | None = None


NO_CHAIN = Chain()


@dataclass(frozen=True)
class TransitionAction:
    ticket: str
    transition_id: str | None  # None only when judging without a tracker (dry run)
    to_status: str
    # the status the ticket was judged in: a retry that finds the ticket elsewhere since
    # (moved on by a person) must not move it back
    from_status: str | None = None
    kind: str = "transition"
    # the internal note, in the workflow's language, should the tracker take the move and
    # keep the status (Redmine's own workflow dropping it): a revert's
    if_kept: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CommentAction:
    ticket: str
    body: str
    public: bool  # visible to the customer; False is an internal note for agents
    kind: str = "comment"


@dataclass(frozen=True)
class LinkAction:
    """Link the ticket and a development item both ways: the item is recorded as the
    ticket's, the provider's item points back to the ticket, and the ticket carries a link
    to the item (marked resolved once the item is done)."""

    ticket: str
    provider: str  # "azure-devops" or "jira"
    item: str  # the item's number as normalised: "4711", "DEV-12"
    url: str = ""  # where people open the item
    title: str = ""
    resolved: bool = False
    state: str = ""  # the item's state as the provider said when judged
    workflow: str = ""  # of the ticket: judged by it again when the item changes
    kind: str = "link"


@dataclass(frozen=True)
class RemoveAttachmentAction:
    """Delete an attachment from the ticket (one that breaks the workflow's policy)."""

    ticket: str
    attachment: str  # the tracker's id of the attachment
    filename: str = ""
    kind: str = "remove_attachment"


@dataclass(frozen=True)
class FieldsAction:
    """Set fields of the ticket, each to a value as the tracker's REST API takes it
    (Jira: `{"priority": {"name": "Medium"}}`). `rule` made the change and `was` shows what
    the fields held, so that the audit log says why each field changed and from what."""

    ticket: str
    fields: dict[str, Any]
    rule: str = ""
    was: dict[str, str] = field(default_factory=dict)
    kind: str = "fields"


Action = TransitionAction | CommentAction | LinkAction | RemoveAttachmentAction | FieldsAction


@dataclass(frozen=True)
class DevItem:
    """A development item as its provider has it now."""

    id: str  # normalised, as in LinkAction.item
    state: str  # the provider's own state name, e.g. "Committed", "Done"
    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class DevItems:
    """What the development provider said of the items a ticket names. `found` holds those
    that exist (the rest do not); `unreachable` says why the provider could not be asked
    (after its retries); `configured` False: no provider connection, so only presence and
    format can be checked."""

    found: dict[str, DevItem] = field(default_factory=dict)
    unreachable: str | None = None
    configured: bool = True


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: Rule
    reason: str
    workflow: str | None = None
    actions: tuple[Action, ...] = ()
    needs: frozenset[Need] = frozenset()
    chain_from: str | None = None  # where the customer's chain of moves judged here began
    reminder: int | None = None  # which of the timer's reminders this decision sends
    wait_until: datetime | None = None  # of a WAITING decision
