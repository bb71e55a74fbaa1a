"""What billing reads of Jira, parsed from answers real sites gave (`tests/fixtures/jira/real/`,
sources in SOURCES.md): worklogs with the seconds and the time as their author logged them,
the customer's organisation, and a refusal of anything finance could not bill from."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bridge.trackers.base import MalformedDelivery
from bridge.trackers.jira_changelog import searched
from bridge.trackers.jira_worklogs import (
    ORGANIZATIONS_TYPE,
    organizations_field,
    searched_worklogs,
    worked_ticket,
    worklog_of,
    worklog_page,
)
from tests.conftest import FIXTURES

REAL = FIXTURES / "jira" / "real"
REST = REAL / "rest"
ORGS = "customfield_10002"


def load(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def issue(**fields) -> dict:
    base = {"summary": "Faktura se neodeslala", "status": {"name": "Hotovo"},
            "issuetype": {"name": "Servis"}, "project": {"key": "SRV"},
            "updated": "2026-11-20T16:02:41.508+0100"}
    return {"id": "20417", "key": "SRV-412", "fields": {**base, **fields}}


def worklog(ident: str = "10100", seconds: int = 5400, **more) -> dict:
    return {"id": ident, "author": {"accountId": "5b10-agent", "displayName": "Petr Dvořák"},
            "started": "2026-11-20T09:00:00.000+0100", "timeSpentSeconds": seconds, **more}


def ticket(raw: dict, organizations: str | None = ORGS):
    found = searched(raw, with_history=False)
    return worked_ticket(found, searched_worklogs(found.ticket.fields, found.ticket.key) or (),
                         organizations)


# -- answers real sites gave -------------------------------------------------------------------
def test_a_real_server_issue_brings_its_worklogs_reporter_and_the_reporters_domain():
    raw = load(REAL / "server_status_resolved_to_closed.json")["issue"]
    worked = ticket(raw, organizations=None)
    assert (worked.key, worked.summary, worked.issue_type, worked.status) == (
        "TES-4", "Unit test summary 1", "Bug", "Closed")
    assert (worked.reporter, worked.organization) == ("admin", "example.com")
    assert [(w.id, w.author, w.seconds, w.comment) for w in worked.worklogs] == [
        ("10100", "admin", 60, ""), ("10200", "admin", 60, ""), ("10201", "admin", 60, "")]
    # the time as the author's Jira wrote it, in their zone, not moved to the reader's
    assert worked.worklogs[0].started == datetime(2019, 8, 13, 6, 33, tzinfo=timezone(timedelta(hours=8)))


def test_a_real_cloud_worklog_keeps_its_authors_offset():
    raw = load(REAL / "cloud_worklog_created.json")["worklog"]
    logged = worklog_of(raw)
    assert (logged.id, logged.author, logged.seconds, logged.comment) == ("10066", "Leo Franchi", 144000, "")
    assert logged.started.isoformat() == "2026-09-21T08:16:58.108000+05:30"


def test_a_data_center_worklog_page_has_plain_text_comments_and_its_total():
    listed, total = worklog_page(load(REST / "datacenter_worklog_page.json"))
    assert total == 1
    assert [(w.id, w.author, w.seconds, w.comment) for w in listed] == [("3", "Fred F. User", 3600, "")]
    assert listed[0].started.utcoffset() == timedelta(0)


def test_a_cloud_worklog_page_comment_is_read_from_its_document():
    (logged,), total = worklog_page(load(REST / "cloud_worklog_page_v3.json"))
    assert (total, logged.id, logged.author, logged.seconds) == (1, "100028", "Mia Krystof", 12000)
    assert logged.comment == "I did some work here."


def test_a_page_without_seconds_is_refused_rather_than_billed_from_its_wording():
    # Jira of 2012 gave "18w 2d"; how long a week is depends on the site's settings
    with pytest.raises(MalformedDelivery, match=r"timeSpentSeconds' of worklog 10000"):
        worklog_page(load(REST / "server_worklog_page_without_seconds.json"))


def test_a_site_without_service_management_has_no_organisations_field():
    assert organizations_field(load(REST / "fields_without_organizations.json")) is None


# -- organisations -----------------------------------------------------------------------------
def test_the_organisations_field_is_found_by_its_type_whatever_its_id():
    fields = load(REST / "fields_without_organizations.json") + [
        {"id": "customfield_10555", "key": "customfield_10555", "name": "Organizace", "custom": True,
         "schema": {"type": "array", "items": "sd-customerorganization", "custom": ORGANIZATIONS_TYPE,
                    "customId": 10555}}]
    assert organizations_field(fields) == "customfield_10555"


@pytest.mark.parametrize("answer", [{"fields": []}, ["summary"], [{"schema": {"custom": ORGANIZATIONS_TYPE}}]])
def test_a_fields_answer_not_shaped_like_jiras_is_refused(answer):
    with pytest.raises(MalformedDelivery):
        organizations_field(answer)


def test_the_ticket_is_billed_to_its_organisations_by_name():
    raw = issue(**{ORGS: [{"id": 1, "name": "Pekárna Novák"}, {"id": 7, "name": "Novák a syn"}],
                   "reporter": {"displayName": "Jana Nováková", "emailAddress": "jana@novak.cz"}})
    worked = ticket(raw)
    assert (worked.organization, worked.reporter) == ("Pekárna Novák, Novák a syn", "Jana Nováková")


@pytest.mark.parametrize("reporter, organization", [
    ({"displayName": "Jana", "emailAddress": "jana@Pekarna-Novak.CZ"}, "pekarna-novak.cz"),
    ({"displayName": "Jana", "emailAddress": ""}, ""),  # Cloud hides it by the user's settings
    ({"displayName": "Jana"}, ""),
    (None, ""),
])
def test_without_an_organisation_the_reporters_domain_stands_for_the_customer(reporter, organization):
    worked = ticket(issue(**{ORGS: [], "reporter": reporter}))
    assert worked.organization == organization


def test_the_reporter_is_named_by_display_name_else_name_else_account_id():
    assert ticket(issue(reporter={"name": "jnovakova", "key": "JIRAUSER1"})).reporter == "jnovakova"
    assert ticket(issue(reporter={"accountId": "qm:1f0c"})).reporter == "qm:1f0c"


@pytest.mark.parametrize("fields, problem", [
    ({ORGS: {"name": "Pekárna"}}, "not a list of organisations"),
    ({ORGS: [{"id": 1}]}, "has no name"),
    ({"summary": 5}, "summary' is not text"),
    ({"reporter": "jana"}, "reporter' is not a user"),
])
def test_fields_not_shaped_like_jiras_are_refused_naming_the_ticket(fields, problem):
    with pytest.raises(MalformedDelivery, match=f"SRV-412.*{problem}"):
        ticket(issue(**fields))


# -- worklogs in a search answer --------------------------------------------------------------
def test_a_search_answer_holding_every_worklog_is_enough():
    raw = issue(worklog={"startAt": 0, "maxResults": 20, "total": 2,
                         "worklogs": [worklog("1"), worklog("2", comment="Výjezd k zákazníkovi")]})
    worked = ticket(raw)
    assert [(w.id, w.seconds, w.comment) for w in worked.worklogs] == [
        ("1", 5400, ""), ("2", 5400, "Výjezd k zákazníkovi")]


@pytest.mark.parametrize("value", [
    None,  # not in the answer: to be read on its own
    {"startAt": 0, "maxResults": 20, "total": 21, "worklogs": [worklog(str(n)) for n in range(20)]},
    {"startAt": 5, "maxResults": 20, "total": 5, "worklogs": []},
])
def test_a_search_answer_cut_short_says_the_worklogs_must_be_read(value):
    raw = issue() if value is None else issue(worklog=value)
    assert searched_worklogs(raw["fields"], "SRV-412") is None


def test_a_worklog_listed_twice_is_billed_once_as_last_read():
    found = searched(issue(), with_history=False)
    worked = worked_ticket(found, [worklog_of(worklog("1", 60)), worklog_of(worklog("2")),
                                   worklog_of(worklog("1", 120))], None)
    assert [(w.id, w.seconds) for w in worked.worklogs] == [("1", 120), ("2", 5400)]


@pytest.mark.parametrize("entry, problem", [
    (worklog(seconds=-60), "timeSpentSeconds"),
    (worklog(seconds=True), "timeSpentSeconds"),
    ({**worklog(), "timeSpentSeconds": "3600"}, "timeSpentSeconds"),
    ({**worklog(), "id": None}, "id' is missing"),
    ({**worklog(), "started": "2026-11-20T09:00:00"}, "not a time with an offset"),
    ({**worklog(), "author": "petr"}, "author' is not a user"),
    ("10100", "is not an object"),
])
def test_a_worklog_finance_could_not_bill_from_is_refused(entry, problem):
    with pytest.raises(MalformedDelivery, match=problem):
        worklog_of(entry)


def test_a_page_without_its_total_or_list_is_refused():
    with pytest.raises(MalformedDelivery, match="total"):
        worklog_page({"worklogs": []})
    with pytest.raises(MalformedDelivery, match="worklogs' is not a list"):
        worklog_page({"total": 0, "worklogs": None})
