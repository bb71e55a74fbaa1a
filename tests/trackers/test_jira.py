"""The Jira adapter: recorded deliveries in, REST calls out (HTTP faked with respx)."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest
import respx

from bridge.engine import Actor, Event, Kind, Role
from bridge.trackers.base import MalformedDelivery, TrackerRejected, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, adf, parse_body, parse_delivery
from tests.conftest import FIXTURES

BASE = "https://jira.test"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)


def test_cloud_customer_status_change(jira_sample):
    event = parse_delivery(jira_sample("customer_forbidden_transition.json"))
    assert event.kind is Kind.STATUS_CHANGED
    assert (event.ticket, event.project, event.issue_type) == ("SRV-412", "SRV", "Servis")
    assert (event.from_status, event.to_status) == ("Na klientovi", "Hotovo")
    assert event.actor.role is Role.CUSTOMER
    assert event.actor.id == "qm:1f0c2b7e-5c1a-4d8e-9b11-8a0c3e6d2f40:5e4f"
    assert event.snapshot is not None and event.snapshot.status == "Hotovo"


def test_agent_is_known_from_account_type(jira_sample):
    assert parse_delivery(jira_sample("agent_transition.json")).actor.role is Role.AGENT


def test_data_center_user_has_no_role_until_asked(jira_sample):
    event = parse_delivery(jira_sample("datacenter_customer_transition.json"))
    assert event.actor == Actor("jnovakova", "Jana Nováková", Role.UNKNOWN)


def test_status_found_among_several_changed_fields(jira_sample):
    event = parse_delivery(jira_sample("customer_status_and_priority.json"))
    assert (event.kind, event.from_status, event.to_status) == (Kind.STATUS_CHANGED, "Realizace", "Hotovo")


@pytest.mark.parametrize(
    "sample,kind",
    [
        ("summary_only_change.json", Kind.UPDATED),
        ("comment_created_by_customer.json", Kind.COMMENTED),
        ("issue_created.json", Kind.CREATED),
    ],
)
def test_other_events(jira_sample, sample, kind):
    assert parse_delivery(jira_sample(sample)).kind is kind


def test_request_type_read_by_shape_not_field_id(jira_sample):
    payload = jira_sample("jsm_decline_with_comment.json")
    fields = payload["issue"]["fields"]
    fields["customfield_12345"] = fields.pop("customfield_10010")
    event = parse_delivery(payload)
    assert event.request_type == "Něco mi nefunguje"
    assert event.comment == "Export pořád padá u šablony XY, viz screenshot."


def test_decline_without_comment_has_none(jira_sample):
    assert parse_delivery(jira_sample("jsm_decline_without_comment.json")).comment is None


@pytest.mark.parametrize(
    "body,reason",
    [(b"{", "not JSON"), (b"[]", "webhookEvent"), (b'{"webhookEvent": "jira:issue_updated"}', "issue.key")],
)
def test_malformed_deliveries_say_why(body, reason):
    with pytest.raises(MalformedDelivery, match=reason):
        parse_body(body)


def delivery(**changes) -> dict:
    """A status change with the given top-level parts replaced."""
    payload = json.loads((FIXTURES / "jira" / "customer_forbidden_transition.json").read_text(encoding="utf-8"))
    return payload | changes


HOSTILE_KEYS = [
    "SRV-1/../../../../x",
    "SRV-1?x=",
    "SRV-1#x",
    "../SRV-1",
    "..",
    "SRV-1/transitions",
    "SRV-1\n",
    "SRV-1 ",
    "SRV-0",
    "1SRV-2",
    "_SRV-2",
    "SRV-",
    "SR-V-1",
    "\u017fRV-1",  # 'ſ' folds to 's' case-insensitively
    "\u212aEY-1",  # the Kelvin sign folds to 'k'
    "S" * 70 + "-1",
    "",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_keys_not_shaped_like_jiras_are_refused(key):
    payload = delivery()
    payload["issue"]["key"] = key
    with pytest.raises(MalformedDelivery, match="issue.key"):
        parse_delivery(payload)


@pytest.mark.parametrize("key", ["SRV-412", "X-1", "R2D2-10", "MY_PROJECT_2-7", "srv-5"])
def test_keys_of_any_valid_project_are_taken(key):
    payload = delivery()
    payload["issue"]["key"] = key
    assert parse_delivery(payload).ticket == key


def test_changelog_items_that_are_not_a_list_are_malformed():
    payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": "X-1", "fields": {}}, "changelog": {"items": 5}}
    with pytest.raises(MalformedDelivery, match="changelog.items"):
        parse_delivery(payload)


def test_a_user_name_that_is_an_object_is_malformed():
    payload = delivery(user={"name": {"first": "Jana"}, "displayName": "Jana"})
    with pytest.raises(MalformedDelivery, match="user.name"):
        parse_delivery(payload)


def nested_comment(depth: int) -> dict:
    node: dict = {"type": "text", "text": "deep"}
    for _ in range(depth):
        node = {"type": "paragraph", "content": [node]}
    return {"id": "1", "author": CUSTOMER_AUTHOR, "body": node}


CUSTOMER_AUTHOR = {"accountId": "qm:1", "accountType": "customer", "displayName": "Jana"}


def test_a_comment_nested_beyond_any_real_document_is_malformed():
    payload = {"webhookEvent": "comment_created", "issue": delivery()["issue"], "comment": nested_comment(450)}
    with pytest.raises(MalformedDelivery, match="nested deeper than"):
        parse_body(json.dumps(payload).encode())


def test_a_nested_comment_of_real_depth_is_read():
    payload = {"webhookEvent": "comment_created", "issue": delivery()["issue"], "comment": nested_comment(20)}
    assert parse_delivery(payload).comment == "deep"


def test_text_fields_are_cleaned_and_bounded():
    payload = delivery(user={"accountId": 4711, "displayName": "Ja\x00na", "accountType": "customer"})
    payload["changelog"]["items"][0]["toString"] = "H" * 1000
    event = parse_delivery(payload)
    assert event.actor.id == "4711" and event.actor.name == "Jana"
    assert event.to_status == "H" * 255


def test_adf_has_one_paragraph_per_line_and_no_empty_text():
    doc = adf("first\n\nsecond")
    assert doc["type"] == "doc" and doc["version"] == 1
    assert [p["content"][0]["text"] for p in doc["content"]] == ["first", "second"]


def tracker(deployment="cloud", **kw) -> JiraTracker:
    client = RestClient(BASE, user="bot@x", token="secret-token")
    return JiraTracker(client, deployment=deployment, retry=FAST, **kw)


ISSUE = {
    "key": "SRV-412",
    "fields": {"status": {"name": "Hotovo"}, "issuetype": {"name": "Servis"}, "customfield_10050": "PBI-1"},
    "transitions": [
        {"id": "31", "name": "Zpět na klienta", "to": {"id": "10104", "name": "Na klientovi"}},
        {"id": "41", "name": "Schválit", "to": {"id": "10110", "name": "Schváleno"}},
    ],
}


@respx.mock
async def test_cloud_reads_ticket_with_transitions_in_one_call(jira_sample):
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-412").respond(json=ISSUE)
    event = parse_delivery(jira_sample("customer_forbidden_transition.json"))
    ticket = await tracker().get_ticket(event, ["customfield_10050"])
    assert route.call_count == 1
    params = route.calls[0].request.url.params
    assert params["expand"] == "transitions" and "customfield_10050" in params["fields"].split(",")
    assert ticket.status == "Hotovo" and ticket.fields["customfield_10050"] == "PBI-1"
    assert [t.to_status for t in ticket.transitions] == ["Na klientovi", "Schváleno"]


@respx.mock
async def test_cloud_comment_is_adf_marked_and_internal_notes_are_marked_internal():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-1/comment").respond(201, json={"id": "1"})
    t = tracker()
    await t.comment("SRV-1", "Vráceno.", public=True, marker="jira:d-1:1:comment")
    await t.comment("SRV-1", "Pozor.", public=False, marker="jira:d-2:0:comment")
    public, internal = (json.loads(c.request.content) for c in route.calls)
    assert public["body"] == adf("Vráceno.")
    assert public["properties"] == [{"key": "ticket-bridge", "value": {"action": "jira:d-1:1:comment"}}]
    assert {"key": "sd.public.comment", "value": {"internal": True}} in internal["properties"]


@respx.mock
async def test_data_center_comment_is_plain_text_on_v2():
    route = respx.post(f"{BASE}/rest/api/2/issue/SRV-1/comment").respond(201, json={"id": "1"})
    await tracker("datacenter").comment("SRV-1", "Vráceno.", public=True, marker="m")
    assert json.loads(route.calls[0].request.content)["body"] == "Vráceno."


def _comment(cid: str, author: str, text: str) -> dict:
    return {"id": cid, "author": {"accountId": author}, "body": adf(text)}


@respx.mock
async def test_a_comment_already_made_is_found_by_its_marker():
    respx.get(f"{BASE}/rest/api/3/myself").respond(json={"accountId": "bot-1"})
    listing = respx.get(f"{BASE}/rest/api/3/issue/SRV-1/comment").respond(json={"comments": [
        _comment("10", "customer-1", "Vráceno."),  # same text, someone else's
        _comment("11", "bot-1", "Jiný text."),  # the bridge's, other text
        _comment("12", "bot-1", "Vráceno."),  # the bridge's, an earlier revert
        _comment("13", "bot-1", "Vráceno."),
    ]})
    marker = {"key": "ticket-bridge", "value": {"action": "jira:d-2:1:comment"}}
    earlier = respx.get(f"{BASE}/rest/api/3/comment/12/properties/ticket-bridge").respond(
        json={"key": "ticket-bridge", "value": {"action": "jira:d-1:1:comment"}})
    this = respx.get(f"{BASE}/rest/api/3/comment/13/properties/ticket-bridge").respond(json=marker)
    t = tracker()
    assert await t.has_comment("SRV-1", "jira:d-2:1:comment", "Vráceno.\n\n")
    assert not await t.has_comment("SRV-1", "jira:d-3:1:comment", "Vráceno.")
    assert listing.calls[0].request.url.params["orderBy"] == "-created"
    assert earlier.call_count == 2 and this.call_count == 2  # only the bridge's with that text


@respx.mock
async def test_status_of_reads_one_field():
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-1").respond(
        json={"key": "SRV-1", "fields": {"status": {"name": "Hotovo"}}})
    assert await tracker().status_of("SRV-1") == "Hotovo"
    assert route.calls[0].request.url.params["fields"] == "status"


@respx.mock
async def test_transition_posts_the_id():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-1/transitions").respond(204)
    await tracker().transition("SRV-1", "31")
    assert json.loads(route.calls[0].request.content) == {"transition": {"id": "31"}}


@respx.mock
async def test_own_account_learnt_once_from_myself():
    route = respx.get(f"{BASE}/rest/api/3/myself").respond(json={"accountId": "bot-1", "accountType": "app"})
    t = tracker()
    assert await t.own_change(Actor("bot-1"))
    assert not await t.own_change(Actor("someone"))
    assert route.call_count == 1


@respx.mock
async def test_data_center_groups_decide_the_role_and_are_cached():
    now = [0.0]
    route = respx.get(f"{BASE}/rest/api/2/user").respond(
        json={"name": "jnovakova", "groups": {"size": 1, "items": [{"name": "portal-customers"}]}}
    )
    t = tracker("datacenter", customer_groups=frozenset({"portal-customers"}), clock=lambda: now[0], group_cache_seconds=60)
    actor = Actor("jnovakova")
    assert await t.role_of(actor) is Role.CUSTOMER
    assert await t.role_of(actor) is Role.CUSTOMER
    assert route.call_count == 1
    assert route.calls[0].request.url.params["username"] == "jnovakova"
    now[0] = 61
    await t.role_of(actor)
    assert route.call_count == 2


@respx.mock
async def test_data_center_user_outside_customer_groups_is_an_agent():
    respx.get(f"{BASE}/rest/api/2/user").respond(json={"name": "petr", "groups": {"items": [{"name": "jira-software-users"}]}})
    t = tracker("datacenter", customer_groups=frozenset({"portal-customers"}))
    assert await t.role_of(Actor("petr")) is Role.AGENT


@respx.mock
async def test_reads_are_retried_honouring_retry_after():
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-1")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "0.01"}),
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"key": "SRV-1", "fields": {"status": {"name": "Hotovo"}}}),
    ]
    ticket = await tracker().get_ticket(Event("jira", Kind.UPDATED, "SRV-1", Actor(None)), [])
    assert ticket.status == "Hotovo" and route.call_count == 3


@respx.mock
async def test_changes_are_sent_once_per_call_the_executor_decides_on_retries():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-1/transitions").respond(
        503, headers={"Retry-After": "2"})
    with pytest.raises(TrackerUnavailable) as info:
        await tracker().transition("SRV-1", "31")
    assert route.call_count == 1 and info.value.retry_after == 2


@respx.mock
async def test_connection_failures_are_retried_then_reported():
    route = respx.get(f"{BASE}/rest/api/3/myself").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TrackerUnavailable, match="ConnectError"):
        await tracker().identity()
    assert route.call_count == 3


@respx.mock
async def test_a_refusal_is_not_retried_and_carries_jiras_message():
    route = respx.post(f"{BASE}/rest/api/3/issue/SRV-1/transitions").respond(
        400, json={"errorMessages": ["Transition id '99' is not valid for this issue."], "errors": {}}
    )
    with pytest.raises(TrackerRejected, match="not valid for this issue") as info:
        await tracker().transition("SRV-1", "99")
    assert route.call_count == 1
    assert "secret-token" not in str(info.value)


def test_retry_policy_waits_exponentially_and_caps_retry_after():
    policy = RetryPolicy(attempts=5, backoff=0.5, backoff_max=10)

    class State:
        def __init__(self, n, exc=None):
            self.attempt_number = n
            self.outcome = type("O", (), {"exception": lambda self: exc})()

    assert [policy.wait(State(n)) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.wait(State(1, TrackerUnavailable("x", retry_after=120))) == 10


ENCODED = {
    "SRV-1/../../../../x": "SRV-1%2F..%2F..%2F..%2F..%2Fx",
    "SRV-1?x=": "SRV-1%3Fx%3D",
    "..": "%2E%2E",
    "SRV 1#x": "SRV%201%23x",
}


@pytest.mark.parametrize("key", ENCODED)
@respx.mock
async def test_a_hostile_key_stays_one_path_segment(key):
    """Whatever reached the tracker as a key, the call goes to that ticket's own path."""
    route = respx.route().respond(204, json={"key": "SRV-1", "fields": {}})
    t = tracker()
    event = parse_delivery(delivery())
    await t.transition(key, "31")
    await t.comment(key, "Vráceno.", public=True, marker="m")
    await t.get_ticket(replace(event, ticket=key), [])
    issue = f"/rest/api/3/issue/{ENCODED[key]}"
    assert [c.request.url.raw_path.decode() for c in route.calls] == [
        f"{issue}/transitions", f"{issue}/comment", f"{issue}?fields=status%2Cissuetype%2Cproject&expand=transitions",
    ]


