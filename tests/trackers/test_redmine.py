"""The Redmine adapter's REST side against the real Redmine 5.0.4 answers (HTTP faked with
respx): identity, roles, tickets, changes read back, and what it does with HTML."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
import respx

from bridge.engine import Actor, Event, Kind, Role
from bridge.trackers.base import (
    StatusNotChanged,
    TrackerRejected,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy, counting_attempts
from bridge.trackers.redmine import RedmineTracker
from tests.conftest import FIXTURES

BASE = "https://redmine.test"
KEY = "0123456789abcdef0123456789abcdef01234567"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)
REST = FIXTURES / "redmine" / "rest"


def answer(name: str) -> dict:
    return json.loads((REST / name).read_text(encoding="utf-8"))


def issue(**changes) -> dict:
    found = copy.deepcopy(answer("issue_with_journals.json"))
    found["issue"].update(changes)
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tracker(clock=None, **kw) -> RedmineTracker:
    client = RestClient(BASE, headers={"X-Redmine-API-Key": KEY})
    return RedmineTracker(client, retry=FAST, clock=clock or Clock(), **kw)


@pytest.fixture
def redmine():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/issue_statuses.json").respond(json=answer("issue_statuses.json"))
        router.get("/users/current.json").respond(json=answer("users_current.json"))
        router.get("/projects.json").respond(json={"projects": [
            {"id": 2, "name": "Podpora", "identifier": "podpora"}], "total_count": 1, "offset": 0, "limit": 100})
        yield router


async def test_check_learns_the_bot_and_sends_the_key_in_its_header(redmine):
    t = tracker()
    assert await t.check() is None
    sent = redmine.calls[0].request
    assert sent.headers["X-Redmine-API-Key"] == KEY and KEY not in str(sent.url)
    assert await t.identity() == frozenset({"7", "bridgebot"})
    assert await t.own_change(Actor("7", "Bridge Bot")) and not await t.own_change(Actor("6"))
    assert len(redmine.calls) == 2  # the user, the statuses; the identity is remembered


async def test_check_warns_of_an_administrators_key(redmine):
    admin = answer("users_current.json")
    admin["user"]["admin"] = True
    redmine.get("/users/current.json").respond(json=admin)
    problem = await tracker().check()
    assert problem is not None and not problem.blocking
    assert "administrator" in problem.text and "non-admin bot account" in problem.text


async def test_check_says_to_enable_the_rest_api(redmine):
    redmine.get("/users/current.json").respond(403)
    problem = await tracker().check()
    assert problem is not None and problem.blocking
    assert "Administration → Settings → API" in problem.text


async def test_check_names_the_key_setting_on_401(redmine):
    redmine.get("/users/current.json").respond(401)
    problem = await tracker().check()
    assert problem is not None and "BRIDGE_REDMINE_API_KEY" in problem.text and KEY not in problem.text


LOGIN_PAGE = ('<!DOCTYPE html><html><head><title>Redmine</title></head><body><div id="login-form">'
              '<form action="/login" method="post"><input type="text" name="username">'
              '<input type="password" name="password"></form></div></body></html>')


async def test_a_login_page_with_200_is_unauthorized_naming_the_url_never_the_key(redmine):
    route = redmine.get("/issues/9.json").respond(200, html=LOGIN_PAGE)
    with pytest.raises(TrackerUnauthorized) as caught:
        await tracker().status_of("9")
    assert f"{BASE}/issues/9.json" in str(caught.value) and KEY not in str(caught.value)
    assert route.call_count == 1  # not tried again: only an admin can help


async def test_a_proxy_error_page_is_unavailable_and_tried_again(redmine):
    page = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
    route = redmine.get("/issues/9.json").respond(200, html=page)
    with pytest.raises(TrackerUnavailable) as caught:
        await tracker().ticket("9")
    assert route.call_count == FAST.attempts
    assert f"{BASE}/issues/9.json" in str(caught.value) and "HTML" in str(caught.value)
    redmine.get("/issues/9.json").respond(502, html=page)
    with pytest.raises(TrackerUnavailable) as caught:
        await tracker().ticket("9")
    assert "<html" not in str(caught.value)


async def test_retry_after_is_honoured(redmine):
    redmine.get("/issues/9.json").respond(429, headers={"Retry-After": "7"})
    with pytest.raises(TrackerUnavailable) as caught:
        await tracker().status_of("9")
    assert caught.value.retry_after == 7.0


async def test_redmines_validation_messages_are_kept(redmine):
    redmine.put("/issues/9.json").respond(422, json={"errors": ["Status is invalid", "Assignee is invalid"]})
    with pytest.raises(TrackerRejected, match="Status is invalid; Assignee is invalid"):
        await tracker().comment("9", "x", public=True, marker="k")


async def test_403_names_the_permission_problem(redmine):
    redmine.delete("/attachments/7.json").respond(403)
    with pytest.raises(TrackerRejected, match="Roles and permissions") as caught:
        await tracker().remove_attachment("7")
    assert caught.value.status == 403


async def test_transition_sets_the_status_and_reads_it_back(redmine):
    put = redmine.put("/issues/9.json").respond(204)
    redmine.get("/issues/9.json").respond(json=issue(status={"id": 12, "name": "Na klientovi", "is_closed": False}))
    await tracker().transition("9", "12")
    assert json.loads(put.calls[0].request.content) == {"issue": {"status_id": 12}}


async def test_a_change_redmines_workflow_drops_is_status_not_changed(redmine):
    """Redmine answers 204 and keeps Hotovo: its workflow does not let the bot's role move it."""
    redmine.put("/issues/9.json").respond(204)
    redmine.get("/issues/9.json").respond(json=issue())
    t = tracker()
    await t.check()
    with pytest.raises(StatusNotChanged, match="kept #9 in 'Hotovo', not 'Na klientovi'") as caught:
        await t.transition("9", "12")
    assert isinstance(caught.value, TrackerRejected)


