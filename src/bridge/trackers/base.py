"""What the worker and the executor need of a tracker, and the errors trackers raise.

Exceptions:

    TrackerError
    ├── TrackerUnavailable   network failure, 5xx, 429: retried; the delivery waits
    ├── TrackerUnauthorized  401: the credentials; the delivery waits, the worker holds
    └── TrackerRejected      the tracker refused the call (other 4xx): dead-lettered
        └── StatusNotChanged the tracker took a status change and kept the status: the
                             decision needs attention, the ticket gets an internal note
    MalformedDelivery        a delivery that does not describe an event
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.engine import Actor, Comment, Event, Found, Role, StatusChange, Ticket, WorkedTicket


class MalformedDelivery(ValueError):
    """The delivery parsed as JSON but is not shaped like the tracker's webhook."""


def aware_time(value: Any, where: str) -> datetime:
    """A time as a tracker writes it in ISO 8601 with its offset (Jira's
    2026-11-20T16:02:41.508+0100, Redmine's 2026-11-24T16:04:06Z), keeping the offset;
    anything else is a MalformedDelivery naming `where`."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise MalformedDelivery(f"'{where}' is not a time with an offset: {str(value)[:40]!r}")


class TrackerError(Exception):
    """`status`: the tracker's HTTP answer, None when none came."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TrackerUnavailable(TrackerError):
    pass


class TrackerUnauthorized(TrackerError):
    """The tracker does not accept the bridge's credentials: nothing can succeed until an
    admin fixes them, and every further try counts against the account's failed logins."""


class TrackerRejected(TrackerError):
    pass


@dataclass(frozen=True)
class Search:
    """What a periodic job looks for: tickets matching every condition given (none given:
    no limit by it), with the fields it reads and, where asked, each one's status history."""

    statuses: Sequence[str] = ()
    issue_types: Sequence[str] = ()
    projects: Sequence[str] = ()
    # tickets of these request types (Jira Service Management) and no issue type named:
    # a tracker without request types answers NotOnSite; Jira reads them in `fields`
    request_types: Sequence[str] = ()
    updated_since: datetime | None = None
    fields: Sequence[str] = ()
    with_history: bool = False


@dataclass(frozen=True)
class TrackerProblem:
    """Why the tracker cannot be used, with the fix where one is known. `blocking`: no call
    can succeed until someone acts (credentials, URL, TLS); otherwise it may pass."""

    text: str
    blocking: bool = True


class Tracker(Protocol):
    name: str

    def parse(self, body: bytes) -> Event:
        """The delivery as the core's event; raises MalformedDelivery."""

    async def check(self) -> TrackerProblem | None:
        """Whether the tracker answers the bridge's credentials (one call); None: it does."""

    async def own_change(self, actor: Actor) -> bool:
        """Whether the bridge's own account made the change."""

    async def identity(self) -> frozenset[str]:
        """The ids of the bridge's own account (asked once, then remembered)."""

    async def role_of(self, actor: Actor, project: str | None = None) -> Role:
        """Customer or agent, where the delivery alone cannot tell; `project`: the event's,
        where the tracker gives roles per project (Redmine)."""

    async def get_ticket(self, event: Event, fields: list[str]) -> Ticket:
        """The ticket as it is now, with the transitions open from its status."""

    async def resolve(self, event: Event) -> Event:
        """An event that names its ticket by id alone (or whose delivery lacks its types),
        completed with the ticket's key, project and types."""

    async def recent_comments(self, ticket: str) -> tuple[Comment, ...]:
        """The ticket's newest comments."""

    # -- what periodic jobs read: tickets addressed by key -----------------------------------
    def search(self, wanted: Search) -> AsyncIterator[Found]:
        """Tickets matching every condition of `wanted`, page by page (each page one call).
        With `with_history`, each comes with its whole status history: taken from the search
        answer where it holds it all, read per ticket only where it does not."""

    def worked(self, wanted: Search) -> AsyncIterator[WorkedTicket]:
        """Tickets matching `wanted` as billing reads them, each with its whole status history
        (`with_history` is implied) and every worklog on it."""

    async def history(self, ticket: str) -> tuple[StatusChange, ...]:
        """The ticket's whole status history, oldest first."""

    async def ticket(self, key: str, fields: Iterable[str] = ()) -> Ticket:
        """The ticket as it is now, with the transitions open from its status."""

    def delivery_of(self, found: Found, change: StatusChange) -> dict[str, Any]:
        """A change found in a ticket's history, as the tracker's webhook would have
        delivered it: reconcile queues it to be judged like one."""

    # Changes are sent once per call; the executor retries them after asking whether the
    # tracker already applied them (an answer lost to a timeout, a crash after sending).
    async def transition(self, ticket: str, transition_id: str) -> None: ...

    async def comment(self, ticket: str, body: str, *, public: bool, marker: str) -> None:
        """Comment, marked (invisibly) with the action's idempotency key."""

    async def remote_link(self, ticket: str, global_id: str, url: str, title: str, resolved: bool) -> None:
        """A link on the ticket to something elsewhere (a development item), created or
        updated by `global_id`: sending it again never adds a second link (one attempt)."""

    async def status_of(self, ticket: str) -> str:
        """The ticket's status now (one attempt)."""

    async def remove_attachment(self, attachment: str) -> bool:
        """Delete an attachment (one attempt); False when it is gone already."""

    async def has_comment(self, ticket: str, marker: str, body: str) -> bool:
        """Whether the bridge already made the comment marked `marker` (one attempt each)."""

    async def channel(self, ticket: str) -> str | None:
        """Where the request came in (`email`, `portal`…); None: the ticket has no channel."""

    async def set_fields(self, ticket: str, fields: dict[str, Any]) -> None:
        """Set fields to values as the tracker's REST API takes them (one attempt)."""


