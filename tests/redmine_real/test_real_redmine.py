"""What the bridge relies on in Redmine, shown on a real one (Debian's Redmine 5.0): the bot is
no admin, Redmine lets a customer make the move the workflow forbids, a status change Redmine's
own workflow refuses still answers 204, how searches, pages, time entries, sub-issues and
private notes behave, and what a wrong key and a missing issue answer."""

from __future__ import annotations

import time

import httpx

BOT, CUSTOMER, AGENT = "bridge-bot", "zakaznik", "resitel"


def status_changes(issue: dict) -> list[tuple[str, str, str]]:
    """(user login's name, old status id, new status id) of every status change, oldest first."""
    return [
        (journal["user"]["name"], detail["old_value"], detail["new_value"])
        for journal in issue["journals"]
        for detail in journal["details"]
        if detail["property"] == "attr" and detail["name"] == "status_id"
    ]


def test_the_bots_key_is_not_an_administrators(real_redmine):
    me = real_redmine.client(BOT).get("/users/current.json").json()["user"]
    assert me["login"] == BOT
    assert me.get("admin") is not True


def test_redmine_accepts_a_customers_move_the_workflow_forbids(real_redmine):
    r = real_redmine
    issue = r.create_issue("Tisková sestava")
    for step in ("Realizace", "Na klientovi"):
        assert r.set_status(issue["id"], step, BOT).status_code == 204

    answer = r.set_status(issue["id"], "Hotovo", CUSTOMER)

    assert answer.status_code == 204
    after = r.issue(issue["id"])
    assert after["status"]["name"] == "Hotovo"
    old, new = str(r.statuses["Na klientovi"]), str(r.statuses["Hotovo"])
    assert status_changes(after)[-1] == ("Jana Nováková", old, new)


def test_a_status_change_redmines_workflow_refuses_answers_204_and_changes_nothing(real_redmine):
    r = real_redmine
    refused = r.forbidden_for_bot
    issue = r.create_issue("Uzavřený požadavek", tracker=refused.tracker, status=refused.from_status)

    answer = r.set_status(issue["id"], refused.to_status, BOT, notes="Znovu otevřeno")

    assert (answer.status_code, answer.text) == (204, "")
    after = r.issue(issue["id"])
    assert after["status"]["id"] == refused.from_id
    # The note is kept, without the status change.
    assert after["journals"][-1]["notes"] == "Znovu otevřeno"
    assert status_changes(after) == []


def test_allowed_statuses_follow_the_callers_workflow(real_redmine):
    r = real_redmine
    refused = r.forbidden_for_bot
    issue = r.create_issue("Kdo smí kam", tracker=refused.tracker, status=refused.from_status)

    def allowed(user: str) -> set[str]:
        return {s["name"] for s in r.issue(issue["id"], user=user, include="allowed_statuses")["allowed_statuses"]}

    servis = set(r.tracker_statuses[refused.tracker])
    assert allowed(CUSTOMER) == allowed(AGENT) == servis
    assert allowed(BOT) == servis - {refused.to_status}


def test_updated_on_with_status_star_lists_changed_issues_closed_ones_included(real_redmine):
    r = real_redmine
    before = r.create_issue("Starší")
    # Redmine answers whole seconds and reads `>=T` as "after T minus one second"; on SQLite,
    # which keeps fractions, that lists what changed up to two seconds before T.
    time.sleep(2.1)
    still_open = r.create_issue("Otevřený")
    closed = r.create_issue("Uzavřený")
    assert r.set_status(closed["id"], "Zrušeno", BOT, notes="Duplicita").status_code == 204
    since = still_open["updated_on"]
    assert since > before["updated_on"]

    def listed(**params: str) -> set[int]:
        answer = r.client(BOT).get(
            "/issues.json", params={"project_id": r.project, "updated_on": f">={since}", "limit": 100, **params}
        )
        return {i["id"] for i in answer.json()["issues"]}

    assert listed(status_id="*") >= {still_open["id"], closed["id"]}
    assert before["id"] not in listed(status_id="*")
    assert closed["id"] not in listed()  # without status_id=* only open issues are listed


def test_a_page_holds_at_most_100_issues(real_redmine):
    page = real_redmine.client(BOT).get("/issues.json", params={"status_id": "*", "limit": 1000}).json()
    assert page["limit"] == 100


def test_a_time_entry_needs_an_activity(real_redmine):
    r = real_redmine
    assert not any(a["is_default"] for a in r.activities)  # Redmine's default data marks none
    issue = r.create_issue("Práce")

    without = r.log_time(issue["id"], 1.5, BOT, "2026-11-02", activity_id=None)
    with_activity = r.log_time(issue["id"], 1.5, BOT, "2026-11-02")

    assert (without.status_code, without.json()) == (422, {"errors": ["Activity cannot be blank"]})
    assert with_activity.status_code == 201
    assert with_activity.json()["time_entry"]["activity"]["id"] == r.activity_id
    entries = r.client(CUSTOMER).get("/time_entries.json", params={"issue_id": issue["id"]}).json()
    assert [e["hours"] for e in entries["time_entries"]] == [1.5]


def test_children_lists_sub_issues(real_redmine):
    r = real_redmine
    ticket = r.create_issue("Zgłoszenie: dwa urządzenia", tracker="Zgłoszenie")
    tasks = [r.create_issue(f"Zadanie {n}", tracker="Zgłoszenie", parent_id=ticket["id"]) for n in (1, 2)]

    children = r.issue(ticket["id"], include="children")["children"]

    assert sorted(c["id"] for c in children) == sorted(t["id"] for t in tasks)
    assert r.issue(tasks[0]["id"], include="")["parent"] == {"id": ticket["id"]}


def test_private_notes_are_hidden_from_the_customer(real_redmine):
    r = real_redmine
    issue = r.create_issue("Interní poznámka")
    assert r.add_note(issue["id"], "Jen pro tým", BOT, private=True).status_code == 204
    assert r.add_note(issue["id"], "Pro zákazníka", BOT).status_code == 204

    def notes(user: str) -> list[tuple[str, bool]]:
        return [(j["notes"], j["private_notes"]) for j in r.issue(issue["id"], user=user)["journals"]]

    assert notes(CUSTOMER) == [("Pro zákazníka", False)]
    assert notes(AGENT) == [("Jen pro tým", True), ("Pro zákazníka", False)]


def test_a_wrong_key_is_refused_by_users_current_but_reads_as_anonymous_elsewhere(real_redmine):
    wrong = {"X-Redmine-API-Key": "0" * 40}
    me = httpx.get(f"{real_redmine.url}/users/current.json", headers=wrong)
    real_redmine.create_issue("Neviditelný anonymům")
    listing = httpx.get(f"{real_redmine.url}/issues.json", params={"status_id": "*"}, headers=wrong)

    assert (me.status_code, me.text) == (401, "")
    assert me.headers["www-authenticate"] == 'Basic realm="Redmine API"'
    # No error here: the request is served as the anonymous user, who sees no private issue.
    assert listing.status_code == 200
    assert listing.json()["issues"] == []


def test_a_missing_issue_answers_404_with_an_empty_body_an_unknown_path_with_html(real_redmine):
    client = real_redmine.client(BOT)
    missing = client.get("/issues/999999.json")
    unknown = client.get("/no/such/resource.json")

    assert (missing.status_code, missing.text) == (404, "")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "<title>Redmine 404 error</title>" in unknown.text
