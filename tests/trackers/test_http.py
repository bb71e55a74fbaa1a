"""The REST client every tracker call goes through (HTTP faked with respx)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx
from httpx_aiohttp import AiohttpTransport

from bridge.trackers.base import TrackerRejected, TrackerUnauthorized, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy, send

BASE = "https://jira.test/"
ONCE = RetryPolicy(attempts=1)


@respx.mock
async def test_basic_auth_query_and_json_body_go_out_as_jira_expects():
    route = respx.post("https://jira.test/rest/api/3/issue/SRV-1/transitions").mock(
        return_value=httpx.Response(204)
    )
    client = RestClient(BASE, user="bot@x", token="api-token", user_agent="ticket-bridge/test")
    await client.request(
        "POST", "/rest/api/3/issue/SRV-1/transitions",
        params={"fields": "status,issuetype"}, json={"transition": {"id": "31"}, "note": "Zpět"},
    )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"bot@x:api-token").decode()
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"] == "ticket-bridge/test"
    assert sent.url.params["fields"] == "status,issuetype"
    assert json.loads(sent.content) == {"transition": {"id": "31"}, "note": "Zpět"}


@respx.mock
async def test_a_token_without_user_is_sent_as_bearer():
    route = respx.get("https://jira.test/rest/api/2/myself").mock(
        return_value=httpx.Response(200, json={"name": "bridge"})
    )
    response = await RestClient(BASE, token="pat-123").request("GET", "/rest/api/2/myself")
    assert response.json() == {"name": "bridge"}
    assert route.calls.last.request.headers["authorization"] == "Bearer pat-123"
    assert "content-type" not in route.calls.last.request.headers


@respx.mock
async def test_a_redirect_is_refused_with_a_hint_at_the_base_url():
    respx.get("https://jira.test/rest/api/3/myself").mock(
        return_value=httpx.Response(301, headers={"Location": "https://acme.atlassian.net/rest/api/3/myself"})
    )
    client = RestClient(BASE, user="bot@x", token="api-token")
    with pytest.raises(TrackerRejected) as caught:
        await send(client, "GET", "/rest/api/3/myself", ONCE)
    assert "redirected to https://acme.atlassian.net" in str(caught.value)
    assert "base URL" in str(caught.value)


@respx.mock
async def test_errors_never_carry_the_credentials():
    respx.get("https://jira.test/rest/api/3/myself").mock(side_effect=httpx.ConnectError("refused"))
    respx.get("https://jira.test/rest/api/3/issue/X-1").mock(
        return_value=httpx.Response(401, json={"errorMessages": ["Unauthorized"]})
    )
    client = RestClient(BASE, user="bot@x", token="api-token-secret")
    texts = []
    for path, error in (("/rest/api/3/myself", TrackerUnavailable), ("/rest/api/3/issue/X-1", TrackerUnauthorized)):
        with pytest.raises(error) as caught:
            await send(client, "GET", path, ONCE)
        texts.append(str(caught.value))
    assert "401 Unauthorized" in texts[1]
    encoded = base64.b64encode(b"bot@x:api-token-secret").decode()
    assert not any("api-token-secret" in t or encoded in t for t in texts)


@pytest.fixture(scope="module")
def untrusted_tls(tmp_path_factory) -> Iterator[int]:
    """A TLS server on loopback whose certificate no one trusts (self-signed)."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where,says", [
    ("refused", "connection refused"),
    ("nowhere", "host name not found"),
    ("untrusted", "TLS: certificate not trusted (self-signed certificate)"),
])
async def test_connection_failures_say_what_failed(where, says, request):
    """Through the transport the service runs on, which reports them all as timeouts."""
    url = {"refused": lambda: f"http://127.0.0.1:{closed_port()}",
           "nowhere": lambda: "http://jira.nonexistent.invalid",
           "untrusted": lambda: f"https://127.0.0.1:{request.getfixturevalue('untrusted_tls')}"}[where]()
    client = RestClient(url, transport=AiohttpTransport(), timeout=5)
    try:
        with pytest.raises(TrackerUnavailable) as caught:
            await send(client, "GET", "/rest/api/3/myself", ONCE)
    finally:
        await client.aclose()
    assert str(caught.value).startswith(f"GET /rest/api/3/myself: {says}")
    assert "ssl:default" not in str(caught.value) and "Timeout" not in str(caught.value)


@respx.mock
async def test_azure_devops_errors_say_azures_message_not_its_exception_type():
    respx.get("https://jira.test/_apis/wit/workitems/4712").mock(
        return_value=httpx.Response(404, json={
            "message": "TF401232: Work item 4712 does not exist, or you do not have permissions to read it.",
            "typeKey": "WorkItemUnauthorizedAccessException",
        })
    )
    with pytest.raises(TrackerRejected) as caught:
        await send(RestClient(BASE, token="pat", basic=True), "GET", "/_apis/wit/workitems/4712", ONCE)
    assert str(caught.value).endswith(
        "404 TF401232: Work item 4712 does not exist, or you do not have permissions to read it."
    )
    assert caught.value.status == 404
