"""The webhook edge: `POST /webhooks/{tracker}` as a bare ASGI handler.

This is the hot path, so it does only what must happen before the answer: bound the body,
check the signature, check the body is a JSON object, store it durably (group commit) and
answer 200. Everything else happens in the worker. A malformed body is kept in the inbox as
`rejected`, with the reason, for inspection.

Nothing a request carries may fail the commit it shares with other requests: a delivery id
that no key column could hold is replaced by its hash, and control characters (NUL above
all, which PostgreSQL text cannot hold) are dropped from the headers kept.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bridge.store import REJECTED, InboxClosed, Incoming, InboxWriter

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

KEPT_HEADERS = frozenset({
    b"content-type",
    b"user-agent",
    b"x-atlassian-webhook-identifier",
    b"x-atlassian-webhook-retry",
    b"x-atlassian-webhook-flow",
    b"x-hub-signature",
})
DELIVERY_ID_HEADER = "x-atlassian-webhook-identifier"
SIGNATURE_HEADER = "x-hub-signature"
JIRA_SIGNATURE = frozenset({"sha256"})
# Far longer than the ids Jira sends. A longer one is hashed: the idempotency keys of the
# delivery's actions are built from it and must fit their column as well.
MAX_DELIVERY_ID = 128
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class SignatureError(Exception):
    pass


def delivery_key(delivery_id: str | None, body: bytes) -> str:
    """The key deliveries are told apart by: the tracker's delivery id, or `sha256:` and the
    digest of the body when there is none, or of the id when the id is too long to be a key
    or holds control characters."""
    if not delivery_id:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    if len(delivery_id) > MAX_DELIVERY_ID or CONTROL.search(delivery_id):
        return "sha256:" + hashlib.sha256(delivery_id.encode("latin-1")).hexdigest()
    return delivery_id


class ClientGone(Exception):
    """The client disconnected before its body ended: nobody to answer, nothing to keep."""


def verify_signature(
    secret: bytes, body: bytes, header: str | None, accepted: frozenset[str] = JIRA_SIGNATURE
) -> None:
    """Check `X-Hub-Signature: <algorithm>=<hex>` over the raw body; raise SignatureError.

    The header names the algorithm, so whoever sends it would choose how strong the check
    is; only the `accepted` algorithms are tried."""
    if not header:
        raise SignatureError("missing X-Hub-Signature header")
    algorithm, sep, digest = header.partition("=")
    if not sep:
        raise SignatureError("X-Hub-Signature must look like 'sha256=<hex digest>'")
    algorithm = algorithm.strip().lower()
    if algorithm not in accepted:
        raise SignatureError(
            "X-Hub-Signature uses an algorithm that is not accepted; "
            f"accepted: {', '.join(sorted(accepted))}"
        )
    try:
        given = bytes.fromhex(digest.strip())
    except ValueError:
        raise SignatureError("X-Hub-Signature must look like 'sha256=<hex digest>'") from None
    if not hmac.compare_digest(hmac.digest(secret, body, algorithm), given):
        raise SignatureError("signature does not match the body")


class WebhookIntake:
    """Answers `POST /webhooks/<tracker>`; hands every other request to `app`."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        inbox: InboxWriter,
        *,
        secrets: dict[str, bytes | None],
        max_body_bytes: int,
        envelope_checks: dict[str, Callable[[Any], str | None]] | None = None,
        signature_algorithms: frozenset[str] = JIRA_SIGNATURE,
    ) -> None:
        """`secrets`: per tracker, the webhook secret (None: unsigned deliveries accepted).
        `envelope_checks`: per tracker, the adapter's cheap check of a parsed body.
        `signature_algorithms`: those a signature may use."""
        self.app = app
        self.inbox = inbox
        self.secrets = secrets
        self.signature_algorithms = signature_algorithms
        self.envelope_checks = envelope_checks or {}
        self.paths = {f"/webhooks/{name}": name for name in secrets}
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracker = self.paths.get(scope.get("path", "")) if scope["type"] == "http" else None
        if tracker is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "use POST"}, extra=[(b"allow", b"POST")])
            return
        try:
            status, payload = await self._intake(tracker, scope, receive)
        except ClientGone:
            return
        await _answer(send, status, payload)

    async def _intake(self, tracker: str, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        kept: dict[str, str] = {}
        declared = None
        for name, value in scope["headers"]:
            if name in KEPT_HEADERS:
                kept[name.decode()] = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        body = await _read_body(receive, limit)
        if body is None:
            return 413, {"error": f"body larger than {limit} bytes"}

        secret = self.secrets[tracker]
        if secret is not None:
            try:
                verify_signature(
                    secret, body, kept.get(SIGNATURE_HEADER), self.signature_algorithms
                )
            except SignatureError as exc:
                return 401, {"error": str(exc)}

        key = delivery_key(kept.get(DELIVERY_ID_HEADER), body)
        for name, value in kept.items():
            if CONTROL.search(value):
                kept[name] = CONTROL.sub("", value)
        problem = _malformed(body, self.envelope_checks.get(tracker))
        if problem is None:
            item = Incoming(tracker, key, kept, body)
        else:
            item = Incoming(tracker, key, kept, body, state=REJECTED, error=problem[1])
        try:
            await self.inbox.put(item)
        except InboxClosed:
            return 503, {"error": "shutting down; deliver again"}
        except Exception:
            return 503, {"error": "the inbox could not store the delivery; deliver again"}
        if problem is not None:
            return problem[0], {"error": problem[1], "delivery": key}
        return 200, {"status": "accepted", "delivery": key}


def _malformed(
    body: bytes, envelope_check: Callable[[Any], str | None] | None
) -> tuple[int, str] | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return 400, f"body is not valid JSON: {exc}"
    if not isinstance(payload, dict):
        return 422, "body must be a JSON object"
    reason = envelope_check(payload) if envelope_check else None
    return (422, reason) if reason else None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it grows past `limit`; one message is the usual case."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def _answer(
    send: Send, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
