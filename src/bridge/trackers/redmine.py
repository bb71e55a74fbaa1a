"""Redmine (and Easy Project / Easy Redmine, which is Redmine underneath): deliveries in
(parsed in `redmine_parsing`), REST calls out with the bot account's `X-Redmine-API-Key`.

A ticket's key is the issue's id ("123"); nothing else goes into a REST path. Statuses,
trackers and projects are named by name, as workflows name them. Who is a customer: a member
of the issue's project in one of `customer_roles` (memberships read per project and kept for
`cache_seconds`), and the requester of a ticket Easy HelpDesk made from an e-mail
(`redmine_issues.helpdesk_requester`). A change Redmine silently drops (its own workflow:
`PUT` answers 204 and keeps the status) is read back and raised as `StatusNotChanged`.

What Redmine lacks, done otherwise: comments carry no hidden property, so the bridge's
comment is found again by its author (the bot) and its text; there are no remote links, so a
development item is named once in a private note, found again by its text.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC
from functools import partial
from typing import Any

from bridge.engine import Actor, Comment, Event, Found, Kind, Role, StatusChange, Ticket, WorkedTicket, Worklog
from bridge.engine.model import KEY_LENGTH
from bridge.trackers.base import (
    MalformedDelivery, NotOnSite, Search, StatusNotChanged, TrackerProblem, TrackerRejected, TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.redmine_api import API_SETTING, RedmineApi, path_id, unknown, usable
from bridge.trackers.redmine_issues import (
    HELPDESK_MAILBOX, Statuses, comments_of, digits, found_of, get, history_of, journals_of,
    status_ids, statuses_of, ticket_of, worked_ticket, worklog_of,
)
from bridge.trackers.redmine_parsing import parse_body, parse_delivery, webhook_of

__all__ = ["RedmineTracker"]

RECENT = 50  # journals a retry looks through for the bridge's comment
CUSTOM_FIELD = re.compile(r"cf_([0-9]{1,20})")
# What `PUT /issues/{id}.json` takes as the issue's own attributes; any other field a
# workflow sets is a custom field, by its name or as `cf_<id>`.
ATTRIBUTES = frozenset({
    "project_id", "tracker_id", "status_id", "priority_id", "subject", "description", "category_id",
    "fixed_version_id", "assigned_to_id", "parent_issue_id", "is_private", "estimated_hours",
    "start_date", "due_date", "done_ratio", "easy_email_to", "easy_email_cc",
})


class RedmineTracker:
    """One Redmine, through an injected `RestClient` whose headers carry the API key."""

    def __init__(
        self,
        client: RestClient,
        *,
        name: str = "redmine",
        customer_roles: frozenset[str] = frozenset({"Customer", "Zákazník"}),
        retry: RetryPolicy,
        cache_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = RedmineApi(client, retry, cache_seconds, clock)
        self.name = name
        self._customer_roles = frozenset(r.casefold() for r in customer_roles)
        self._statuses = Statuses()
        self._me: frozenset[str] | None = None
        self._admin = False

    def parse(self, body: bytes) -> Event:
        return parse_body(body, tracker=self.name, statuses=self._statuses)

    def delivery_of(self, found: Found, change: StatusChange) -> dict[str, Any]:
        return webhook_of(found, change, self._statuses)

    # -- who is who ---------------------------------------------------------------------------
    async def check(self) -> TrackerProblem | None:
        """Whether Redmine takes the API key (one call to /users/current.json), then its
        statuses, which name the statuses journals give by id."""
        try:
            self._remember(await self._api.send("GET", "/users/current.json"))
        except TrackerUnauthorized as exc:
            return TrackerProblem(f"{exc}; check BRIDGE_REDMINE_API_KEY (the bot's My account → API "
                                  f"access key) and that the REST API is on: {API_SETTING}")
        except TrackerRejected as exc:
            if exc.status == 403:
                return TrackerProblem(f"{exc}: Redmine's REST API is off; enable {API_SETTING}")
            return TrackerProblem(f"{exc}; check BRIDGE_REDMINE_URL, the Redmine's base URL")
        except TrackerUnavailable as exc:
            return TrackerProblem(f"unreachable: {exc}; check BRIDGE_REDMINE_URL", blocking=": TLS" in str(exc))
        try:
            await self._load_statuses()
        except (TrackerRejected, TrackerUnavailable) as exc:
            return TrackerProblem(f"the issue statuses cannot be read: {exc}", blocking=False)
        if self._admin:
            return TrackerProblem(
                "the API key is an administrator's: Redmine lets an administrator make any status "
                "change, bypassing the roles' workflow; use a non-admin bot account in a role of its own",
                blocking=False,
            )
        return None

    def _remember(self, answer: Any) -> frozenset[str]:
        user = get(answer, "user")
        ident = digits(get(user, "id"))
        if ident is None:
            raise TrackerRejected("GET /users/current.json answered no user id")
        login = get(user, "login")
        self._me = frozenset({ident, *([login] if isinstance(login, str) and login else [])})
        self._admin = get(user, "admin") is True
        return self._me

    async def identity(self) -> frozenset[str]:
        """The bot account's id and login (learnt once from /users/current.json)."""
        if self._me is None:
            return self._remember(await self._api.get("/users/current.json"))
        return self._me

    async def own_change(self, actor: Actor) -> bool:
        return actor.id is not None and actor.id in await self.identity()

    async def role_of(self, actor: Actor, project: str | None = None) -> Role:
        """A member of the project in a customer role is a customer, any other member and
        anyone outside the project (an administrator) an agent; without a project: unknown."""
        if actor.role is not Role.UNKNOWN:
            return actor.role
        if actor.id is None or project is None:
            return Role.UNKNOWN
        ident = (await self._projects()).get(project)
        if ident is None:
            return Role.UNKNOWN
        roles = (await self._members(ident)).get(actor.id)
        if roles is None:
            return Role.AGENT
        return Role.CUSTOMER if roles & self._customer_roles else Role.AGENT

    async def _members(self, project: str) -> dict[str, frozenset[str]]:
        async def load() -> dict[str, frozenset[str]]:
            found: dict[str, set[str]] = {}
            async for page in self._api.pages(f"/projects/{path_id(project)}/memberships.json", {}, "memberships"):
                for membership in page:  # a group's members are listed each on their own too
                    user = digits(get(get(membership, "user"), "id"))
                    roles = get(membership, "roles")
                    if user is not None and isinstance(roles, list):
                        found.setdefault(user, set()).update(
                            r["name"].casefold() for r in roles if isinstance(get(r, "name"), str))
            return {user: frozenset(roles) for user, roles in found.items()}

        return await self._api.cached(f"members:{project}", load)

    async def _projects(self) -> dict[str, str]:
        """Project ids by name, identifier and id."""
        async def load() -> dict[str, str]:
            found = {}
            async for page in self._api.pages("/projects.json", {}, "projects"):
                for project in page:
                    ident = digits(get(project, "id"))
                    if ident is not None:
                        names = (get(project, "name"), get(project, "identifier"), ident)
                        found.update({n: ident for n in names if isinstance(n, str)})
            return found

        return await self._api.cached("projects", load)

    async def _named(self, path: str, listed: str) -> dict[str, str]:
        """Ids by name (any case) of a small listing: trackers, priorities."""
        async def load() -> dict[str, str]:
            answer = await self._api.get(path)
            return {e["name"].casefold(): i for e in get(answer, listed) or []
                    if isinstance(get(e, "name"), str) and (i := digits(get(e, "id")))}

        return await self._api.cached(path, load)

    async def _load_statuses(self) -> Statuses:
        try:
            self._statuses = statuses_of(await self._api.get("/issue_statuses.json"))
        except MalformedDelivery as exc:
            raise TrackerRejected(f"GET /issue_statuses.json answered unusable statuses: {exc}") from None
        return self._statuses

    async def _statuses_for(self, issue: Any) -> Statuses:
        """The statuses, read again where the issue's journals name one not known yet."""
        if status_ids(issue) - set(self._statuses.by_id):
            await self._load_statuses()
        return self._statuses

    # -- tickets ----------------------------------------------------------------------------
    async def get_ticket(self, event: Event, fields: list[str]) -> Ticket:
        assert event.ticket is not None
        return await self.ticket(event.ticket, fields)

    async def ticket(self, key: str, fields: Iterable[str] = ()) -> Ticket:
        """The ticket as it is now, with the statuses the bot may move it to (one read; a
        second for the sub-tasks' statuses, where asked and it has any)."""
        issue = await self._api.issue(key, "children,attachments,allowed_statuses")
        if "allowed_statuses" not in issue and not self._statuses:
            await self._load_statuses()  # before Redmine 5.0: every status is offered
        children = None
        if "subtasks" in fields:
            children = {}
            if issue.get("children"):
                query = {"parent_id": path_id(key), "status_id": "*"}
                async for page in self._api.pages("/issues.json", query, "issues"):
                    children.update({i: child for child in page if (i := digits(get(child, "id")))})
        return usable(f"GET /issues/{key}.json", ticket_of, issue, self._statuses, children)

    async def resolve(self, event: Event) -> Event:
        """An event whose journal names a status not known when it was parsed, completed
        with the statuses read again: a status that no longer exists leaves a change that is
        recorded (its reason in the event's name), not judged. Any other event is completed
        with the issue's project and tracker as they are now."""
        key = event.ticket or event.ticket_id
        assert key is not None
        issue = await self._api.issue(key, "journals")
        journal = next((j for j in usable(f"GET /issues/{key}.json", journals_of, issue, "issue")
                        if digits(j.get("id")) == event.change_id), None)
        call = f"GET /issues/{key}.json"
        if event.ticket is not None or event.change_id is None or journal is None:
            now = usable(call, parse_delivery, {"type": "issue.updated", "data": {"issue": issue}})
            why = f"{event.raw_event}: journal {event.change_id} not found" if event.ticket is None else event.raw_event
            kind = Kind.UPDATED if event.ticket is None else event.kind
            return replace(event, ticket=now.ticket, kind=kind, raw_event=(why or "")[:KEY_LENGTH],
                           project=now.project, issue_type=now.issue_type, snapshot=now.snapshot)
        statuses = await self._statuses_for({"journals": [journal]})
        payload = {"type": "issue.updated", "data": {"issue": issue, "journal": journal}}
        found = usable(call, partial(parse_delivery, tracker=self.name, statuses=statuses, final=True), payload)
        gone = (found.raw_event or "")[len("issue.updated"):]  # ": status #17 is gone", or nothing
        return replace(found, raw_event=((event.raw_event or "") + gone)[:KEY_LENGTH])

    async def recent_comments(self, ticket: str) -> tuple[Comment, ...]:
        """The ticket's newest notes, newest last; private ones marked (`public` False)."""
        issue = await self._api.issue(ticket, "journals")
        return usable(f"GET /issues/{ticket}.json", comments_of, issue, RECENT)

    async def channel(self, ticket: str) -> str | None:
        """`email` for a ticket Easy HelpDesk made from an e-mail, else nothing ("")."""
        mailbox = (await self._api.issue(ticket)).get(HELPDESK_MAILBOX)
        return "email" if isinstance(mailbox, str) and mailbox.strip() else ""

    # -- what periodic jobs read ------------------------------------------------------------
    async def search(self, wanted: Search) -> AsyncIterator[Found]:
        """Issues matching every condition, oldest update first, 100 a call; with
        `with_history`, one more call per issue for its journals."""
        if wanted.request_types and not wanted.issue_types:
            raise NotOnSite("Redmine has no request types (a Jira Service Management workflow)")
        query = {"status_id": "*", "sort": "updated_on,id"}
        if wanted.issue_types:  # first: a workflow of another site's types finds nothing here
            query["tracker_id"] = "|".join(await self._ids("/trackers.json", "trackers", wanted.issue_types))
        if wanted.statuses:
            query["status_id"] = "|".join(await self._status_ids(wanted.statuses))
        since = wanted.updated_since
        if since is not None:
            query["updated_on"] = f">={since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        projects = await self._project_ids(wanted.projects) if wanted.projects else [None]
        seen: set[str] = set()
        for project in projects:
            asked = {**query, "project_id": project} if project else query
            async with aclosing(self._api.pages("/issues.json", asked, "issues")) as pages:
                async for page in pages:
                    for issue in page:
                        found = usable("GET /issues.json", found_of, issue)
                        if found.ticket.key in seen or (since and found.updated and found.updated < since):
                            continue  # seen on an earlier page (updated during the sweep)
                        seen.add(found.ticket.key)
                        if wanted.with_history:
                            found = replace(found, history=await self.history(found.ticket.key))
                        yield found

    async def _status_ids(self, names: Iterable[str]) -> list[str]:
        if any(self._statuses.id_of(n) is None for n in names):
            await self._load_statuses()
        missing = [n for n in names if self._statuses.id_of(n) is None]
        if missing:  # refused as Jira refuses a search naming a status it does not have
            raise TrackerRejected(f"Redmine has no status named {', '.join(map(repr, missing))}", status=400)
        return [str(self._statuses.id_of(n)) for n in names]

    async def _ids(self, path: str, listed: str, names: Iterable[str]) -> list[str]:
        known = await self._named(path, listed)
        return _present(listed[:-1], names, lambda name: known.get(name.casefold()))

    async def _project_ids(self, names: Iterable[str]) -> list[str]:
        known = await self._projects()
        return _present("project", names, known.get)

    async def history(self, ticket: str) -> tuple[StatusChange, ...]:
        issue = await self._api.issue(ticket, "journals")
        statuses = await self._statuses_for(issue)
        return usable(f"GET /issues/{ticket}.json", history_of, issue, statuses)

    async def worked(self, wanted: Search) -> AsyncIterator[WorkedTicket]:
        """Tickets with their history and time entries. Redmine lists a parent's entries with
        its sub-tasks'; each is billed on the issue it was logged on."""
        async with aclosing(self.search(replace(wanted, with_history=True))) as found_tickets:
            async for found in found_tickets:
                yield worked_ticket(found, await self.worklogs(found.ticket.key))

    async def worklogs(self, ticket: str) -> tuple[Worklog, ...]:
        found = []
        async for page in self._api.pages("/time_entries.json", {"issue_id": path_id(ticket)}, "time_entries"):
            own = [e for e in page if digits(get(get(e, "issue"), "id")) == path_id(ticket)]
            found += [usable("GET /time_entries.json", worklog_of, e) for e in own]
        return tuple(found)

    # -- changes: one attempt each; the executor retries after looking what was applied ------
    async def transition(self, ticket: str, transition_id: str) -> None:
        """Set the status (`transition_id` is its id), then read it back: Redmine answers
        204 also where its workflow dropped the change."""
        ident, wanted = path_id(ticket), path_id(transition_id)
        await self._api.send("PUT", f"/issues/{ident}.json", json={"issue": {"status_id": int(wanted)}})
        status = (await self._api.issue(ident)).get("status")
        if digits(get(status, "id")) != wanted:
            target = self._statuses.name(wanted) or f"status {wanted}"
            raise StatusNotChanged(
                f"PUT /issues/{ident}.json: Redmine answered 204 but kept #{ident} in '{get(status, 'name')}', "
                f"not '{target}': its workflow does not let the bridge's role make this change "
                "(Administration → Workflow)"
            )

    async def comment(self, ticket: str, body: str, *, public: bool, marker: str) -> None:
        """Notes on the issue, private where not `public`. Redmine keeps no hidden property
        on a journal: `has_comment` finds it again by its author and text, not by `marker`."""
        notes = {"notes": body, "private_notes": not public}
        await self._api.send("PUT", f"/issues/{path_id(ticket)}.json", json={"issue": notes})

    async def has_comment(self, ticket: str, marker: str, body: str) -> bool:
        """Whether the bot made the comment: among the newest journals, one by the bot with
        the same text (Redmine may change line ends)."""
        ident = path_id(ticket)
        me = await self.identity()
        issue = await self._api.issue(ident, "journals", once=True)
        for journal in usable(f"GET /issues/{ticket}.json", journals_of, issue, "issue")[-RECENT:]:
            by = digits(get(journal.get("user"), "id"))
            if by in me and _lines(journal.get("notes")) == _lines(body):
                return True
        return False

    async def status_of(self, ticket: str) -> str:
        name = get((await self._api.issue(ticket, once=True)).get("status"), "name")
        return name if isinstance(name, str) else ""

    async def set_fields(self, ticket: str, fields: dict[str, Any]) -> None:
        """The priority by name, custom fields by name or `cf_<id>`, the issue's own
        attributes as they are; one `PUT`."""
        ident, update, custom = path_id(ticket), {}, []
        named: dict[str, str] | None = None
        for field, value in fields.items():
            if field == "priority":
                name = get(value, "name") if isinstance(value, Mapping) else value
                update["priority_id"] = int((await self._ids("/enumerations/issue_priorities.json",
                                                             "issue_priorities", [str(name)]))[0])
            elif field in ATTRIBUTES:
                update[field] = value
            else:
                if (match := CUSTOM_FIELD.fullmatch(field)) is None and named is None:
                    listed = (await self._api.issue(ident)).get("custom_fields")
                    named = {get(c, "name"): str(get(c, "id")) for c in listed or () if isinstance(c, Mapping)}
                field_id = match[1] if match else (named or {}).get(field) or unknown(f"custom field on #{ident}", field)
                shown = (get(value, "value") or get(value, "name")) if isinstance(value, Mapping) else value
                custom.append({"id": int(field_id), "value": shown})
        if custom:
            update["custom_fields"] = custom
        await self._api.send("PUT", f"/issues/{ident}.json", json={"issue": update})

    async def remove_attachment(self, attachment: str) -> bool:
        try:
            await self._api.send("DELETE", f"/attachments/{path_id(attachment)}.json")
        except TrackerRejected as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def remote_link(self, ticket: str, global_id: str, url: str, title: str, resolved: bool) -> None:
        """Redmine has no remote links: a private note names the item once, found again by
        its text (its state is not kept up to date)."""
        note = f"{title}: {url}" if title else url
        issue = await self._api.issue(ticket, "journals")
        if any(_lines(j.get("notes")) == _lines(note) for j in journals_of(issue, "issue")):
            return
        await self._api.send("PUT", f"/issues/{path_id(ticket)}.json", json={"issue": {"notes": note, "private_notes": True}})


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()] if isinstance(value, str) else []


def _present(what: str, names: Iterable[str], known: Callable[[str], str | None]) -> list[str]:
    """The ids of the names the site has; none of them: NotOnSite."""
    names = list(names)
    found = [ident for ident in map(known, names) if ident]
    if not found:
        raise NotOnSite(f"Redmine has no {what} named {', '.join(map(repr, names))}")
    return found