@pytest.mark.parametrize("answer,says,blocking", [
    (httpx.Response(200, json={"accountId": "bot-1"}), None, None),
    (httpx.Response(401), "401 from /myself: check BRIDGE_JIRA_USER/BRIDGE_JIRA_TOKEN", True),
    (httpx.Response(403, headers={"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"}), "CAPTCHA", True),
    (httpx.Response(404, text="<html>not found</html>"), "404 <html>not found</html>; check BRIDGE_JIRA_URL", True),
    (httpx.Response(302, headers={"Location": "https://id.atlassian.com/login"}), "check BRIDGE_JIRA_URL", True),
    (httpx.Response(503), "unreachable: GET /rest/api/3/myself: 503", False),
])
@respx.mock
async def test_the_check_says_what_to_fix(answer, says, blocking):
    respx.get(f"{BASE}/rest/api/3/myself").mock(return_value=answer)
    problem = await tracker().check()
    if says is None:
        assert problem is None
    else:
        assert says in problem.text and problem.blocking is blocking


REAL = FIXTURES / "jira" / "real"


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def test_a_worklog_is_about_no_one_ticket_but_keeps_its_tickets_id_and_author():
    event = parse_delivery(real("cloud_worklog_created.json"))
    assert (event.kind, event.ticket, event.ticket_id) == (Kind.NO_TICKET, None, "10014")
    assert event.actor.name == "Leo Franchi"