class OfflineTracker:
    """Stands in for a tracker when none is configured: judges on the delivery alone.

    It never sends anything (the service is dry then); the ticket is taken from the
    delivery's own snapshot, with its transitions unknown.
    """

    def __init__(self, name: str, parse: Callable[[bytes], Event]) -> None:
        self.name = name
        self._parse = parse

    def parse(self, body: bytes) -> Event:
        return self._parse(body)

    async def check(self) -> TrackerProblem | None:
        return None

    async def own_change(self, actor: Actor) -> bool:
        return False

    async def identity(self) -> frozenset[str]:
        return frozenset()

    async def role_of(self, actor: Actor, project: str | None = None) -> Role:
        return Role.UNKNOWN

    async def get_ticket(self, event: Event, fields: list[str]) -> Ticket:
        if event.snapshot is None:
            raise TrackerUnavailable("no tracker configured and the delivery carries no ticket")
        return event.snapshot

    async def resolve(self, event: Event) -> Event:
        if event.ticket is not None:  # named by key: judged on what the delivery shows
            return event
        # not retried: only configuring a tracker (then a replay) can help
        raise TrackerRejected("no tracker configured to look up the ticket the delivery names by id")

    async def recent_comments(self, ticket: str) -> tuple[Comment, ...]:
        return ()  # only the delivery's own comment is seen

    async def search(self, wanted: Search) -> AsyncIterator[Found]:
        """Nothing: with no tracker there is nothing to find, and a sweep finds nothing to do."""
        for found in ():
            yield found

    async def worked(self, wanted: Search) -> AsyncIterator[WorkedTicket]:
        """Nothing: with no tracker there is no work to bill."""
        for ticket in ():
            yield ticket

    async def history(self, ticket: str) -> tuple[StatusChange, ...]:
        raise TrackerUnavailable("no tracker configured")

    async def ticket(self, key: str, fields: Iterable[str] = ()) -> Ticket:
        raise TrackerUnavailable("no tracker configured")

    async def transition(self, ticket: str, transition_id: str) -> None:
        raise TrackerUnavailable("no tracker configured")

    async def comment(self, ticket: str, body: str, *, public: bool, marker: str) -> None:
        raise TrackerUnavailable("no tracker configured")

    async def remote_link(self, ticket: str, global_id: str, url: str, title: str, resolved: bool) -> None:
        raise TrackerUnavailable("no tracker configured")

    async def status_of(self, ticket: str) -> str:
        raise TrackerUnavailable("no tracker configured")

    async def remove_attachment(self, attachment: str) -> bool:
        raise TrackerUnavailable("no tracker configured")

    async def has_comment(self, ticket: str, marker: str, body: str) -> bool:
        raise TrackerUnavailable("no tracker configured")

    async def channel(self, ticket: str) -> str | None:
        return None  # judged on the delivery alone, which never says

    async def set_fields(self, ticket: str, fields: dict[str, Any]) -> None:
        raise TrackerUnavailable("no tracker configured")


class NotOnSite(TrackerRejected):
    """A search names only ticket types or projects the site does not have: nothing of them
    can be found there (a workflow meant for another site). Periodic jobs pass it over."""


class StatusNotChanged(TrackerRejected):
    """The tracker accepted a status change and kept the status: Redmine answers 204 to
    `PUT /issues/{id}.json` even when its own workflow (the roles' allowed transitions)
    silently drops the new status, so the adapter reads the status back and raises this.
    Sending again cannot help; the executor turns it into needs-attention with an internal
    note, so that someone gives the bridge's role the transition in Redmine's workflow."""
