"""What the webhook edge knows of each tracker's deliveries: how a sender proves it is the
tracker, how repeated deliveries are told apart, and the adapter's cheap check of a body.

Trackers differ in all three. Jira signs the body (`X-Hub-Signature`, HMAC with a shared
secret) and names each delivery in a header; Azure DevOps service hooks carry no signature,
only HTTP Basic credentials set on the subscription, and name the event in the body's `id`,
which its retries repeat. The edge runs whatever its `Hook` says, with no I/O: a header
value and the raw body in, a typed error out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

JIRA_SIGNATURE = frozenset({"sha256"})
JIRA_DELIVERY_ID = "x-atlassian-webhook-identifier"


class Unauthenticated(Exception):
    """The delivery does not prove it comes from the tracker (answered 401). `challenge`:
    the `WWW-Authenticate` value that tells the sender which credentials to send."""

    challenge: str | None = None


class SignatureError(Unauthenticated):
    pass


class CredentialsError(Unauthenticated):
    challenge = 'Basic realm="ticket-bridge", charset="UTF-8"'


class Authentication(Protocol):
    header: bytes  # the request header (lower case) that carries the proof

    def verify(self, proof: str | None, body: bytes) -> None:
        """Raise `Unauthenticated` unless `proof` (the header's value) vouches for `body`."""


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


@dataclass(frozen=True)
class HubSignature:
    """An HMAC of the body in `X-Hub-Signature`, made with the webhook's secret (Jira)."""

    secret: bytes
    accepted: frozenset[str] = JIRA_SIGNATURE
    header: bytes = b"x-hub-signature"

    def verify(self, proof: str | None, body: bytes) -> None:
        verify_signature(self.secret, body, proof, self.accepted)


@dataclass(frozen=True)
class BasicPassword:
    """HTTP Basic credentials whose password is the shared secret; the user name is not
    checked, since it proves nothing a sender of the password could not also send (Azure
    DevOps service hooks). The body is not covered: only TLS keeps it as it was sent."""

    password: bytes
    header: bytes = b"authorization"

    def verify(self, proof: str | None, body: bytes) -> None:
        if not proof:
            raise CredentialsError("missing HTTP Basic credentials (Authorization header)")
        scheme, _, encoded = proof.strip().partition(" ")
        if scheme.lower() != "basic":
            raise CredentialsError("Authorization must use the Basic scheme")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsError("HTTP Basic credentials must be base64 of 'user:password'") from None
        _, sep, password = decoded.partition(b":")
        if not sep:
            raise CredentialsError("HTTP Basic credentials must be base64 of 'user:password'")
        if not hmac.compare_digest(password, self.password):
            raise CredentialsError("wrong password in the HTTP Basic credentials")


DeliveryId = Callable[[Mapping[str, str], Any], "str | None"]


def header_delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    """Jira's id of a delivery, sent again unchanged when it retries."""
    return headers.get(JIRA_DELIVERY_ID)


def body_delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    """The body's top-level `id`: Azure DevOps' id of the event, the same in its retries."""
    found = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(found, bool) or not isinstance(found, str | int):
        return None
    return str(found)


# Request headers kept with every delivery, for inspection; a tracker's hook adds its own.
KEPT_HEADERS = frozenset({b"content-type", b"user-agent"})
JIRA_HEADERS = KEPT_HEADERS | {
    b"x-atlassian-webhook-identifier",
    b"x-atlassian-webhook-retry",
    b"x-atlassian-webhook-flow",
    b"x-hub-signature",
}


@dataclass(frozen=True)
class Hook:
    """How one tracker's deliveries are authenticated (None: not at all), told apart, and
    checked cheaply (None: any JSON object is taken); `kept`: the request headers stored
    with each delivery (never credentials)."""

    authentication: Authentication | None
    delivery_id: DeliveryId = header_delivery_id
    envelope_check: Callable[[Any], str | None] | None = None
    kept: frozenset[bytes] = KEPT_HEADERS


def jira_hook(
    secret: bytes | None,
    envelope_check: Callable[[Any], str | None] | None = None,
    algorithms: frozenset[str] = JIRA_SIGNATURE,
) -> Hook:
    """Jira's deliveries: signed with `secret` (None: taken unsigned), named in a header."""
    signature = HubSignature(secret, algorithms) if secret is not None else None
    return Hook(signature, header_delivery_id, envelope_check, JIRA_HEADERS)


def devops_hook(
    password: bytes | None, envelope_check: Callable[[Any], str | None] | None = None
) -> Hook:
    """Azure DevOps service hooks: Basic credentials whose password is `password` (None:
    taken without), named by the event id in the body."""
    credentials = BasicPassword(password) if password is not None else None
    return Hook(credentials, body_delivery_id, envelope_check)