@pytest.mark.parametrize(
    "name", ["server_issue_updated_issue_commented.json", "server_old_issue_updated_commented.json"]
)
def test_an_issue_event_carrying_a_comment_is_a_comment_not_an_edit(name):
    event = parse_delivery(real(name))
    assert (event.kind, event.comment) == (Kind.COMMENTED, "unik")


def test_an_edited_comment_is_by_its_last_editor():
    payload = real("cloud_comment_updated.json")
    payload["comment"]["updateAuthor"] = {"accountId": "qm:77", "accountType": "customer", "displayName": "Jana"}
    event = parse_delivery(payload)
    assert event.actor == Actor("qm:77", "Jana", Role.CUSTOMER)
    assert event.kind is Kind.COMMENTED


def test_a_comment_carried_by_an_issue_event_is_not_taken_for_a_reason_when_deleted():
    payload = real("server_issue_updated_issue_comment_edited.json")
    payload["issue_event_type_name"] = "issue_comment_deleted"
    event = parse_delivery(payload)
    assert event.kind is Kind.COMMENT_DELETED and event.comment is None


def test_a_data_center_comment_without_an_address_names_no_ticket_and_is_malformed():
    payload = real("server_comment_created_without_issue.json")
    del payload["comment"]["self"]
    with pytest.raises(MalformedDelivery, match="comment.self"):
        parse_delivery(payload)


