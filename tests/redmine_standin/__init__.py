"""A Redmine 5.0 stand-in for tests: in-process via httpx.ASGITransport, or
`python -m tests.redmine_standin`; `client.py` starts the process and drives its controls."""

from .app import create_app
from .state import RedmineStandin

__all__ = ["RedmineStandin", "create_app"]
