"""Whatever a signed Redmine delivery holds, parsing it ends in an event or in
`MalformedDelivery` with a reason, never in another exception, and every text of the event
fits the column it is recorded in and holds no NUL; so does reading any issue answer.

The deliveries are arbitrary JSON objects, objects built from the names Redmine's senders
use, and the samples with one part replaced by anything.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bridge.trackers.base import MalformedDelivery
from bridge.trackers.redmine_issues import (
    Statuses,
    comments_of,
    found_of,
    history_of,
    status_ids,
    statuses_of,
    ticket_of,
)
from bridge.trackers.redmine_parsing import (
    delivery_id,
    envelope_problem,
    parse_delivery,
)
from tests.conftest import FIXTURES
from tests.trackers.test_jira_any_delivery import (
    RELAXED,
    assert_fits,
    replace_somewhere,
)

SAMPLES = [json.loads(p.read_text(encoding="utf-8"))
           for p in sorted((FIXTURES / "redmine").rglob("*.json")) if p.parent.name in ("webhooks", "easy")]
STATUSES = statuses_of(json.loads((FIXTURES / "redmine" / "rest" / "issue_statuses.json").read_text()))
NAMES = [
    "payload", "action", "opened", "updated", "issue", "journal", "id", "notes", "private_notes",
    "author", "user", "details", "property", "attr", "prop_key", "name", "status_id", "value",
    "old_value", "new_value", "old_name", "new_name", "attachment", "status", "project", "tracker",
    "custom_fields", "custom_field_values", "parent", "parent_id", "created_on", "type", "data",
    "issue.updated", "issue.created", "timestamp", "time_entry", "journals", "children",
    "allowed_statuses", "attachments", "easy_helpdesk_mailbox_username", "firstname", "login",
    "2026-11-24T16:04:06Z", "12", "16", "9",
]
texts = st.text(max_size=200) | st.sampled_from(NAMES) | st.sampled_from(["a\x00b", "S" * 600, "9/../x"])
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats(allow_nan=False) | texts
keys = st.sampled_from(NAMES) | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
                      max_leaves=30)
objects = st.dictionaries(keys, values, max_size=8)
ids = st.sampled_from([9, "9", 10**25, -1, "x"]) | values
issues = st.fixed_dictionaries({"id": ids}, optional={k: values for k in ("status", "project", "journals",
                                                                            "custom_fields", "author")})
journals = st.fixed_dictionaries({"id": ids, "details": st.lists(
    st.fixed_dictionaries({"property": st.sampled_from(["attr", "attachment"]) | values,
                           "prop_key": st.sampled_from(["status_id", "7"]) | values},
                          optional={"old_value": values, "value": values, "old_name": values}), max_size=3)},
    optional={"notes": values, "private_notes": values, "author": values, "user": values, "created_on": values})
plugin = st.fixed_dictionaries({"payload": st.fixed_dictionaries(
    {"action": st.sampled_from(["opened", "updated"]) | texts, "issue": issues}, optional={"journal": journals})})
native = st.fixed_dictionaries({"type": st.sampled_from(["issue.updated", "issue.created", "time_entry.created"]) | texts,
                                "data": st.fixed_dictionaries({"issue": issues}, optional={"journal": journals})},
                               optional={"timestamp": values})


def assert_total(payload) -> None:
    envelope_problem(payload)
    delivery_id({}, payload)
    for statuses, final in ((STATUSES, False), (Statuses(), False), (STATUSES, True)):
        try:
            event = parse_delivery(payload, statuses=statuses, final=final)
        except MalformedDelivery as exc:
            assert str(exc)
            continue
        assert_fits(event)
        assert event.ticket is None or event.ticket.isdigit()


@RELAXED
@given(objects)
def test_any_object(payload):
    assert_total(payload)


@RELAXED
@given(plugin | native)
def test_any_object_shaped_like_a_delivery(payload):
    assert_total(payload)


@RELAXED
@given(st.sampled_from(SAMPLES), st.lists(st.integers(0, 50), min_size=1, max_size=6), values)
def test_a_sample_with_any_part_replaced(sample, path, value):
    assert_total(replace_somewhere(sample, path, value))


@RELAXED
@given(issues | objects)
def test_any_issue_answer_is_read_or_refused(issue):
    for read in (lambda i: ticket_of(i, STATUSES, {}), found_of, lambda i: history_of(i, STATUSES), comments_of,
                 status_ids):
        try:
            read(issue)
        except MalformedDelivery as exc:
            assert str(exc)
