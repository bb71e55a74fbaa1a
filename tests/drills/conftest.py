"""Drills: the real service process under bad luck and bad input (poison deliveries in a
burst, a tracker that answers late or not at all, slow clients). They reuse the end-to-end
fixtures: `bridge serve` and the Jira stand-in as real processes over loopback."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import bridge, jira, standin  # noqa: F401  (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/drills/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.drill)
