"""Redmine's deliveries at the webhook edge: Redmine's signature or the URL's token checked
in constant time, a resend told apart by its journal, a body of another shape refused."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from bridge.store import (
    PENDING,
    REJECTED,
    InboxWriter,
    Store,
    create_db_engine,
    migrate,
)
from bridge.trackers.redmine_hooks import SIGNATURE_HEADER, redmine_hook
from bridge.web.hooks import SignatureError
from bridge.web.intake import WebhookIntake
from tests.conftest import FIXTURES
from tests.databases import database_url

SECRET = b"It's a Secret to Everybody"
BODY = (FIXTURES / "redmine" / "webhooks" / "native_customer_status_change.json").read_bytes()
PLUGIN = (FIXTURES / "redmine" / "webhooks" / "plugin_customer_status_change.json").read_bytes()


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def test_redmines_own_test_vector():
    """Redmine's test/unit/webhook_test.rb checks its signature against GitHub's example."""
    check = redmine_hook(SECRET).authentication
    assert check is not None and check.header == SIGNATURE_HEADER == b"x-redmine-signature-256"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    check.verify(expected, b"Hello, World!")


@pytest.mark.parametrize("proof,message", [
    (None, "missing X-Redmine-Signature-256"),
    ("sha256=" + "0" * 64, "does not match"),
    ("sha256=zz", "sha256=<hex digest>"),
    ("sha1=" + "0" * 40, "sha256=<hex digest>"),
    ("token=It's a secret", "wrong webhook token"),
    ("It's a Secret to Everybody", "sha256=<hex digest>"),
])
def test_what_is_refused(proof, message):
    with pytest.raises(SignatureError, match=message):
        redmine_hook(SECRET).authentication.verify(proof, BODY)


def test_the_urls_token_is_taken_as_proof():
    redmine_hook(SECRET).authentication.verify("token=It's a Secret to Everybody", PLUGIN)


def test_unsigned_when_no_secret_is_set():
    assert redmine_hook(None).authentication is None


@pytest.fixture
async def edge(tmp_path):
    with database_url("sqlite", tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        writer = InboxWriter(engine)
        writer.start()

        async def fallback(scope, receive, send):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        app = WebhookIntake(fallback, writer, max_body_bytes=65536, hooks={"redmine": redmine_hook(SECRET)})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
            yield client, Store(engine)
        writer.stop()
        engine.dispose()


async def test_a_signed_delivery_is_kept_by_its_journal_and_a_resend_dedupes(edge):
    client, store = edge
    for _ in range(2):
        response = await client.post("/webhooks/redmine", content=BODY,
                                     headers={"x-redmine-signature-256": sign(BODY)})
        assert response.status_code == 200
        assert response.json() == {"status": "accepted", "delivery": "redmine-journal-23"}
    assert [row["delivery_key"] for row in store.list_deliveries(PENDING)] == ["redmine-journal-23"]


async def test_a_wrong_signature_is_401_and_nothing_is_kept(edge):
    client, store = edge
    response = await client.post("/webhooks/redmine", content=BODY,
                                 headers={"x-redmine-signature-256": sign(BODY, b"other")})
    assert response.status_code == 401
    assert store.list_deliveries() == []


async def test_a_body_of_another_shape_is_422_and_kept_with_the_reason(edge):
    client, store = edge
    body = b'{"webhookEvent": "jira:issue_updated"}'
    response = await client.post("/webhooks/redmine", content=body, headers={"x-redmine-signature-256": sign(body)})
    assert response.status_code == 422
    assert "not a Redmine webhook delivery" in response.json()["error"]
    assert len(store.list_deliveries(REJECTED)) == 1


async def test_a_token_in_the_path_is_read_as_sent_so_it_may_hold_a_slash(tmp_path):
    """A base64 secret holds `/`, `+` and `=`; in the webhook URL it is percent-encoded
    (`%2F`), which the path the server hands on has already decoded."""
    secret = "q7Hf/3kP+zR9=="
    with database_url("sqlite", tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        writer = InboxWriter(engine)
        writer.start()

        async def fallback(scope, receive, send):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        app = WebhookIntake(fallback, writer, max_body_bytes=65536, hooks={"redmine": redmine_hook(secret.encode())})
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
                taken = await client.post("/webhooks/redmine/q7Hf%2F3kP%2BzR9%3D%3D", content=PLUGIN)
                wrong = await client.post("/webhooks/redmine/q7Hf%2F3kP%2BzR9%3D", content=PLUGIN)
                split = await client.post("/webhooks/redmine/q7Hf/3kP+zR9==", content=PLUGIN)
        finally:
            writer.stop()
            engine.dispose()
    assert taken.status_code == 200, taken.text
    assert wrong.status_code == 401
    assert split.status_code == 200  # pasted into the URL as it is: the same token
