"""How the webhook edge takes Redmine's deliveries: authenticated, told apart, checked.

Redmine's own webhooks (Redmine 7) sign the body as GitHub does: `X-Redmine-Signature-256:
sha256=<hex HMAC-SHA256 of the body with the webhook's secret>` (app/models/webhook.rb,
`Webhook::Executor#compute_signature`). The redmine_webhook plugin signs nothing and sends
no header of its own, so its URL carries a secret token instead (in the path, or in an
`X-Bridge-Token` header from a proxy); the intake hands that token to the same check as
`token=<value>`. Both are compared in constant time. Deliveries are told apart by the
journal they carry (see `redmine_parsing.delivery_id`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from bridge.trackers.redmine_parsing import delivery_id, envelope_problem
from bridge.web.hooks import Hook, SignatureError

SIGNATURE_HEADER = b"x-redmine-signature-256"

__all__ = ["SIGNATURE_HEADER", "RedmineSignature", "delivery_id", "envelope_problem", "redmine_hook"]


@dataclass(frozen=True)
class RedmineSignature:
    """`sha256=<hex HMAC-SHA256(secret, body)>` (Redmine's webhooks) or `token=<secret>`
    (the plugin's URL token); either proves the delivery comes from the Redmine."""

    secret: bytes
    header: bytes = SIGNATURE_HEADER

    def verify(self, proof: str | None, body: bytes) -> None:
        if not proof:
            raise SignatureError(
                "missing X-Redmine-Signature-256 header (or the webhook URL's secret token)"
            )
        scheme, sep, value = proof.strip().partition("=")
        scheme = scheme.strip().lower()
        if sep and scheme == "sha256":
            try:
                given = bytes.fromhex(value.strip())
            except ValueError:
                raise SignatureError("X-Redmine-Signature-256 must look like 'sha256=<hex digest>'") from None
            if not hmac.compare_digest(hmac.digest(self.secret, body, "sha256"), given):
                raise SignatureError("signature does not match the body")
            return
        if sep and scheme == "token":
            if not hmac.compare_digest(value.encode("utf-8", "surrogateescape"), self.secret):
                raise SignatureError("wrong webhook token")
            return
        raise SignatureError("X-Redmine-Signature-256 must look like 'sha256=<hex digest>'")


def redmine_hook(secret: bytes | None) -> Hook:
    """Redmine's deliveries: signed or carrying the token `secret` (None: taken as they
    come), told apart by their journal, checked by their shape."""
    authentication = RedmineSignature(secret) if secret is not None else None
    return Hook(authentication, delivery_id, envelope_problem)
