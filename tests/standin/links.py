"""Links on the Jira stand-in: remote links (an issue pointing to an item elsewhere, such as
a PBI in Azure DevOps) and issue links between two issues of the site.

As in Jira, a remote link posted with a `globalId` the issue has already is that link
updated, not a second one; and an issue link of one type between the same two issues is
made once. Issue links show in both issues' `fields.issuelinks`, each naming the other
issue under the role it plays in the link (`inwardIssue` or `outwardIssue`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import Issue, JiraStandin

# Jira's default link types, by name: (id, inward, outward).
LINK_TYPES = {
    "Blocks": ("10000", "is blocked by", "blocks"),
    "Cloners": ("10001", "is cloned by", "clones"),
    "Duplicate": ("10002", "is duplicated by", "duplicates"),
    "Relates": ("10003", "relates to", "relates to"),
}
GLOBAL_ID_MOST = 255


class Refused(Exception):
    """Jira refuses the request: `status`, and its `errorMessages` or field `errors`."""

    def __init__(self, status: int, *messages: str, **errors: str) -> None:
        super().__init__(status, messages, errors)
        self.status, self.messages, self.errors = status, list(messages), errors


@dataclass
class IssueLink:
    id: str
    type: str  # a name in LINK_TYPES
    inward: str  # issue ids
    outward: str


@dataclass
class LinkBook:
    """Every link of the site: remote links by issue id, issue links in the order made."""

    remote: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issue: list[IssueLink] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(10000))

    def put_remote(self, issue: Issue, body: Any, base: str, version: str) -> tuple[bool, dict[str, Any]]:
        """Create the remote link `body` describes, or update the one with its `globalId`;
        (created, the link as Jira shows it)."""
        if not isinstance(body, dict):
            raise Refused(400, "The request body must be a JSON object.")
        target = body.get("object")
        if not isinstance(target, dict):
            raise Refused(400, object="'object' is required.")
        missing = {name: f"'{name}' is required." for name in ("title", "url")
                   if not isinstance(target.get(name), str) or not target[name].strip()}
        if missing:
            raise Refused(400, **missing)
        global_id = body.get("globalId")
        if global_id is not None and (not isinstance(global_id, str) or len(global_id) > GLOBAL_ID_MOST):
            raise Refused(400, globalId=f"The global ID must be a string of at most {GLOBAL_ID_MOST} characters.")
        links = self.remote.setdefault(issue.id, [])
        known = next((link for link in links if global_id and link.get("globalId") == global_id), None)
        link_id = known["id"] if known else int(next(self._ids))
        link = {"id": link_id, "self": f"{base}/rest/api/{version}/issue/{issue.key}/remotelink/{link_id}",
                **({"globalId": global_id} if global_id else {}),
                **{k: body[k] for k in ("application", "relationship") if k in body},
                "object": target}
        if known:
            links[links.index(known)] = link
        else:
            links.append(link)
        return known is None, link

    def remote_of(self, issue: Issue, global_id: str | None = None) -> Any:
        """The issue's remote links, or the one with `global_id`."""
        links = self.remote.get(issue.id, [])
        if global_id is None:
            return links
        found = next((link for link in links if link.get("globalId") == global_id), None)
        if found is None:
            raise Refused(404, "No remote link with the given global ID was found.")
        return found

    def link_issues(self, standin: JiraStandin, body: Any) -> IssueLink:
        """The issue link `body` asks for; the one there already if it is a repeat."""
        if not isinstance(body, dict):
            raise Refused(400, "The request body must be a JSON object.")
        kind = link_type(body.get("type"))
        inward, outward = (_issue_named(standin, body.get(role), role) for role in ("inwardIssue", "outwardIssue"))
        if inward.id == outward.id:
            raise Refused(400, "You cannot link an issue to itself.")
        for link in self.issue:
            if (link.type, link.inward, link.outward) == (kind, inward.id, outward.id):
                return link
        link = IssueLink(str(next(self._ids)), kind, inward.id, outward.id)
        self.issue.append(link)
        return link

    def find_issue_link(self, link_id: str) -> IssueLink:
        found = next((link for link in self.issue if link.id == link_id), None)
        if found is None:
            raise Refused(404, f"No issue link with id '{link_id}' exists.")
        return found


def link_type(given: Any) -> str:
    """The name of the link type `given` names by `name` or `id`."""
    if not isinstance(given, dict) or not (given.get("name") or given.get("id")):
        raise Refused(400, "Issue link type is required.")
    for name, (type_id, _, _) in LINK_TYPES.items():
        if given.get("name") == name or str(given.get("id")) == type_id:
            return name
    if given.get("name"):
        raise Refused(404, f"No issue link type with name '{given['name']}' found.")
    raise Refused(404, f"No issue link type with id '{given['id']}' found.")


def _issue_named(standin: JiraStandin, given: Any, role: str) -> Issue:
    if not isinstance(given, dict) or not (given.get("key") or given.get("id")):
        raise Refused(400, f"'{role}' needs the issue's key or id.")
    issue = standin.find_issue(str(given.get("key") or given.get("id")))
    if issue is None:
        raise Refused(404, "Issue Does Not Exist")
    return issue


def type_json(name: str, base: str) -> dict[str, str]:
    type_id, inward, outward = LINK_TYPES[name]
    return {"id": type_id, "name": name, "inward": inward, "outward": outward,
            "self": f"{base}/rest/api/2/issueLinkType/{type_id}"}


def linked_issue_json(standin: JiraStandin, issue: Issue, base: str) -> dict[str, Any]:
    """An issue as a link shows it: a few fields only."""
    fields = {"summary": issue.fields.get("summary"), "status": standin.status_json(issue.status, base),
              "priority": issue.fields.get("priority"), "issuetype": issue.fields.get("issuetype")}
    return {"id": issue.id, "key": issue.key, "self": f"{base}/rest/api/2/issue/{issue.id}",
            "fields": fields}


def issue_link_json(standin: JiraStandin, link: IssueLink, base: str,
                    seen_from: Issue | None = None) -> dict[str, Any]:
    """The link as `GET issueLink/{id}` shows it, or as `seen_from`'s `issuelinks` do: with
    only the other issue, under the role it plays."""
    shown: dict[str, Any] = {"id": link.id, "self": f"{base}/rest/api/2/issueLink/{link.id}",
                             "type": type_json(link.type, base)}
    for role, issue_id in (("inwardIssue", link.inward), ("outwardIssue", link.outward)):
        other = standin.find_issue(issue_id)
        if other is not None and (seen_from is None or other.id != seen_from.id):
            shown[role] = linked_issue_json(standin, other, base)
    return shown


def issuelinks_json(standin: JiraStandin, issue: Issue, base: str) -> list[dict[str, Any]]:
    """The issue's `fields.issuelinks`."""
    return [issue_link_json(standin, link, base, seen_from=issue)
            for link in standin.links.issue if issue.id in (link.inward, link.outward)]


def state_json(standin: JiraStandin, issue: Issue) -> dict[str, Any]:
    """The issue's links as the control read `GET /_standin/issues/{key}` shows them."""
    keys = {i.id: i.key for i in standin.issues.values()}
    return {
        "remote_links": standin.links.remote.get(issue.id, []),
        "issue_links": [{"id": link.id, "type": link.type, "inward": keys.get(link.inward),
                         "outward": keys.get(link.outward)}
                        for link in standin.links.issue if issue.id in (link.inward, link.outward)],
    }
