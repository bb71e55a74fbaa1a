"""A Jira stand-in for tests: in-process via httpx.ASGITransport, or `python -m tests.standin`."""

from .jira import JiraStandin, adf_problem, create_app, resolve

__all__ = ["JiraStandin", "adf_problem", "create_app", "resolve"]
