"""The test plugin's deliveries (redmine_webhook's shape) from the real Redmine: one per saved
change, with the journal's details as that plugin names them."""

from __future__ import annotations

from tests.redmine_real.hooks import HookRelay

BOT, CUSTOMER = "bridge-bot", "zakaznik"


def test_creating_an_issue_posts_opened_with_the_issue_and_its_url(real_redmine):
    r = real_redmine
    issue = r.create_issue("Nový požadavek", pbi="PBI 4711")

    delivery = r.hooks.wait_for(lambda d: d.payload["issue"]["id"] == issue["id"])

    payload = delivery.payload
    assert delivery.headers["Content-Type"] == "application/json"
    assert payload["action"] == "opened"
    assert "journal" not in payload
    assert payload["url"] == f"{r.url}/issues/{issue['id']}"
    assert payload["issue"]["status"] == {"id": r.statuses["Nový"], "name": "Nový"}
    assert payload["issue"]["tracker"] == {"id": r.trackers["Servis"], "name": "Servis"}
    assert payload["issue"]["project"]["identifier"] == r.project
    assert payload["issue"]["author"]["login"] == BOT
    assert {"custom_field_id": r.pbi_field_id, "custom_field_name": "PBI", "value": "PBI 4711"} in payload[
        "issue"
    ]["custom_field_values"]


def test_a_customers_status_change_posts_once_with_the_status_detail(real_redmine):
    r = real_redmine
    issue = r.create_issue("Schválení", status="Ke schválení")
    r.hooks.wait_for(lambda d: d.payload["issue"]["id"] == issue["id"])

    assert r.set_status(issue["id"], "Hotovo", CUSTOMER, notes="Děkuji").status_code == 204
    # A later change by the bot marks the end of what the customer's change caused.
    assert r.add_note(issue["id"], "konec", BOT).status_code == 204
    r.hooks.wait_for(lambda d: d.payload["issue"]["id"] == issue["id"] and d.journal.get("notes") == "konec")

    by_customer = [
        d.payload for d in r.hooks.for_issue(issue["id"])
        if d.payload["action"] == "updated" and d.journal["author"]["login"] == CUSTOMER
    ]
    assert len(by_customer) == 1
    journal = by_customer[0]["journal"]
    assert journal["notes"] == "Děkuji"
    assert [(d["property"], d["prop_key"], d["old_value"], d["value"]) for d in journal["details"]] == [
        ("attr", "status_id", str(r.statuses["Ke schválení"]), str(r.statuses["Hotovo"]))
    ]
    assert by_customer[0]["issue"]["status"]["name"] == "Hotovo"


def test_deliveries_are_passed_on_to_the_url_a_test_sets(real_redmine):
    r = real_redmine
    target = HookRelay()  # stands in for the bridge's webhook endpoint
    r.hooks.forward_to = target.url
    try:
        issue = r.create_issue("Předáno dál")
        delivery = r.hooks.wait_for(lambda d: d.payload["issue"]["id"] == issue["id"])
        passed_on = target.wait_for(lambda d: d.payload["issue"]["id"] == issue["id"])
    finally:
        r.hooks.forward_to = None
        target.close()
    assert delivery.forwarded_status == 200
    assert passed_on.body == delivery.body
    assert passed_on.headers["Content-Type"] == "application/json"
