"""Real processes: the bridge (`bridge serve`) and the Jira stand-in (`python -m tests.standin`),
talking over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.service import (  # noqa: F401  (re-exported for the tests)
    ADMIN,
    BRIDGE,
    CUSTOMER,
    ROOT,
    SECRET,
    TRANSITIONS,
    Bridge,
    Standin,
    decided,
    free_port,
    wait_until,
)


@pytest.fixture(scope="session")
def standin() -> Iterator[str]:
    process = Standin()
    yield process.url
    process.stop()


@pytest.fixture
def jira(standin: str) -> Callable[..., object]:
    """Reset the stand-in and return a helper for its control API."""

    def control(method: str, path: str, payload: object = None) -> object:
        r = httpx.request(method, f"{standin}/_standin{path}", json=payload, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    control("POST", "/reset", {"credentials": ["bridge@example.com:api-token"], "transitions": TRANSITIONS})
    control.url = standin  # type: ignore[attr-defined]
    return control


@pytest.fixture
def bridge(tmp_path: Path, jira) -> Iterator[Bridge]:
    b = Bridge(tmp_path, jira.url).start()
    jira("POST", "/webhook", {"url": f"{b.url}/webhooks/jira", "secret": SECRET})
    yield b
    b.stop()
