"""The webhooks the stand-in sends: the redmine_webhook plugin's body, key for key, unsigned
with the bridge's token, or signed; sent in the background, harmless when the bridge is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from .conftest import put_issue, sample, seed

KEYS = sample("webhook_plugin_keys.json")


def assert_plugin_shape(body: dict) -> None:
    payload = body["payload"]
    assert list(body) == ["payload"]
    assert sorted(payload) == sorted(KEYS[f"payload_{payload['action']}"])
    issue = payload["issue"]
    assert list(issue) == KEYS["issue"]
    for name in ("project", "status", "tracker", "priority"):
        assert list(issue[name]) == KEYS[name]
    assert list(issue["author"]) == KEYS["person"]
    assert all(list(v) == KEYS["custom_field_value"] for v in issue["custom_field_values"])
    assert all(list(w) == KEYS["person"] for w in issue["watchers"])
    if issue["assignee"] is not None:
        assert list(issue["assignee"]) == KEYS["person"]
    if "journal" in payload:
        assert list(payload["journal"]) == KEYS["journal"]
        assert list(payload["journal"]["author"]) == KEYS["person"]
        assert all(list(d) == KEYS["journal_detail"] for d in payload["journal"]["details"])


@pytest.fixture
def hook(redmine):
    async def configure(**options):
        response = await redmine.post("/_standin/webhook", json={"url": "https://bridge.test/webhooks/redmine", **options})
        assert response.status_code == 201, response.text
    return configure


async def test_no_webhook_goes_out_until_one_is_configured(redmine, standin, receiver):
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await put_issue(redmine, made["id"], "zakaznik", status_id=16)
    await standin.drain()
    assert receiver.requests == []


async def test_an_edit_sends_the_plugins_updated_body_with_the_token_in_the_path(redmine, standin, receiver, hook):
    await hook(token="hook-token")
    (made,) = await seed(redmine, {"status": "Na klientovi", "custom_fields": {"PBI": "4711"}})
    await put_issue(redmine, made["id"], "zakaznik", status_id=16, notes="Zavírám.")
    await standin.drain()
    (request,) = receiver.requests
    assert str(request.url) == "https://bridge.test/webhooks/redmine/hook-token"
    assert request.headers["content-type"] == "application/json"
    assert "x-redmine-signature-256" not in request.headers
    body = json.loads(request.content)
    assert_plugin_shape(body)
    payload = body["payload"]
    assert (payload["action"], payload["url"]) == ("updated", f"https://redmine.test/issues/{made['id']}")
    assert payload["issue"]["status"] == {"id": 16, "name": "Hotovo"}
    assert payload["issue"]["custom_field_values"] == [{"custom_field_id": 1, "custom_field_name": "PBI", "value": "4711"}]
    assert payload["journal"]["author"]["login"] == "zakaznik"
    assert payload["journal"]["notes"] == "Zavírám."
    (detail,) = payload["journal"]["details"]
    assert (detail["property"], detail["prop_key"], detail["old_value"], detail["value"]) == ("attr", "status_id", "12", "16")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["journal"]["created_on"])  # Rails' JSON


async def test_creating_sends_opened_without_a_journal(redmine, standin, receiver, hook):
    await hook()
    await redmine.post("/issues.json", json={"issue": {"project_id": "podpora", "subject": "Nový požadavek"}})
    created = (await redmine.post("/_standin/create", json={"user": "zakaznik", "subject": "Z portálu"})).json()
    await standin.drain()
    first, second = receiver.bodies()
    for body in (first, second):
        assert_plugin_shape(body)
        assert body["payload"]["action"] == "opened" and "journal" not in body["payload"]
    assert second["payload"]["issue"]["id"] == created["issue"]["id"]
    assert second["payload"]["issue"]["author"]["login"] == "zakaznik"


async def test_the_stand_ins_bodies_hold_every_key_of_the_plugins_readme_examples(redmine, standin, receiver, hook):
    await hook()
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await put_issue(redmine, made["id"], "zakaznik", status_id=14, notes="Vracím.")
    await redmine.post("/_standin/create", json={"user": "zakaznik", "subject": "Z portálu"})
    await standin.drain()
    updated, opened = receiver.bodies()
    for ours, readme in ((opened, sample("webhook_plugin_readme_opened.json")),
                         (updated, sample("webhook_plugin_readme_updated.json"))):
        assert set(readme["payload"]) == set(ours["payload"])
        assert set(readme["payload"]["issue"]) <= set(ours["payload"]["issue"])
        for name in ("project", "status", "tracker", "priority", "author"):
            assert set(readme["payload"]["issue"][name]) == set(ours["payload"]["issue"][name])


async def test_the_token_may_ride_in_a_header(redmine, standin, receiver, hook):
    await hook(token="hook-token", token_in="header")
    (made,) = await seed(redmine, {})
    await put_issue(redmine, made["id"], "bridgebot", notes="x")
    await standin.drain()
    (request,) = receiver.requests
    assert str(request.url) == "https://bridge.test/webhooks/redmine"
    assert request.headers["x-bridge-token"] == "hook-token"


async def test_the_signed_form_is_verifiable_with_the_secret(redmine, standin, receiver, hook):
    await hook(form="signed", secret="s3cret")
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await put_issue(redmine, made["id"], "zakaznik", status_id=16)
    await standin.drain()
    (request,) = receiver.requests
    expected = "sha256=" + hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-redmine-signature-256"], expected)
    wrong = "sha256=" + hmac.new(b"other", request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-redmine-signature-256"] != wrong
    assert_plugin_shape(json.loads(request.content))


async def test_an_edit_that_changed_nothing_still_sends_a_journal_without_id(redmine, standin, receiver, hook):
    await hook()
    (made,) = await seed(redmine, {"status": "Nový"})
    await put_issue(redmine, made["id"], "zakaznik", status_id=16)  # dropped by the workflow
    await standin.drain()
    (body,) = receiver.bodies()
    assert body["payload"]["issue"]["status"]["name"] == "Nový"
    assert (body["payload"]["journal"]["id"], body["payload"]["journal"]["details"]) == (None, [])


async def test_private_notes_with_a_change_send_the_notes_journal_without_details(redmine, standin, receiver, hook):
    await hook()
    (made,) = await seed(redmine, {"status": "Realizace"})
    await put_issue(redmine, made["id"], "bridgebot", status_id=12, notes="Interní.", private_notes=True)
    await standin.drain()
    (body,) = receiver.bodies()
    journal = body["payload"]["journal"]
    assert (journal["private_notes"], journal["details"]) == (True, [])
    assert body["payload"]["issue"]["status"]["name"] == "Na klientovi"


async def test_skip_webhooks_header_logged_time_and_unhooked_acts_send_nothing(redmine, standin, receiver, hook):
    await hook()
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await redmine.put(f"/issues/{made['id']}.json", json={"issue": {"notes": "x"}}, headers={"X-Skip-Webhooks": "1"})
    await redmine.post(f"/_standin/issues/{made['id']}/time_entries", json={"hours": 1})
    await redmine.post(f"/_standin/issues/{made['id']}/act", json={"user": "zakaznik", "status": "Hotovo", "hook": False})
    await standin.drain()
    assert receiver.requests == []
    assert (await redmine.get("/_standin/issues/%d" % made["id"])).json()["status"] == "Hotovo"


async def test_a_bridge_that_is_down_does_not_break_the_standin(redmine, standin, receiver, hook):
    await hook()
    receiver.down = True
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    assert (await put_issue(redmine, made["id"], "zakaznik", status_id=16)).status_code == 204
    await standin.drain()
    (delivery,) = (await redmine.get("/_standin/webhook/deliveries")).json()
    assert delivery["status"] is None and "ConnectError" in delivery["error"]
    receiver.down = False
    await redmine.post("/_standin/webhook/deliveries/0/resend")
    await standin.drain()
    assert receiver.bodies()[0] == delivery["body"]


async def test_a_signed_form_without_a_secret_is_refused(redmine):
    response = await redmine.post("/_standin/webhook", json={"url": "https://bridge.test/h", "form": "signed"})
    assert response.status_code == 400