async def test_customer_is_a_member_in_a_customer_role_asked_once(redmine):
    clock = Clock()
    members = redmine.get("/projects/2/memberships.json").respond(json=answer("memberships.json"))
    t = tracker(clock, cache_seconds=300)
    assert await t.role_of(Actor("6", "Zákazník Test"), "Podpora") is Role.CUSTOMER
    with counting_attempts() as calls:
        assert await t.role_of(Actor("6"), "Podpora") is Role.CUSTOMER
        assert await t.role_of(Actor("7"), "Podpora") is Role.AGENT  # the bot's role: Bridge
        assert await t.role_of(Actor("1", "Admin"), "Podpora") is Role.AGENT  # no member: an admin
    assert calls == [0]
    clock.now = 301
    await t.role_of(Actor("6"), "Podpora")
    assert members.call_count == 2
    assert await t.role_of(Actor("6"), "Elsewhere") is Role.UNKNOWN
    assert await t.role_of(Actor("6"), None) is Role.UNKNOWN


async def test_customer_roles_are_configurable(redmine):
    redmine.get("/projects/2/memberships.json").respond(json=answer("memberships.json"))
    t = tracker(customer_roles=frozenset({"Bridge"}))
    assert await t.role_of(Actor("6"), "Podpora") is Role.AGENT
    assert await t.role_of(Actor("7"), "Podpora") is Role.CUSTOMER


async def test_ticket_offers_the_allowed_statuses_as_transitions(redmine):
    allowed = [{"id": 16, "name": "Hotovo", "is_closed": True}, {"id": 14, "name": "Vráceno klientem", "is_closed": False}]
    route = redmine.get("/issues/9.json").respond(json=issue(allowed_statuses=allowed))
    ticket = await tracker().ticket("9", ["PBI"])
    assert route.calls[0].request.url.params["include"] == "children,attachments,allowed_statuses"
    assert [(t.id, t.to_status) for t in ticket.transitions] == [("14", "Vráceno klientem")]  # not to where it is
    assert (ticket.key, ticket.status, ticket.fields["PBI"], ticket.fields["cf_1"]) == ("9", "Hotovo", None, None)


async def test_an_older_redmine_offers_every_status(redmine):
    redmine.get("/issues/9.json").respond(json=issue())
    ticket = await tracker().ticket("9")
    assert len(ticket.transitions) == 16 and "Hotovo" not in {t.to_status for t in ticket.transitions}


