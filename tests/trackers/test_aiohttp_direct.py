"""Tracker calls over the network path: a real aiohttp server on loopback, answers read whole
(and decoded), failures mapped as the rest of the bridge expects them."""

from __future__ import annotations

import asyncio
import gzip
import socket

import httpx
import orjson
import pytest
from aiohttp import web

from bridge.trackers.aiohttp_direct import DirectAiohttpTransport
from bridge.trackers.base import TrackerRejected, TrackerUnavailable
from bridge.trackers.http import RestClient, send_once


@pytest.fixture
async def server():
    seen: list[dict] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"method": request.method, "path": request.path_qs, "body": body,
                     "headers": dict(request.headers)})
        return web.json_response({"ok": True, "got": orjson.loads(body) if body else None})

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"key": "SRV-1"}'), content_type="application/json",
                            headers={"Content-Encoding": "gzip"})

    async def refused(request: web.Request) -> web.Response:
        return web.json_response({"errorMessages": ["Issue does not exist"]}, status=404)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/rest/api/3/echo", echo)
    app.router.add_get("/rest/api/3/zipped", zipped)
    app.router.add_get("/rest/api/3/missing", refused)
    app.router.add_get("/rest/api/3/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def client(url: str, timeout: float = 5.0) -> RestClient:
    return RestClient(url, transport=DirectAiohttpTransport(), user="bridge@example.com", token="t0k",
                      timeout=timeout)


async def test_a_call_carries_its_query_body_and_credentials_and_its_answer_comes_whole(server):
    url, seen = server
    rest = client(url)
    try:
        answer = await rest.request("POST", "/rest/api/3/echo", params={"expand": "transitions"},
                                    json={"transition": {"id": "31"}})
    finally:
        await rest.aclose()
    assert answer.status_code == 200 and answer.json() == {"ok": True, "got": {"transition": {"id": "31"}}}
    (call,) = seen
    assert call["path"] == "/rest/api/3/echo?expand=transitions"
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["Authorization"].startswith("Basic ")


async def test_a_compressed_answer_is_decoded(server):
    url, _ = server
    rest = client(url)
    try:
        answer = await rest.request("GET", "/rest/api/3/zipped")
    finally:
        await rest.aclose()
    assert answer.json() == {"key": "SRV-1"}


async def test_a_refusal_keeps_the_trackers_words(server):
    url, _ = server
    rest = client(url)
    try:
        with pytest.raises(TrackerRejected, match="404 Issue does not exist"):
            await send_once(rest, "GET", "/rest/api/3/missing")
    finally:
        await rest.aclose()


async def test_no_server_and_no_answer_in_time_are_the_tracker_being_unavailable(server):
    url, _ = server
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    rest = client(f"http://127.0.0.1:{closed}")
    try:
        with pytest.raises(TrackerUnavailable, match="connection refused"):
            await send_once(rest, "GET", "/rest/api/3/echo")
    finally:
        await rest.aclose()
    rest = client(url, timeout=0.3)
    try:
        with pytest.raises(TrackerUnavailable, match="timed out"):
            await send_once(rest, "GET", "/rest/api/3/slow")
    finally:
        await rest.aclose()
