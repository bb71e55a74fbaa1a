"""The tracker calls' network path: aiohttp, with each answer read whole.

`RestClient` hands a call to this transport as it is (method, URL, headers, body) instead of
as an `httpx.Request`, and gets back an `httpx.Response` holding the whole body. Building the
request object and streaming the answer through httpx's async iterators cost more than the
rest of a call's Python (bench/README.md, "Where a revert's CPU goes"). Every other transport
(the tests' fakes, the ASGI stand-ins) still takes `httpx.Request`s; aiohttp's failures are
mapped to httpx's errors the same way `httpx_aiohttp` maps them.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from aiohttp import ClientSession, ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions


class DirectAiohttpTransport(AiohttpTransport):
    """An `httpx_aiohttp` transport that also takes a call without an `httpx.Request`."""

    async def send_direct(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: ClientTimeout,
    ) -> httpx.Response:
        """One call, its answer read whole (still encoded, as httpx decodes it)."""
        if not isinstance(self.client, ClientSession):
            self.client = self.get_client()
        client = self.client
        with map_aiohttp_exceptions():
            async with client.request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=timeout,
            ) as answer:
                body = await answer.read()
        return httpx.Response(answer.status, headers=answer.raw_headers, content=body)
