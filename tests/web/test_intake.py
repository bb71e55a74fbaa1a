"""The webhook edge: signature, size, shape, durability, dedupe."""

from __future__ import annotations

import hashlib
import hmac
import asyncio
import json

import httpx
import pytest

from bridge.store import PENDING, REJECTED, InboxWriter, Store, create_db_engine, migrate
from bridge.trackers.jira import envelope_problem
from bridge.web.intake import SignatureError, WebhookIntake, verify_signature
from tests.conftest import FIXTURES
from tests.databases import database_url

SECRET = b"It's a Secret to Everybody"
BODY = (FIXTURES / "jira" / "customer_forbidden_transition.json").read_bytes()


def sign(body: bytes, secret: bytes = SECRET, method: str = "sha256") -> str:
    return f"{method}=" + hmac.new(secret, body, method).hexdigest()


def test_jira_documentation_test_vector():
    verify_signature(
        SECRET,
        b"Hello World!",
        "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9",
    )


@pytest.mark.parametrize(
    "header,message",
    [
        (None, "missing"),
        ("a4771c39", "sha256=<hex"),
        ("sha256=xyz", "sha256=<hex"),
        ("md6=abc", "not accepted; accepted: sha256"),
        ("sha256=00", "does not match"),
    ],
)
def test_bad_signatures(header, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature(SECRET, b"Hello World!", header)


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha512"])
def test_the_sender_cannot_choose_another_algorithm(algorithm):
    with pytest.raises(SignatureError, match="not accepted; accepted: sha256$"):
        verify_signature(SECRET, BODY, sign(BODY, method=algorithm))


def test_algorithms_named_by_the_operator_are_read_from_the_header():
    accepted = frozenset({"sha256", "sha512"})
    verify_signature(SECRET, BODY, sign(BODY, method="sha512"), accepted)
    verify_signature(SECRET, BODY, sign(BODY).replace("sha256", "SHA256"), accepted)
    with pytest.raises(SignatureError, match="accepted: sha256, sha512$"):
        verify_signature(SECRET, BODY, sign(BODY, method="sha1"), accepted)


async def fallback(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"fallback"})


@pytest.fixture(params=["sqlite", "postgresql"])
async def edge(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        async for pair in _edge(url):
            yield pair


async def _edge(url: str):
    engine = create_db_engine(url)
    migrate(engine)
    writer = InboxWriter(engine)
    writer.start()
    app = WebhookIntake(
        fallback,
        writer,
        secrets={"jira": SECRET},
        max_body_bytes=4096,
        envelope_checks={"jira": envelope_problem},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        yield client, Store(engine)
    writer.stop()
    engine.dispose()


def headers(body: bytes, delivery: str | None = "d-1", **extra: str) -> dict[str, str]:
    h = {"content-type": "application/json", "x-hub-signature": sign(body)}
    if delivery:
        h["x-atlassian-webhook-identifier"] = delivery
    return h | extra


async def test_signed_delivery_is_stored_before_200(edge):
    client, store = edge
    response = await client.post("/webhooks/jira", content=BODY, headers=headers(BODY))
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "delivery": "d-1"}
    (row,) = store.list_deliveries(PENDING, include_body=True)  # already committed
    assert row["body"].encode() == BODY and row["delivery_key"] == "d-1"
    assert row["headers"]["x-atlassian-webhook-identifier"] == "d-1"


async def test_duplicate_answers_200_and_stores_nothing_new(edge):
    client, store = edge
    for _ in range(3):
        assert (await client.post("/webhooks/jira", content=BODY, headers=headers(BODY))).status_code == 200
    assert len(store.list_deliveries()) == 1


async def test_without_identifier_the_body_hash_dedupes(edge):
    client, store = edge
    for _ in range(2):
        r = await client.post("/webhooks/jira", content=BODY, headers=headers(BODY, delivery=None))
        assert r.json()["delivery"] == "sha256:" + hashlib.sha256(BODY).hexdigest()
    assert len(store.list_deliveries()) == 1


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64])
async def test_missing_or_wrong_signature_is_401_and_not_stored(edge, signature):
    client, store = edge
    h = headers(BODY)
    if signature is None:
        del h["x-hub-signature"]
    else:
        h["x-hub-signature"] = signature
    r = await client.post("/webhooks/jira", content=BODY, headers=h)
    assert r.status_code == 401 and "signature" in r.json()["error"].lower()
    assert store.list_deliveries() == []


