"""The webhook edge for Azure DevOps service hooks: Basic credentials, the event id as the
delivery key, malformed hooks kept, and Jira's deliveries beside them unchanged."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import orjson
import pytest

from bridge.store import PENDING, REJECTED, InboxWriter, Store, create_db_engine, migrate
from bridge.web.hooks import BasicPassword, CredentialsError, devops_hook
from bridge.web.intake import WebhookIntake
from tests.conftest import FIXTURES
from tests.databases import database_url

PASSWORD = "hook-password-from-the-subscription"
JIRA_SECRET = b"It's a Secret to Everybody"
HOOK = (FIXTURES / "azure-devops" / "servicehook_workitem_updated_done.json").read_bytes()
EVENT_ID = "a3f1e9b2-7c44-4d0e-8a51-2b6c9d0e1f23"  # the hook's top-level id
JIRA_BODY = (FIXTURES / "jira" / "customer_forbidden_transition.json").read_bytes()


def work_item_event(payload: dict) -> str | None:
    """The envelope check the Azure DevOps adapter brings, as far as the edge cares."""
    event = payload.get("eventType")
    if not isinstance(event, str) or not event.startswith("workitem."):
        return f"not a work item event: eventType is {event!r}"
    return None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def fallback(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"fallback"})


@pytest.fixture(params=["sqlite", "postgresql"])
async def edge(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        writer = InboxWriter(engine)
        writer.start()
        app = WebhookIntake(
            fallback, writer, max_body_bytes=8192,
            secrets={"jira": JIRA_SECRET},
            hooks={"devops": devops_hook(PASSWORD.encode())},
            envelope_checks={"devops": work_item_event},
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            yield client, Store(engine)
        writer.stop()
        engine.dispose()


def deliver(client: httpx.AsyncClient, body: bytes = HOOK, password: str | None = PASSWORD, **headers: str):
    sent = {"content-type": "application/json; charset=utf-8", **headers}
    if password is not None:
        sent["authorization"] = basic("", password)
    return client.post("/webhooks/devops", content=body, headers=sent)


async def test_a_hook_with_the_password_is_stored_under_its_event_id(edge):
    client, store = edge
    r = await deliver(client)
    assert r.status_code == 200 and r.json() == {"status": "accepted", "delivery": EVENT_ID}
    (row,) = store.list_deliveries(PENDING, include_body=True)
    assert row["tracker"] == "devops" and row["delivery_key"] == EVENT_ID
    assert row["body"].encode() == HOOK


async def test_the_credentials_are_not_kept_with_the_delivery(edge):
    client, store = edge
    await deliver(client)
    (row,) = store.list_deliveries(PENDING, include_body=True)
    assert "authorization" not in row["headers"]
    assert not any("Basic" in value for value in row["headers"].values())


async def test_any_user_name_goes_with_the_right_password(edge):
    client, _ = edge
    r = await deliver(client, password=None, authorization=basic("azure-devops", PASSWORD))
    assert r.status_code == 200


@pytest.mark.parametrize(
    "authorization,reason",
    [
        (None, "missing HTTP Basic credentials"),
        (basic("", "guess"), "wrong password"),
        (basic("", PASSWORD + "x"), "wrong password"),
        (basic("", PASSWORD[:-1]), "wrong password"),
        ("Bearer " + PASSWORD, "Basic scheme"),
        ("Basic not-base64!", "base64 of 'user:password'"),
        ("Basic " + base64.b64encode(PASSWORD.encode()).decode(), "base64 of 'user:password'"),
    ],
)
async def test_a_hook_without_the_password_is_401_asking_for_basic_and_not_stored(edge, authorization, reason):
    client, store = edge
    extra = {"authorization": authorization} if authorization else {}
    r = await deliver(client, password=None, **extra)
    assert r.status_code == 401 and reason in r.json()["error"]
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert store.list_deliveries() == []


async def test_a_jira_signature_does_not_open_the_devops_path(edge):
    client, store = edge
    signature = "sha256=" + hmac.new(JIRA_SECRET, HOOK, "sha256").hexdigest()
    r = await deliver(client, password=None, **{"x-hub-signature": signature})
    assert r.status_code == 401 and store.list_deliveries() == []


async def test_a_hook_sent_again_is_stored_once(edge):
    client, store = edge
    for _ in range(3):
        assert (await deliver(client)).json()["delivery"] == EVENT_ID
    assert len(store.list_deliveries()) == 1


async def test_two_events_on_one_item_are_two_deliveries(edge):
    client, store = edge
    other = orjson.loads(HOOK) | {"id": "b4f2e9b2-0000-4d0e-8a51-2b6c9d0e1f24", "notificationId": 32}
    await deliver(client)
    await deliver(client, orjson.dumps(other))
    assert {row["delivery_key"] for row in store.list_deliveries()} == {EVENT_ID, other["id"]}


async def test_a_hook_without_an_event_id_is_told_apart_by_its_body(edge):
    client, store = edge
    body = orjson.dumps({k: v for k, v in orjson.loads(HOOK).items() if k != "id"})
    for _ in range(2):
        r = await deliver(client, body)
        assert r.json()["delivery"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert len(store.list_deliveries()) == 1


@pytest.mark.parametrize(
    "body,status,reason",
    [
        (b"<xml/>", 400, "not valid JSON"),
        (b'["workitem.updated"]', 422, "JSON object"),
        (b'{"id": "e-1", "eventType": "git.push", "resource": {}}', 422, "not a work item event"),
        (b'{"id": "e-2", "resource": {}}', 422, "not a work item event"),
    ],
)
async def test_a_hook_that_is_no_work_item_event_is_refused_with_its_reason_and_kept(edge, body, status, reason):
    client, store = edge
    r = await deliver(client, body)
    assert r.status_code == status and reason in r.json()["error"]
    (row,) = store.list_deliveries(REJECTED, include_body=True)
    assert row["tracker"] == "devops" and row["body"].encode() == body
    assert reason in row["last_error"]


async def test_a_malformed_hook_needs_the_password_too(edge):
    client, store = edge
    r = await deliver(client, b"<xml/>", password="wrong")
    assert r.status_code == 401 and store.list_deliveries() == []


async def test_jira_deliveries_beside_it_are_taken_as_before(edge):
    client, store = edge
    signature = "sha256=" + hmac.new(JIRA_SECRET, JIRA_BODY, "sha256").hexdigest()
    headers = {"x-hub-signature": signature, "x-atlassian-webhook-identifier": "d-1"}
    assert (await client.post("/webhooks/jira", content=JIRA_BODY, headers=headers)).status_code == 200
    unsigned = await client.post("/webhooks/jira", content=JIRA_BODY, headers={"authorization": basic("", PASSWORD)})
    assert unsigned.status_code == 401 and "X-Hub-Signature" in unsigned.json()["error"]
    assert "www-authenticate" not in unsigned.headers
    (row,) = store.list_deliveries(PENDING)
    assert (row["tracker"], row["delivery_key"]) == ("jira", "d-1")


async def test_without_a_password_configured_hooks_are_taken_as_they_come(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
    migrate(engine)
    writer = InboxWriter(engine)
    writer.start()
    app = WebhookIntake(fallback, writer, max_body_bytes=8192, hooks={"devops": devops_hook(None)})
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
            assert (await client.post("/webhooks/devops", content=HOOK)).status_code == 200
            assert (await client.post("/webhooks/jira", content=JIRA_BODY)).text == "fallback"
        assert Store(engine).list_deliveries()[0]["delivery_key"] == EVENT_ID
    finally:
        writer.stop()
        engine.dispose()


def test_the_password_check_alone():
    check = BasicPassword("pässword".encode())
    check.verify(basic("", "pässword"), b"")
    with pytest.raises(CredentialsError, match="wrong password"):
        check.verify(basic("", "password"), b"")
