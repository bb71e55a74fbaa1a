from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# The real Redmine's session fixture `real_redmine` (tests/redmine_real); pytest takes
# pytest_plugins from the top conftest only.
pytest_plugins = ["tests.redmine_real.server"]


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / "jira" / name).read_text(encoding="utf-8"))


@pytest.fixture
def jira_sample():
    return load_fixture
