"""The polling benchmark end to end at a reduced size: the Redmine stand-in with 500 issues,
5 of them changed by the customer, two passes of the real reconcile job in a process of
their own, and the bare-client reference (the real Redmine is left out: `real_issues=0`)."""

from __future__ import annotations

import pytest

from bench import polling
from bench.common import BenchError


@pytest.fixture(scope="module")
def results() -> dict:
    return polling.run(issues=500, changed=5, real_issues=0)


def test_the_pass_queues_every_change_and_the_quiet_pass_none(results):
    standin = results["standin"]
    first, quiet = standin["changed_pass"], standin["quiet_pass"]
    assert (standin["issues"], standin["changed"]) == (500, 5)
    assert first["queued"] == 5 and standin["all_queued"]
    assert quiet["queued"] == 0 and quiet["seen"] == 0
    assert standin["requests_outside_passes"] == 0


def test_requests_are_counted_from_the_tracker_by_kind(results):
    first, quiet = results["standin"]["changed_pass"], results["standin"]["quiet_pass"]
    kinds = first["requests_by_kind"]
    assert sum(kinds.values()) == first["requests"] == first["bridge_sent"]
    assert kinds["issue"] >= 5 and kinds["list"] >= 1  # each changed issue's journals read
    assert first["requests_per_changed_issue"] == round(first["requests"] / 5, 2)
    # with nothing new, a pass is its listings alone (the look-ups stay cached)
    assert quiet["requests_by_kind"] == {"list": kinds["list"], "issue": 0, "look_up": 0}
    assert first["seconds"] > 0 and quiet["seconds"] > 0
    assert results["standin"]["peak_rss_mb"] > 0


def test_the_reference_lists_once_and_reads_each_changed_issue_once(results):
    reference = results["standin"]["reference"]
    assert reference["list_requests"] == 1 and reference["issue_requests"] == 5
    assert reference["requests"] == 6 and reference["seconds"] > 0


def test_the_summary_rows_give_no_target_where_the_issue_gives_none(results):
    rows = {label: (figure, target, verdict) for label, figure, target, verdict in polling.summary_rows(results)}
    assert rows["polling stand-in queued / changed"] == ("5 / 5", "all", "ok")
    assert rows["polling stand-in pass, 5 of 500 changed"][1] == "—"
    assert rows["polling stand-in requests per changed issue"][0].endswith("(reference 1.2)")
    assert rows["polling real Redmine"] == ("skipped: not asked for (no issues)", "—", "skipped")


def test_a_change_not_queued_fails_the_part(results):
    section = {**results["standin"], "changed_pass": {**results["standin"]["changed_pass"], "queued": 4}}
    with pytest.raises(BenchError, match="queued 4 changes of 5"):
        polling.checked(section, 5, "stand-in")


def test_requests_are_told_apart_by_path():
    sent = [{"path": "/issues.json"}, {"path": "/issues/12.json"}, {"path": "/issues/12/relations.json"},
            {"path": "/users/current.json"}, {"path": "/trackers.json"}]
    assert polling.kinds(sent) == {"list": 1, "issue": 1, "look_up": 3}
