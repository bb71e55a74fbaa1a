"""The webhooks the stand-in sends when an issue is created or edited.

Redmine 5.0 sends none itself; sites add the redmine_webhook plugin (suer/redmine_webhook).
Its body is `{"payload": {"action": "opened" | "updated", "issue": {…}, "journal": {…},
"url": "…"}}`, field names as its presenters build them (tests/fixtures/redmine/SOURCES.md
names the commit): times through Rails' JSON encoder, with milliseconds; custom fields as
`custom_field_values`; the journal's details as `{id, value, old_value, prop_key, property}`.
The plugin posts from Redmine's controller hooks, so it fires on issues created (`opened`)
and edited (`updated`, also for an edit that changed nothing: its journal then has no id),
never for logged time, deleted attachments or relations; a request carrying
`X-Skip-Webhooks` sends none. It does not sign: the bridge's token rides in the target URL's
path or in an `X-Bridge-Token` header.

The `signed` form is the bridge's own convention for a Redmine or Easy Project that signs:
the same body, with `X-Redmine-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
Sending runs in the background and may fail (the bridge down) without harm to the stand-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.standin.sending import deliver

from . import model as m
from .times import json_time

if TYPE_CHECKING:
    from .state import RedmineStandin

FORMS = ("plugin", "signed")
SIGNATURE = "X-Redmine-Signature-256"
TOKEN_HEADER = "X-Bridge-Token"


def configure(standin: RedmineStandin, url: str | None = None, form: str = "plugin", token: str | None = None,
              token_in: str = "path", secret: str | None = None) -> dict[str, Any] | None:
    """Where webhooks go (None: nowhere, the default) and in which form."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, not {form!r}")
    if token_in not in ("path", "header"):
        raise ValueError(f"token_in must be path or header, not {token_in!r}")
    if url and form == "signed" and not secret:
        raise ValueError("the signed form needs a secret")
    standin.webhook = {"url": url, "form": form, "token": token, "token_in": token_in, "secret": secret} if url else None
    return standin.webhook


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def opened(standin: RedmineStandin, issue: m.Issue, base: str) -> dict[str, Any]:
    return {"payload": {"action": "opened", "issue": _issue(standin, issue), "url": f"{base}/issues/{issue.id}"}}


def updated(standin: RedmineStandin, issue: m.Issue, journal: m.Journal, base: str) -> dict[str, Any]:
    return {"payload": {"action": "updated", "issue": _issue(standin, issue),
                        "journal": _journal(standin, journal), "url": f"{base}/issues/{issue.id}"}}


def _person(user: m.User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    icon = None
    if user.mail:
        icon = f"https://www.gravatar.com/avatar/{hashlib.md5(user.mail.encode()).hexdigest()}?rating=PG&size=24"
    return {"id": user.id, "login": user.login, "mail": user.mail, "firstname": user.firstname,
            "lastname": user.lastname, "identity_url": None, "icon_url": icon}


def _issue(standin: RedmineStandin, issue: m.Issue) -> dict[str, Any]:
    project = standin.projects[issue.project_id]
    root = standin.ancestors(issue)[-1].id if issue.parent_id is not None else issue.id
    return {
        "id": issue.id, "subject": issue.subject, "description": issue.description,
        "created_on": json_time(issue.created_on), "updated_on": json_time(issue.updated_on),
        "closed_on": json_time(issue.closed_on), "root_id": root, "parent_id": issue.parent_id,
        "done_ratio": issue.done_ratio, "start_date": issue.start_date.isoformat() if issue.start_date else None,
        "due_date": issue.due_date.isoformat() if issue.due_date else None,
        "estimated_hours": issue.estimated_hours, "is_private": issue.is_private, "lock_version": issue.lock_version,
        "custom_field_values": [{"custom_field_id": f.id, "custom_field_name": f.name,
                                 "value": issue.custom_values.get(f.id)} for f in standin.fields_of(issue)],
        "project": {"id": project.id, "identifier": project.identifier, "name": project.name,
                    "description": project.description, "created_on": json_time(project.created_on),
                    "homepage": project.homepage},
        "status": {"id": issue.status_id, "name": standin.statuses[issue.status_id].name},
        "tracker": {"id": issue.tracker_id, "name": standin.trackers[issue.tracker_id].name},
        "priority": {"id": issue.priority_id, "name": standin.priorities[issue.priority_id].name},
        "author": _person(standin.users.get(issue.author_id)),
        "assignee": _person(standin.users.get(issue.assigned_to_id)) if issue.assigned_to_id else None,
        "watchers": [_person(standin.users[w]) for w in issue.watcher_ids],
    }


def _journal(standin: RedmineStandin, journal: m.Journal) -> dict[str, Any]:
    return {"id": journal.id, "notes": journal.notes, "created_on": json_time(journal.created_on),
            "private_notes": journal.private_notes, "author": _person(standin.users.get(journal.user_id)),
            "details": [{"id": d.id, "value": d.new_value, "old_value": d.old_value, "prop_key": d.name,
                         "property": d.property} for d in journal.details]}


# --- sending -------------------------------------------------------------------------------
def emit(standin: RedmineStandin, body: dict[str, Any]) -> None:
    """Send `body` in the background to the configured target, if there is one."""
    if standin.webhook:
        _start(standin, dict(standin.webhook), body)


def resend(standin: RedmineStandin, index: int) -> dict[str, Any]:
    """Send delivery `index` again, unchanged, to where the webhook points now."""
    body = standin.deliveries[index]["body"]
    if standin.webhook:
        _start(standin, dict(standin.webhook), body)
    return body


def _start(standin: RedmineStandin, target: dict[str, Any], body: dict[str, Any]) -> None:
    task = asyncio.get_running_loop().create_task(_deliver(standin, target, body))
    standin.pending.add(task)
    task.add_done_callback(standin.pending.discard)


async def _deliver(standin: RedmineStandin, target: dict[str, Any], body: dict[str, Any]) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Faraday v1.10.3"}
    url = target["url"]
    if target["form"] == "signed":
        headers[SIGNATURE] = sign(target["secret"], raw)
    elif target.get("token") and target["token_in"] == "header":
        headers[TOKEN_HEADER] = target["token"]
    elif target.get("token"):
        url = f"{url.rstrip('/')}/{quote(target['token'], safe='')}"
    await deliver(standin.transport, standin.deliveries, url, raw, headers, form=target["form"],
                  action=body["payload"]["action"], issue=body["payload"]["issue"]["id"], body=body)