async def test_subtasks_with_their_statuses_and_the_parent(redmine):
    children = [{"id": 11, "tracker": {"id": 4, "name": "Servis"}, "subject": "Opravit export"},
                {"id": 12, "tracker": {"id": 4, "name": "Servis"}, "subject": "Otestovat"}]
    redmine.get("/issues/9.json").respond(json=issue(children=children, parent={"id": 3}))
    listed = redmine.get("/issues.json").respond(json={"issues": [
        {"id": 11, "status": {"id": 16, "name": "Hotovo", "is_closed": True}},
        {"id": 12, "status": {"id": 9, "name": "Realizace", "is_closed": False}}], "total_count": 2})
    ticket = await tracker().ticket("9", ["subtasks"])
    assert [(s.key, s.status, s.done) for s in ticket.subtasks] == [("11", "Hotovo", True), ("12", "Realizace", False)]
    assert ticket.parent is not None and ticket.parent.key == "3"
    assert dict(listed.calls[0].request.url.params) == {"parent_id": "9", "status_id": "*", "limit": "100", "offset": "0"}


async def test_recent_comments_newest_last_private_marked(redmine):
    journals = answer("issue_with_journals.json")["issue"]["journals"]
    journals[1]["private_notes"] = True
    redmine.get("/issues/9.json").respond(json=issue(journals=journals))
    comments = await tracker().recent_comments("9")
    assert [c.text for c in comments] == [j["notes"] for j in journals]
    assert [c.public for c in comments] == [True, False, True]
    assert comments[-1].by == frozenset({"6"})


async def test_comment_private_and_found_again_by_author_and_text(redmine):
    put = redmine.put("/issues/9.json").respond(204)
    redmine.get("/issues/9.json").respond(json=issue())
    t = tracker()
    await t.comment("9", "Interní poznámka", public=False, marker="k1")
    assert json.loads(put.calls[0].request.content) == {"issue": {"notes": "Interní poznámka", "private_notes": True}}
    assert await t.has_comment("9", "k2", "Prosíme o zaslání\r\nukázkové faktury.") is False  # other text
    assert await t.has_comment("9", "k2", "Prosíme o zaslání ukázkové faktury.") is True  # the bot's journal 22
    assert await t.has_comment("9", "k3", "Už to funguje, zavírám.") is False  # the customer's, not the bot's


async def test_set_fields_priority_by_name_custom_fields_by_name_or_id(redmine):
    redmine.get("/enumerations/issue_priorities.json").respond(json={"issue_priorities": [
        {"id": 1, "name": "Low"}, {"id": 2, "name": "Normal"}, {"id": 3, "name": "High"}]})
    redmine.get("/issues/9.json").respond(json=issue())
    put = redmine.put("/issues/9.json").respond(204)
    await tracker().set_fields("9", {"priority": {"name": "high"}, "PBI": "PBI 4711", "cf_3": "x", "subject": "S"})
    assert json.loads(put.calls[0].request.content) == {"issue": {
        "priority_id": 3, "subject": "S", "custom_fields": [{"id": 1, "value": "PBI 4711"}, {"id": 3, "value": "x"}]}}
    with pytest.raises(TrackerRejected, match="no custom field"):
        await tracker().set_fields("9", {"Nope": 1})


async def test_remove_attachment_gone_already(redmine):
    redmine.delete("/attachments/7.json").respond(404)
    assert await tracker().remove_attachment("7") is False
    redmine.delete("/attachments/8.json").respond(204)
    assert await tracker().remove_attachment("8") is True


async def test_channel_email_for_an_easy_helpdesk_ticket(redmine):
    helpdesk = json.loads((FIXTURES / "redmine" / "easy" / "helpdesk_issue.json").read_text(encoding="utf-8"))
    redmine.get("/issues/4711.json").respond(json=helpdesk)
    redmine.get("/issues/9.json").respond(json=issue())
    assert await tracker().channel("4711") == "email"
    assert await tracker().channel("9") == ""


