"""Whatever a signed delivery holds, parsing it ends in an event or in `MalformedDelivery`
with a reason, never in another exception: one that escaped would stop the worker on the same
delivery again and again. Every text of the event fits the column it is recorded in and holds
no NUL, which PostgreSQL cannot store.

The deliveries are arbitrary JSON objects, objects built from the names Jira uses (so that
the deeper parts are reached), and the recorded samples with one part replaced by anything.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.engine import Event
from bridge.store.tables import decisions
from bridge.trackers.base import MalformedDelivery
from bridge.trackers.jira import parse_delivery
from tests.conftest import FIXTURES

# every recorded delivery; real/rest/ holds answers of the REST API, not deliveries
SAMPLES = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((FIXTURES / "jira").rglob("*.json"))
           if p.parent.name != "rest"]
JIRA_NAMES = [
    "webhookEvent", "issue", "key", "fields", "status", "name", "changelog", "items", "field",
    "fieldId", "fromString", "toString", "user", "author", "accountId", "accountType",
    "displayName", "comment", "body", "content", "type", "text", "project", "issuetype",
    "requestType", "customfield_10010", "jira:issue_updated", "comment_created", "customer",
    "doc", "paragraph", "SRV-1", "worklog", "issueId", "self", "updateAuthor", "comment_updated",
    "comment_deleted", "issue_event_type_name", "issue_commented", "issue_comment_deleted", "timestamp",
    "https://jira.example.com/rest/api/2/issue/10148/comment/10045",
]
texts = st.text(max_size=300) | st.sampled_from(JIRA_NAMES) | st.sampled_from(["a\x00b", "S" * 600, "SRV-1/../x"])
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats(allow_nan=False) | texts
keys = st.sampled_from(JIRA_NAMES) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)
objects = st.dictionaries(keys, values, max_size=8)
issue_keys = st.sampled_from(["SRV-1", "X-42", "srv-7"]) | texts
jira_shaped = st.fixed_dictionaries(
    {"webhookEvent": st.sampled_from(["jira:issue_updated", "jira:issue_created", "comment_created",
                                      "comment_updated", "worklog_created"]) | texts,
     "issue": st.fixed_dictionaries({"key": issue_keys}, optional={"fields": values}) | values},
    optional={"changelog": values, "user": values, "comment": values, "worklog": values, "timestamp": values,
              "issue_event_type_name": values},
)

# Where each text of an event is recorded; the others are bounded like a status name.
RECORDED_IN = {"ticket": decisions.c.ticket, "raw_event": decisions.c.event, "from_status": decisions.c.from_status,
               "to_status": decisions.c.to_status}
NAME_LENGTH = decisions.c.to_status.type.length


def assert_total(payload: Any) -> None:
    try:
        event = parse_delivery(payload)
    except MalformedDelivery as exc:
        assert str(exc), "a refusal names its reason"
        return
    assert_fits(event)


def assert_fits(event: Event) -> None:
    texts = {name: getattr(event, name) for name in
             ("ticket", "raw_event", "from_status", "to_status", "project", "issue_type", "request_type",
              "ticket_id")}
    texts |= {"actor.id": event.actor.id, "actor.name": event.actor.name}
    if event.snapshot is not None:
        texts |= {"snapshot.key": event.snapshot.key, "snapshot.status": event.snapshot.status}
    for name, value in texts.items():
        assert value is None or isinstance(value, str), (name, value)
        if value is not None:
            limit = RECORDED_IN[name].type.length if name in RECORDED_IN else NAME_LENGTH
            assert len(value) <= limit and "\x00" not in value, (name, value)
    assert event.comment is None or (isinstance(event.comment, str) and "\x00" not in event.comment)


def replace_somewhere(document: Any, path: list[int], value: Any) -> Any:
    """The document with the part that `path` leads to (choosing among children by index)
    replaced by `value`."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    children = list(document.items()) if isinstance(document, dict) else list(enumerate(document))
    key, child = children[path[0] % len(children)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = replace_somewhere(child, path[1:], value)
    return copy


RELAXED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(objects)
def test_any_object(payload):
    assert_total(payload)


@RELAXED
@given(jira_shaped)
def test_any_object_shaped_like_a_delivery(payload):
    assert_total(payload)


@RELAXED
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.integers(0, 50), min_size=1, max_size=6),
    values,
)
def test_a_real_delivery_with_any_part_replaced(sample, path, value):
    assert_total(replace_somewhere(sample, path, value))


@RELAXED
@given(st.sampled_from(SAMPLES), st.integers(0, 5000), st.sampled_from(["content", "body", "text"]))
def test_a_comment_nested_to_any_depth(sample, depth, where):
    node: Any = {"type": "text", "text": "x"}
    for _ in range(depth):
        node = {"type": "paragraph", where: [node]}
    assert_total(dict(sample, webhookEvent="comment_created", comment={"author": {"accountId": "a"}, "body": node}))


def test_every_recorded_sample_parses():
    for sample in SAMPLES:
        assert_fits(parse_delivery(sample))