@respx.mock
async def test_a_ticket_named_by_id_is_read_whole_to_learn_its_key_and_types(jira_sample):
    issue = jira_sample("jsm_decline_with_comment.json")["issue"]
    route = respx.get(f"{BASE}/rest/api/2/issue/10013").respond(json=issue)
    event = parse_delivery(real("server_comment_created_without_issue.json"))
    found = await tracker("datacenter").resolve(event)
    assert route.calls[0].request.url.params["fields"] == "*all"
    assert (found.ticket, found.project, found.request_type) == ("TGS-88", "TGS", "Něco mi nefunguje")
    assert found.issue_type == "[System] Service request" and found.comment == "unik"


@respx.mock
async def test_an_unusable_answer_to_the_lookup_is_a_refusal():
    respx.get(f"{BASE}/rest/api/2/issue/10013").respond(json={"key": "../x", "fields": {}})
    event = parse_delivery(real("server_comment_created_without_issue.json"))
    with pytest.raises(TrackerRejected, match="not a Jira issue key"):
        await tracker("datacenter").resolve(event)


@respx.mock
async def test_recent_comments_are_read_newest_first_with_their_authors_and_times():
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-1/comment").respond(json={"comments": [
        {"id": "2", "author": {"accountId": "qm:1"}, "created": "2026-11-20T16:02:41.508+0100", "body": adf("Důvod")},
        {"id": "1", "author": {"name": "jana", "key": "JIRAUSER1"}, "created": "2026-11-20T15:00:00.000+0000",
         "body": "plain"},
        {"id": "0", "author": {"accountId": "qm:1"}, "body": "no time"},
    ]})
    comments = await tracker().recent_comments("SRV-1")
    params = route.calls[0].request.url.params
    assert (params["orderBy"], params["maxResults"]) == ("-created", "50")
    assert [(c.by, c.text) for c in comments] == [
        (frozenset({"qm:1"}), "Důvod"), (frozenset({"jana", "JIRAUSER1"}), "plain")
    ]
    assert comments[0].created.isoformat() == "2026-11-20T16:02:41.508000+01:00"
