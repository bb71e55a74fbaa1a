"""The one seam every tracker call goes through: the REST client, retries, error mapping.

Reads are retried on network failures, 429 and 5xx with exponential backoff; a
`Retry-After` header (seconds or an HTTP date) is honoured, up to the policy's longest wait.
Changes are sent once per attempt and retried by the executor, which first looks whether
the tracker applied them. Other 4xx answers are the tracker refusing the call and are not
retried; so is a redirect, which means the configured base URL is not the API's.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson
from aiohttp import ClientTimeout
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from bridge.trackers.aiohttp_direct import DirectAiohttpTransport
from bridge.trackers.base import TrackerRejected, TrackerUnauthorized, TrackerUnavailable

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def segment(value: str) -> str:
    """`value` as exactly one path segment, whatever it holds: every character that would
    end it, start a query or fragment (`/`, `?`, `#`, `%`…) is percent-encoded, and so are the
    dots of `.` and `..`, which would otherwise climb to another path."""
    if not value:
        raise ValueError("a path segment cannot be empty")
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


class RestClient:
    """A tracker's REST API: base URL, credentials and timeout, over one httpx transport.

    Requests are built here and handed straight to the transport. A tracker's API needs no
    cookies, redirects or per-call auth flow, and leaving out `httpx.AsyncClient`'s handling
    of them halves the CPU a call costs (bench/README.md, "What the figures taught"). On the
    network path (`DirectAiohttpTransport`) not even an `httpx.Request` is built. The
    credentials live in the headers only, never in a URL, so no error text can carry them.
    A value put into a path goes through `segment`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        user: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        user_agent: str = "ticket-bridge",
        basic: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`basic`: the token goes as the password of HTTP Basic even with no user name, as
        Azure DevOps takes a personal access token; otherwise a token without a user is a
        bearer token. `headers`: sent with every call besides, as Redmine takes its API key
        in `X-Redmine-API-Key`."""
        self.base_url = base_url.rstrip("/")
        self.transport = transport or httpx.AsyncHTTPTransport()
        sent = {"Accept": "application/json", "User-Agent": user_agent}
        if token and (user or basic):
            basic_value = base64.b64encode(f"{user or ''}:{token}".encode()).decode("ascii")
            sent["Authorization"] = f"Basic {basic_value}"
        elif token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        self._headers = sent
        self._json_headers = {**sent, "Content-Type": "application/json"}
        self._extensions = {
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        }
        # the network path takes calls as they are (see `aiohttp_direct`); fakes take requests
        self._direct = self.transport if isinstance(self.transport, DirectAiohttpTransport) else None
        self._direct_timeout = ClientTimeout(sock_connect=timeout, sock_read=timeout, connect=timeout)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One call; the whole answer is read. Raises httpx.TransportError on network failure.
        `content_type`: of a JSON body that is not plain `application/json` (a JSON Patch
        document is `application/json-patch+json`)."""
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params)
        if self._direct is not None:
            if json is None:
                headers, content = self._headers, None
            else:
                headers, content = self._json_headers, orjson.dumps(json)
                if content_type is not None:
                    headers = {**self._headers, "Content-Type": content_type}
            return await self._direct.send_direct(method, url, headers, content, self._direct_timeout)
        if json is None:
            request = httpx.Request(method, url, headers=self._headers, extensions=self._extensions)
        else:
            headers = self._json_headers
            if content_type is not None:
                headers = {**self._headers, "Content-Type": content_type}
            request = httpx.Request(
                method, url, headers=headers, content=orjson.dumps(json), extensions=self._extensions,
            )
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    async def aclose(self) -> None:
        await self.transport.aclose()


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

    def retrying(self) -> AsyncRetrying:
        """Attempts of one call while the tracker is unavailable; other errors end them."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception_type(TrackerUnavailable),
            reraise=True,
        )


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
    client: RestClient, method: str, url: str, policy: RetryPolicy, **kwargs: Any
) -> httpx.Response:
    async for attempt in policy.retrying():
        with attempt:
            return await send_once(client, method, url, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover


_attempts: ContextVar[list[int] | None] = ContextVar("tracker_attempts", default=None)


@contextlib.contextmanager
def counting_attempts() -> Iterator[list[int]]:
    """Count the calls made to the tracker within this block (and this task): `[n]`."""
    counter = [0]
    token = _attempts.set(counter)
    try:
        yield counter
    finally:
        _attempts.reset(token)


async def send_once(client: RestClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One attempt, its answer mapped to the error hierarchy. Changes the tracker makes are
    sent this way: whether a change that timed out was applied must be looked up before it
    is sent again (see `Executor`)."""
    if (counter := _attempts.get()) is not None:
        counter[0] += 1
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise TrackerUnavailable(f"{method} {url}: {transport_problem(exc)}") from None
    if response.status_code < 300:
        return response
    if response.status_code < 400:
        where = response.headers.get("location", "elsewhere")
        raise TrackerRejected(
            f"{method} {url}: {response.status_code} redirected to {where}; "
            "check the tracker's base URL",
            status=response.status_code,
        )
    detail = _error_detail(response)
    message = f"{method} {url}: {response.status_code} {detail}".strip()
    if response.status_code in RETRYABLE:
        raise TrackerUnavailable(
            message,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            status=response.status_code,
        )
    if response.status_code == 401:
        raise TrackerUnauthorized(message, status=401)
    raise TrackerRejected(message, status=response.status_code)


def transport_problem(exc: httpx.TransportError) -> str:
    """What failed on the way to the tracker, in words an admin can act on. (The aiohttp
    transport reports every failure to connect as a timeout; its cause says what it was.)"""
    cause = exc.__cause__ or exc
    os_error = getattr(cause, "os_error", None)
    if isinstance(os_error, ssl.SSLCertVerificationError):
        return f"TLS: certificate not trusted ({os_error.verify_message})"
    if isinstance(os_error, ssl.SSLError):
        return f"TLS: {os_error.reason or os_error}"
    if isinstance(os_error, socket.gaierror):
        return f"host name not found ({os_error.strerror})"
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(os_error, OSError):
        return f"cannot connect ({os_error.strerror or os_error})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _error_detail(response: httpx.Response) -> str:
    """The tracker's own error text, short; never the request's headers. Jira says it in
    `errorMessages`/`errors`, Redmine in `errors` as a list, Azure DevOps in `message`
    (`TF401232: Work item 5 does not exist…`), whose code callers look for."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        errors = body.get("errors") or {}
        parts = list(body.get("errorMessages") or [])
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        elif isinstance(errors, list):  # Redmine: {"errors": ["Status is invalid"]}
            parts += [str(e) for e in errors]
        if isinstance(body.get("message"), str) and body["message"]:
            parts.append(body["message"])
        if parts:
            return "; ".join(str(p) for p in parts)[:500]
    return str(body)[:200]
