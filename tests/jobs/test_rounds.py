"""A scheduler's round of a periodic job: what its failure leaves in the log."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bridge.jobs.rounds import Jobs
from bridge.store import create_db_engine, migrate
from bridge.trackers.base import OfflineTracker, TrackerUnauthorized
from bridge.workflows import load_dir
from tests.jobs.test_sweeps import ROOT

LOGIN = "GET https://redmine.test/issues.json: 200 answered a login page, not JSON"


class BehindALoginPage(OfflineTracker):
    async def identity(self) -> frozenset[str]:
        raise TrackerUnauthorized(LOGIN)


class Broken(OfflineTracker):
    async def identity(self) -> frozenset[str]:
        raise KeyError("a bug")


@pytest.fixture
def engine(tmp_path):
    made = create_db_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(made)
    yield made
    made.dispose()


def jobs(engine, tracker: OfflineTracker) -> Jobs:
    workflows = load_dir(ROOT / "workflows")
    return Jobs(engine, tracker, lambda: workflows, "Europe/Prague", timedelta(days=1))


async def test_a_tracker_that_does_not_answer_is_one_line_naming_the_site(engine, caplog):
    """A poll every minute through an hour's outage must not fill the log with tracebacks:
    the tracker's health says the same once, in /readyz too."""
    with caplog.at_level(logging.WARNING, logger="bridge.jobs.rounds"):
        await jobs(engine, BehindALoginPage("podpora", lambda body: None)).scheduled("reconcile")
    (record,) = caplog.records
    assert record.exc_info is None and record.levelno == logging.WARNING
    assert record.getMessage() == f"reconcile of podpora failed; the next round covers it: {LOGIN}"


async def test_a_bug_keeps_its_traceback(engine, caplog):
    with caplog.at_level(logging.WARNING, logger="bridge.jobs.rounds"):
        await jobs(engine, Broken("podpora", lambda body: None)).scheduled("reconcile")
    (record,) = caplog.records
    assert record.exc_info is not None and "reconcile of podpora failed" in record.getMessage()
