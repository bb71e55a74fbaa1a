"""The webhook edge: `POST /webhooks/{site}` as a bare ASGI handler.

This is the hot path, so it does only what must happen before the answer: bound the body,
authenticate it as its tracker's `Hook` says (a signature, a password), check the body is a
JSON object, store it durably (group commit) and answer 200. Everything else happens in the
worker. A malformed body is kept in the inbox as `rejected`, with the reason, for inspection.

Nothing a request carries may fail the commit it shares with other requests: a delivery id
that no key column could hold is replaced by its hash, and control characters (NUL above
all, which PostgreSQL text cannot hold) are dropped from the headers kept. Credentials are
never kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import orjson

from bridge.store import REJECTED, InboxClosed, Incoming, InboxWriter
from bridge.web.hooks import (
    JIRA_SIGNATURE,
    Hook,
    SignatureError,
    Unauthenticated,
    jira_hook,
    verify_signature,
)

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

WEBHOOKS = "/webhooks/"
# A shared secret sent as it is, by senders that cannot sign (Redmine's webhook plugin).
TOKEN_HEADER = b"x-bridge-token"
# Far longer than the ids trackers send. A longer one is hashed: the idempotency keys of the
# delivery's actions are built from it and must fit their column as well.
MAX_DELIVERY_ID = 128
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

__all__ = ["SignatureError", "WebhookIntake", "delivery_key", "verify_signature"]


def delivery_key(delivery_id: str | None, body: bytes) -> str:
    """The key deliveries are told apart by: the tracker's delivery id, or `sha256:` and the
    digest of the body when there is none, or of the id when the id is too long to be a key
    or holds control characters."""
    if not delivery_id:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    if len(delivery_id) > MAX_DELIVERY_ID or CONTROL.search(delivery_id):
        return "sha256:" + hashlib.sha256(_id_bytes(delivery_id)).hexdigest()
    return delivery_id


def _id_bytes(delivery_id: str) -> bytes:
    """The id as it came: a header's bytes (read as latin-1), or a body's text as UTF-8."""
    try:
        return delivery_id.encode("latin-1")
    except UnicodeEncodeError:
        return delivery_id.encode("utf-8", "surrogatepass")


class ClientGone(Exception):
    """The client disconnected before its body ended: nobody to answer, nothing to keep."""


class WebhookIntake:
    """Answers `POST /webhooks/<tracker>`; hands every other request to `app`."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        inbox: InboxWriter,
        *,
        max_body_bytes: int,
        secrets: Mapping[str, bytes | None] | None = None,
        envelope_checks: Mapping[str, Callable[[Any], str | None]] | None = None,
        signature_algorithms: frozenset[str] = JIRA_SIGNATURE,
        hooks: Mapping[str, Hook] | None = None,
    ) -> None:
        """`hooks`: per tracker, how its deliveries are authenticated, told apart and
        checked. `secrets`: per tracker taking Jira's kind of deliveries, its webhook secret
        (None: unsigned deliveries accepted), signed with one of `signature_algorithms`.
        `envelope_checks`: per tracker, the adapter's cheap check of a parsed body, for a
        hook that brings none of its own."""
        checks = envelope_checks or {}
        self.hooks: dict[str, Hook] = {
            name: jira_hook(secret, None, signature_algorithms)
            for name, secret in (secrets or {}).items()
        }
        self.hooks.update(hooks or {})
        for name, hook in self.hooks.items():
            if hook.envelope_check is None and name in checks:
                self.hooks[name] = replace(hook, envelope_check=checks[name])
        self.app = app
        self.inbox = inbox
        self.paths = {f"/webhooks/{name}": name for name in self.hooks}
        self.max_body_bytes = max_body_bytes

    def _route(self, path: str, raw_path: bytes | None = None) -> tuple[str | None, str | None]:
        """The site a path delivers to, and the secret token the path carries after it
        (`/webhooks/{site}/{token}`: for senders that can neither sign nor set a header).
        The token is all that follows the site's name in the path as sent (`raw_path`),
        decoded once: a secret holding `/` is whole, whether sent as it is or as `%2F`."""
        site = self.paths.get(path)
        if site is not None or not path.startswith(WEBHOOKS):
            return site, None
        sent = raw_path.decode("latin-1") if raw_path else path
        if not sent.startswith(WEBHOOKS):
            return None, None
        name, _, token = sent[len(WEBHOOKS):].partition("/")
        site = self.paths.get(WEBHOOKS + unquote(name))
        return (site, unquote(token)) if site is not None and token else (None, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracker, token = (
            self._route(scope.get("path", ""), scope.get("raw_path")) if scope["type"] == "http" else (None, None)
        )
        if tracker is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "use POST"}, extra=[(b"allow", b"POST")])
            return
        try:
            status, payload = await self._intake(tracker, scope, receive, token)
        except ClientGone:
            return
        except Unauthenticated as exc:
            challenge = [(b"www-authenticate", exc.challenge.encode())] if exc.challenge else []
            await _answer(send, 401, {"error": str(exc)}, extra=challenge)
            return
        await _answer(send, status, payload)

    async def _intake(
        self, tracker: str, scope: Scope, receive: Receive, token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """`token`: a secret given in the path; like one in an `X-Bridge-Token` header, it
        is handed to the site's authentication as `token=<value>` when no proof came in its
        own header."""
        hook = self.hooks[tracker]
        proof_header = hook.authentication.header if hook.authentication else None
        kept: dict[str, str] = {}
        declared = proof = None
        kept_headers = hook.kept
        for name, value in scope["headers"]:
            if name in kept_headers:
                kept[name.decode()] = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
            if name == proof_header:
                proof = value.decode("latin-1")
            elif name == TOKEN_HEADER and token is None:
                token = value.decode("latin-1")
        if proof is None and token is not None:
            proof = f"token={token}"
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return 413, {"error": f"body larger than {limit} bytes"}
        body = await _read_body(receive, limit)
        if body is None:
            return 413, {"error": f"body larger than {limit} bytes"}
        if hook.authentication is not None:
            hook.authentication.verify(proof, body)

        payload, problem = _parsed(body, hook.envelope_check)
        key = delivery_key(hook.delivery_id(kept, payload), body)
        for name, value in kept.items():
            if CONTROL.search(value):
                kept[name] = CONTROL.sub("", value)
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


def _parsed(
    body: bytes, envelope_check: Callable[[Any], str | None] | None
) -> tuple[Any, tuple[int, str] | None]:
    """The parsed body (None: not JSON), and what is wrong with it as a delivery, if anything."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, (400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return payload, (422, "body must be a JSON object")
    reason = envelope_check(payload) if envelope_check else None
    return payload, ((422, reason) if reason else None)


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
