"""The Redmine stand-in in process: its app over httpx.ASGITransport, webhooks to a recorder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.redmine_standin import RedmineStandin, create_app
from tests.redmine_standin.seed import KEYS

REDMINE = FIXTURES / "redmine"
BASE = "https://redmine.test"


def sample(name: str) -> Any:
    return json.loads((REDMINE / name).read_text("utf-8"))


def as_user(login: str) -> dict[str, str]:
    return {"X-Redmine-API-Key": KEYS[login]}


class Receiver:
    """Where webhooks go: records each request; `down` makes every delivery fail."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.down = False
        self.transport = httpx.MockTransport(self.receive)

    def receive(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        return httpx.Response(202, json={"status": "accepted"})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def standin(receiver: Receiver) -> RedmineStandin:
    return RedmineStandin(transport=receiver.transport)


@pytest.fixture
async def redmine(standin: RedmineStandin) -> AsyncIterator[httpx.AsyncClient]:
    """The REST API as bridgebot; the controls need no key."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(standin)), base_url=BASE,
                                 headers=as_user("bridgebot")) as client:
        yield client


async def put_issue(client: httpx.AsyncClient, ident: int, user: str, **issue: Any) -> httpx.Response:
    return await client.put(f"/issues/{ident}.json", json={"issue": issue}, headers=as_user(user))


async def seed(client: httpx.AsyncClient, *issues: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post("/_standin/issues", json=list(issues))
    assert response.status_code == 201, response.text
    return response.json()