async def test_a_refused_algorithm_is_401_naming_the_accepted_one(edge):
    client, store = edge
    r = await client.post("/webhooks/jira", content=BODY, headers=headers(BODY, **{"x-hub-signature": sign(BODY, method="sha1")}))
    assert r.status_code == 401 and r.json()["error"].endswith("accepted: sha256")
    assert store.list_deliveries() == []


async def test_oversized_body_is_413(edge):
    client, store = edge
    big = json.dumps({"webhookEvent": "x", "pad": "a" * 5000}).encode()
    r = await client.post("/webhooks/jira", content=big, headers=headers(big))
    assert r.status_code == 413
    assert store.list_deliveries() == []


async def test_oversized_streamed_body_without_length_is_413(edge):
    client, _ = edge

    async def chunks():
        for _ in range(10):
            yield b"a" * 1000

    r = await client.post("/webhooks/jira", content=chunks(), headers={"x-hub-signature": "sha256=00"})
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body,status,reason",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"a": 1}', 422, "webhookEvent"),
        (b'{"webhookEvent": "jira:issue_updated", "user": {"name": "jana"}}', 422, "'issue.key' is missing"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"id": "10013"}}', 422, "'issue.key' is missing"),
    ],
)
async def test_malformed_body_gets_a_reason_and_is_kept(edge, body, status, reason):
    client, store = edge
    r = await client.post("/webhooks/jira", content=body, headers=headers(body))
    assert r.status_code == status and reason in r.json()["error"]
    (row,) = store.list_deliveries(REJECTED, include_body=True)
    assert row["body"].encode() == body and reason in row["last_error"]


@pytest.mark.parametrize(
    "body",
    [b'{"webhookEvent": "sprint_started", "sprint": {"id": 192}}',
     b'{"webhookEvent": "comment_created", "comment": {"self": "https://j/rest/api/2/issue/10013/comment/1"}}'],
)
async def test_a_delivery_that_carries_no_issue_by_nature_is_taken(edge, body):
    client, store = edge
    r = await client.post("/webhooks/jira", content=body, headers=headers(body))
    assert r.status_code == 200
    assert store.list_deliveries(PENDING)


async def test_other_methods_and_paths(edge):
    client, _ = edge
    assert (await client.get("/webhooks/jira")).status_code == 405
    assert (await client.get("/elsewhere")).text == "fallback"


def hashed(delivery_id: str) -> str:
    return "sha256:" + hashlib.sha256(delivery_id.encode("latin-1")).hexdigest()


@pytest.mark.parametrize("delivery_id", ["d" * 300, "d" * 129, "line\nbreak", "nul\x00byte", "bell\x07"])
async def test_a_delivery_id_unfit_to_be_a_key_is_kept_by_its_hash(edge, delivery_id):
    client, store = edge
    for _ in range(2):
        r = await client.post("/webhooks/jira", content=BODY, headers=headers(BODY, delivery=delivery_id))
        assert r.status_code == 200 and r.json()["delivery"] == hashed(delivery_id)
    (row,) = store.list_deliveries(PENDING)  # the hash dedupes as the id would
    assert row["delivery_key"] == hashed(delivery_id)


async def test_control_characters_are_dropped_from_the_stored_headers(edge):
    client, store = edge
    h = headers(BODY, **{"user-agent": "Atlassian\x00 Webhook\x1b"})
    assert (await client.post("/webhooks/jira", content=BODY, headers=h)).status_code == 200
    (row,) = store.list_deliveries(PENDING, include_body=True)
    assert row["headers"]["user-agent"] == "Atlassian Webhook"


async def test_an_unfit_delivery_id_does_not_fail_the_deliveries_committed_with_it(edge):
    client, store = edge
    ids = [f"d-{i}" for i in range(60)] + ["x" * 300, "nul\x00id"]

    async def post(delivery_id: str) -> int:
        r = await client.post("/webhooks/jira", content=BODY, headers=headers(BODY, delivery=delivery_id))
        return r.status_code

    assert set(await asyncio.gather(*(post(i) for i in ids))) == {200}
    assert len(store.list_deliveries(PENDING, limit=100)) == 62


async def test_a_client_gone_before_its_body_ends_leaves_nothing_behind(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
    migrate(engine)
    writer = InboxWriter(engine)
    writer.start()
    unsigned = WebhookIntake(fallback, writer, secrets={"jira": None}, max_body_bytes=4096)
    messages = iter([
        {"type": "http.request", "body": b'{"webhookEvent": "jira:issue_up', "more_body": True},
        {"type": "http.disconnect"},
    ])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhooks/jira", "headers": []}
    try:
        await unsigned(scope, receive, send)
        assert Store(engine).list_deliveries() == [] and sent == []
    finally:
        writer.stop()
        engine.dispose()