async def test_remote_link_is_a_private_note_made_once(redmine):
    get = redmine.get("/issues/9.json").respond(json=issue())
    put = redmine.put("/issues/9.json").respond(204)
    t = tracker()
    await t.remote_link("9", "ticket-bridge:azure-devops:4711", "https://dev.test/4711", "4711: Export", False)
    note = {"issue": {"notes": "4711: Export: https://dev.test/4711", "private_notes": True}}
    assert json.loads(put.calls[0].request.content) == note
    journals = answer("issue_with_journals.json")["issue"]["journals"]
    journals.append({"id": 30, "user": {"id": 7, "name": "Bridge Bot"}, "notes": note["issue"]["notes"],
                     "created_on": "2026-11-25T10:00:00Z", "private_notes": True, "details": []})
    get.respond(json=issue(journals=journals))
    await t.remote_link("9", "ticket-bridge:azure-devops:4711", "https://dev.test/4711", "4711: Export", True)
    assert put.call_count == 1


@pytest.mark.parametrize("hostile", ["9/../../users/1", "../9", "9?key=x", "9.json", "", " 9", "٩", "1e3", "-1"])
async def test_hostile_keys_are_refused_before_any_call(redmine, hostile):
    t = tracker()
    calls = [
        lambda: t.ticket(hostile), lambda: t.status_of(hostile), lambda: t.transition(hostile, "12"),
        lambda: t.transition("9", hostile), lambda: t.comment(hostile, "x", public=True, marker="k"),
        lambda: t.has_comment(hostile, "k", "x"), lambda: t.remove_attachment(hostile),
        lambda: t.history(hostile), lambda: t.set_fields(hostile, {"subject": "x"}),
        lambda: t.recent_comments(hostile), lambda: t.channel(hostile), lambda: t.resolve(
            Event("redmine", Kind.STATUS_CHANGED, None, Actor("6"), ticket_id=hostile, change_id="1")),
    ]
    for call in calls:
        with pytest.raises(TrackerRejected, match="not a Redmine id"):
            await call()
    assert redmine.calls.call_count == 0


async def test_resolve_reads_the_statuses_again_for_a_new_status(redmine):
    """Parsed before Redmine had status 18: judged once the statuses are read again."""
    statuses = answer("issue_statuses.json")
    t = tracker()
    await t.check()
    statuses["issue_statuses"].append({"id": 18, "name": "Čeká na díl", "is_closed": False})
    redmine.get("/issue_statuses.json").respond(json=statuses)
    journals = answer("issue_with_journals.json")["issue"]["journals"]
    journals[2]["details"][0]["new_value"] = "18"
    redmine.get("/issues/9.json").respond(json=issue(journals=journals, status={"id": 18, "name": "Čeká na díl"}))
    body = {"payload": {"action": "updated", "issue": {"id": 9, "status": {"id": 16, "name": "Hotovo"},
                                                         "project": {"id": 2, "name": "Podpora"}},
                        "journal": {"id": 23, "author": {"id": 6, "firstname": "Zákazník", "lastname": "Test"},
                                    "notes": "", "private_notes": False,
                                    "details": [{"property": "attr", "prop_key": "status_id",
                                                 "old_value": "12", "value": "18"}]}}}
    event = t.parse(json.dumps(body).encode())
    assert event.ticket is None
    done = await t.resolve(event)
    assert (done.kind, done.ticket, done.from_status, done.to_status) == (Kind.STATUS_CHANGED, "9", "Na klientovi", "Čeká na díl")
    assert (done.tracker, done.change_id, done.actor.id, done.raw_event) == ("redmine", "23", "6", "redmine_webhook:updated")


async def test_resolve_records_a_change_to_a_status_that_is_gone(redmine):
    journals = answer("issue_with_journals.json")["issue"]["journals"]
    journals[2]["details"][0]["new_value"] = "99"
    redmine.get("/issues/9.json").respond(json=issue(journals=journals))
    event = Event("redmine", Kind.STATUS_CHANGED, None, Actor("6"), ticket_id="9", change_id="23",
                  raw_event="redmine_webhook:updated")
    done = await tracker().resolve(event)
    assert (done.kind, done.ticket) == (Kind.UPDATED, "9")
    assert done.raw_event == "redmine_webhook:updated: status #99 is gone"


async def test_an_event_has_the_sites_name(redmine):
    t = tracker(name="zakaznik-a")
    body = (FIXTURES / "redmine" / "webhooks" / "plugin_private_note.json").read_bytes()
    assert t.parse(body).tracker == "zakaznik-a"


async def test_transport_failure_is_unavailable(redmine):
    redmine.get("/issues/9.json").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TrackerUnavailable, match="/issues/9.json"):
        await tracker().status_of("9")
