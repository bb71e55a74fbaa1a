"""Whether a comment Jira delivers is public: what decides if a customer's comment is a reply."""

from __future__ import annotations

import copy
import json

import pytest

from bridge.engine import Kind, Role
from bridge.trackers.jira import parse_delivery
from tests.conftest import FIXTURES, load_fixture

REAL = FIXTURES / "jira" / "real"


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name", ["cloud_comment_created.json", "cloud_comment_created_noformat.json", "cloud_comment_updated.json"]
)
def test_clouds_comments_say_they_are_public(name):
    event = parse_delivery(real(name))
    assert event.kind is Kind.COMMENTED and event.public is True


def test_a_customers_portal_comment_is_public_and_shows_the_ticket_as_it_was():
    event = parse_delivery(load_fixture("comment_created_by_customer.json"))
    assert (event.actor.role, event.public, event.to_status) == (Role.CUSTOMER, True, "Na klientovi")
    assert event.request_type is None, "Jira trims the issue in comment deliveries"


def test_an_internal_note_is_not_public():
    payload = load_fixture("comment_created_by_customer.json")
    payload["comment"]["jsdPublic"] = False
    assert parse_delivery(payload).public is False


@pytest.mark.parametrize(("value", "public"), [({"internal": True}, False), ({"internal": "true"}, False), ({"internal": False}, True)])
def test_the_service_management_property_says_it_where_jsd_public_is_absent(value, public):
    payload = copy.deepcopy(real("server_issue_updated_issue_commented.json"))
    payload["comment"]["properties"] = [{"key": "sd.public.comment", "value": value}]
    assert parse_delivery(payload).public is public


@pytest.mark.parametrize(
    "name", ["server_comment_created_without_issue.json", "server_issue_updated_issue_commented.json"]
)
def test_data_centers_comments_leave_it_unsaid(name):
    assert parse_delivery(real(name)).public is None


def test_a_status_change_carries_no_visibility():
    assert parse_delivery(load_fixture("customer_forbidden_transition.json")).public is None
