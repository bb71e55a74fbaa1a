"""An Azure DevOps stand-in for tests: in-process via httpx.ASGITransport, or
`python -m tests.devops_standin`."""

from .app import create_app
from .state import DevOpsStandin

__all__ = ["DevOpsStandin", "create_app"]
