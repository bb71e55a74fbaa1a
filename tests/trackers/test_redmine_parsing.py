"""Redmine's deliveries as events: the redmine_webhook plugin's, Redmine's own webhooks',
and the changes polling finds, all read by one `parse`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.engine import Actor, Found, Kind, Role, StatusChange, Ticket
from bridge.trackers.base import MalformedDelivery
from bridge.trackers.redmine_issues import fields_of, statuses_of
from bridge.trackers.redmine_parsing import (
    delivery_id,
    envelope_problem,
    parse_body,
    parse_delivery,
    webhook_of,
)
from tests.conftest import FIXTURES

REDMINE = FIXTURES / "redmine"
STATUSES = statuses_of(json.loads((REDMINE / "rest" / "issue_statuses.json").read_text(encoding="utf-8")))


def sample(name: str) -> dict:
    return json.loads((REDMINE / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["webhooks/plugin_customer_status_change.json",
                                  "webhooks/native_customer_status_change.json"])
def test_customer_closing_the_ticket_is_a_status_change_by_name(name):
    event = parse_delivery(sample(name), tracker="podpora-redmine", statuses=STATUSES)
    assert event.kind is Kind.STATUS_CHANGED
    assert event.tracker == "podpora-redmine"
    assert (event.ticket, event.ticket_id, event.project, event.issue_type) == ("9", "9", "Podpora", "Servis")
    assert (event.from_status, event.to_status) == ("Na klientovi", "Hotovo")
    assert event.actor == Actor("6", "Zákazník Test", Role.UNKNOWN)  # the memberships tell
    assert event.change_id == "23"
    assert event.comment == "Už to funguje, zavírám."
    assert event.at == datetime(2026, 11, 24, 16, 4, 6, tzinfo=UTC)
    assert event.snapshot is not None and event.snapshot.status == "Hotovo"


def test_plugin_and_native_delivery_of_one_journal_are_one_delivery():
    plugin = sample("webhooks/plugin_customer_status_change.json")
    native = sample("webhooks/native_customer_status_change.json")
    assert delivery_id({}, plugin) == delivery_id({}, native) == "redmine-journal-23"


def test_creation_is_told_apart_by_issue_and_time_whatever_the_source():
    plugin, native = sample("webhooks/plugin_issue_opened.json"), sample("webhooks/native_issue_created.json")
    assert delivery_id({}, plugin) == delivery_id({}, native) == "redmine-issue-10-created-20261125T081500Z"
    event = parse_delivery(plugin, statuses=STATUSES)
    assert (event.kind, event.ticket, event.to_status, event.actor.id) == (Kind.CREATED, "10", "Nový", "6")


def test_private_note_is_an_internal_comment():
    event = parse_delivery(sample("webhooks/plugin_private_note.json"), statuses=STATUSES)
    assert (event.kind, event.public, event.comment) == (Kind.COMMENTED, False, "Interně: ověřit u účetní.")
    assert event.to_status == "Na klientovi"  # where the ticket waits, for a reply's rule


def test_native_journal_does_not_say_whether_notes_are_private():
    payload = sample("webhooks/native_customer_status_change.json")
    del payload["data"]["journal"]["details"]
    event = parse_delivery(payload, statuses=STATUSES)
    assert (event.kind, event.public) == (Kind.COMMENTED, None)


def test_added_attachment_is_named_by_its_id():
    event = parse_delivery(sample("webhooks/plugin_attachment_added.json"), statuses=STATUSES)
    assert event.attached == ("7",)
    assert event.change_id == "25"


def test_custom_fields_are_found_by_name_and_by_cf_id():
    payload = sample("webhooks/native_customer_status_change.json")
    payload["data"]["issue"]["custom_fields"] = [{"id": 1, "name": "PBI", "value": "PBI 4711"},
                                                 {"id": 2, "name": "subject", "value": "clash"}]
    fields = parse_delivery(payload, statuses=STATUSES).snapshot.fields
    assert fields["PBI"] == fields["cf_1"] == "PBI 4711"
    assert fields["subject"] == "Faktura se neodeslala zákazníkovi" and fields["cf_2"] == "clash"


def test_a_status_not_known_yet_leaves_the_ticket_to_be_looked_up():
    """The statuses were read before this one was made: the event names its ticket by id,
    so that judging asks the adapter to complete it (with the statuses read again)."""
    event = parse_delivery(sample("webhooks/plugin_customer_status_change.json"))  # no statuses known
    assert (event.kind, event.ticket, event.ticket_id, event.change_id) == (Kind.STATUS_CHANGED, None, "9", "23")


def test_a_status_that_is_gone_is_recorded_with_the_reason_not_judged():
    payload = sample("webhooks/native_customer_status_change.json")
    payload["data"]["journal"]["details"][0]["old_value"] = "99"
    event = parse_delivery(payload, statuses=STATUSES, final=True)
    assert event.kind is Kind.UPDATED
    assert event.ticket == "9"
    assert event.raw_event == "issue.updated: status #99 is gone"


def test_helpdesk_requester_is_a_customer_where_the_issue_says_so():
    issue = sample("easy/helpdesk_issue.json")["issue"]
    journal = issue.pop("journals")[1]
    event = parse_delivery({"type": "issue.updated", "data": {"issue": issue, "journal": journal}}, statuses=STATUSES)
    assert event.actor == Actor("31", "Petr Svoboda", Role.CUSTOMER)
    del issue["easy_helpdesk_mailbox_username"]  # not made from an e-mail: the memberships tell
    event = parse_delivery({"type": "issue.updated", "data": {"issue": issue, "journal": journal}}, statuses=STATUSES)
    assert event.actor.role is Role.UNKNOWN


def test_other_native_events_are_about_no_one_ticket():
    event = parse_delivery({"type": "time_entry.created", "timestamp": "2026-11-24T16:04:05Z",
                            "data": {"time_entry": {"id": 2, "issue": {"id": 9}, "user": {"id": 7, "name": "B"}}}})
    assert (event.kind, event.ticket, event.ticket_id) == (Kind.NO_TICKET, None, "9")
    deleted = parse_delivery({"type": "issue.deleted", "timestamp": "2026-11-24T16:04:05Z",
                              "data": {"issue": {"id": 9}}})
    assert (deleted.kind, deleted.ticket) == (Kind.OTHER, "9")


def test_polling_writes_a_change_that_parse_reads_back_as_the_same_change():
    issue = sample("rest/issue_with_journals.json")["issue"]
    found = Found(Ticket("9", "Hotovo", fields_of(issue), None), "Podpora", "Servis", None, None)
    change = StatusChange("23", datetime(2026, 11, 24, 16, 4, 6, tzinfo=UTC), Actor("6", "Zákazník Test"),
                          "Na klientovi", "Hotovo")
    body = json.dumps(webhook_of(found, change, STATUSES)).encode()
    for statuses in (STATUSES, None):  # parsed where the statuses are not read yet, too
        event = parse_body(body, tracker="redmine", statuses=statuses)
        assert (event.kind, event.ticket, event.change_id) == (Kind.STATUS_CHANGED, "9", "23")
        assert (event.from_status, event.to_status, event.actor.id) == ("Na klientovi", "Hotovo", "6")
        assert event.at == change.at
    assert delivery_id({}, json.loads(body)) == "redmine-journal-23"


@pytest.mark.parametrize("body,reason", [
    (b"{", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"hello": 1}', "neither 'payload'"),
    (b'{"payload": {"action": "updated", "issue": {"id": "9/../../users"}}}', "payload.issue.id"),
    (b'{"type": "issue.updated", "data": {"issue": {}}}', "data.issue.id"),
])
def test_malformed_deliveries_say_why(body, reason):
    with pytest.raises(MalformedDelivery, match=reason):
        parse_body(body)


def test_envelope_check_passes_both_shapes():
    assert envelope_problem(sample("webhooks/plugin_issue_opened.json")) is None
    assert envelope_problem(sample("webhooks/native_issue_created.json")) is None
    assert envelope_problem({"type": "news.created", "data": {"news": {}}}) is None
