"""A Jira stand-in for tests: in-process via httpx.ASGITransport, or `python -m tests.standin`."""

from .adf import adf_problem
from .app import create_app
from .openapi import resolve
from .state import JiraStandin

__all__ = ["JiraStandin", "adf_problem", "create_app", "resolve"]
