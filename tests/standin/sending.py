"""Sending a stand-in's webhooks: each POST recorded, with how it was answered, for the
tests to read back (both stand-ins deliver this way)."""

from __future__ import annotations

import time
from typing import Any

import httpx


async def deliver(
    transport: httpx.AsyncBaseTransport | None,
    deliveries: list[dict[str, Any]],
    url: str,
    raw: bytes,
    sent_with: dict[str, str],
    **record: Any,
) -> None:
    """POST `raw` to `url` with the headers `sent_with`; the delivery, with `record`'s fields, is listed in `deliveries`
    before it is sent, and its answer (or the error) added once it comes."""
    sent = {"url": url, **record, "status": None, "error": None, "at": time.monotonic()}
    deliveries.append(sent)
    try:
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            response = await client.post(url, content=raw, headers=sent_with)
        sent["status"] = response.status_code
    except httpx.HTTPError as exc:
        sent["error"] = repr(exc)
