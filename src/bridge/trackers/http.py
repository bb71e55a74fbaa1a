"""The one seam every tracker call goes through: retries and error mapping.

Network failures, 429 and 5xx are retried with exponential backoff; a `Retry-After`
header (seconds or an HTTP date) is honoured, up to the policy's longest wait. Other 4xx
answers are the tracker refusing the call and are not retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from bridge.trackers.base import TrackerRejected, TrackerUnavailable

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 0.5
    backoff_max: float = 30.0

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        return min(self.backoff * 2 ** (state.attempt_number - 1), self.backoff_max)


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


async def send(
    client: httpx.AsyncClient, method: str, url: str, policy: RetryPolicy, **kwargs: Any
) -> httpx.Response:
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=policy.wait,
        retry=retry_if_exception_type(TrackerUnavailable),
        reraise=True,
    ):
        with attempt:
            return await _send_once(client, method, url, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


async def _send_once(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise TrackerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code < 400:
        return response
    detail = _error_detail(response)
    message = f"{method} {url}: {response.status_code} {detail}".strip()
    if response.status_code in RETRYABLE:
        raise TrackerUnavailable(
            message, retry_after=retry_after_seconds(response.headers.get("retry-after"))
        )
    raise TrackerRejected(message)


def _error_detail(response: httpx.Response) -> str:
    """Jira's own error text (errorMessages/errors), short; never the request's headers."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        parts = list(body.get("errorMessages") or []) + [
            f"{k}: {v}" for k, v in (body.get("errors") or {}).items()
        ]
        if parts:
            return "; ".join(str(p) for p in parts)[:500]
    return str(body)[:200]
