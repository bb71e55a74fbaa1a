"""The repeated-bursts benchmark end to end at a tiny size: two 1 s bursts with 1 s pauses
against one bridge, each after a bare-receiver burst of its own; and how a pause's backlog
samples become a drain rate."""

from __future__ import annotations

import shutil

import pytest

from bench import bursts

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/ensure-wrk)")


@pytest.fixture(scope="module")
def results() -> dict:
    return bursts.run(bursts=2, seconds=1, pause=1, warmup=0, connections=4, threads=1)


@needs_wrk
def test_each_burst_has_its_own_bare_reference_and_pause(results):
    rounds = results["bursts"]
    assert [r["burst"] for r in rounds] == [1, 2]
    for r in rounds:
        bridge, bare, pause = r["bridge"], r["bare"], r["pause"]
        assert bridge["ok_200"] > 0 and bare["ok_200"] > 0
        assert r["ratio"] == round(bridge["deliveries_per_s"] / bare["deliveries_per_s"], 3)
        assert 0 < bridge["p50_ms"] <= bridge["p99_ms"]
        # every acknowledged delivery of this burst is in the file it was acknowledged by
        assert bridge["rows_match_200s"] and bare["rows_match_200s"]
        assert bridge["rows_stored"] >= bridge["ok_200"]
        assert pause["samples"][0] == (0.0, pause["backlog_at_burst_end"])
        assert pause["samples"][-1][0] >= 1.0
    assert results["targets"]["nothing_lost"]


@needs_wrk
def test_the_bridge_finishes_and_reports_its_memory(results):
    states = results["bridge_deliveries_by_state"]
    assert set(states) == {"done"}
    assert states["done"] == sum(r["bridge"]["rows_stored"] for r in results["bursts"])
    memory = results["memory_mb"]
    assert 0 < memory["idle"]["rss_mb"] <= memory["at_end"]["peak_rss_mb"]
    assert "workdir" not in results  # the temp dir is gone


@needs_wrk
def test_the_summary_gives_each_burst_its_rows_and_verdicts(results):
    rows = {label: (figure, target, verdict) for label, figure, target, verdict in bursts.summary_rows(results)}
    for k in (1, 2):
        figure, target, verdict = rows[f"bursts  {k}: bridge / bare"]
        r = results["bursts"][k - 1]
        assert target == "≥ 70%"
        assert verdict == ("met" if r["ratio"] >= 0.7 else "NOT MET")
        assert rows[f"bursts  {k}: p50 / p99"][1] == "p99 < 30 ms"
    assert rows["bursts  rows = 200s"] == ("every burst", "all", "ok")
    assert len(bursts.checks(results)) == 5


def test_a_backlog_that_empties_drains_over_the_time_it_took():
    samples = [(0.0, 6000), (0.1, 6000), (0.5, 6000), (1.0, 3000), (1.5, 0), (2.0, 0)]
    d = bursts.drain(samples)
    assert d["emptied"] and d["seconds_to_empty"] == 1.5
    assert d["drain_per_s"] == 4000.0  # 6,000 over the 1.5 s since the burst ended
    assert d["worker_started_after_s"] == 0.5 and d["worker_per_s"] == 6000.0


def test_a_backlog_left_after_the_pause_counts_only_what_was_drained():
    samples = [(0.0, 10000), (1.0, 8000), (2.0, 6000)]
    d = bursts.drain(samples)
    assert not d["emptied"] and d["seconds_to_empty"] is None
    assert d["backlog_at_pause_end"] == 6000 and d["drain_per_s"] == 2000.0


def test_a_drain_below_the_target_fails_it():
    memory = {"idle": {"rss_mb": 120.0}}
    fast = {"ratio": 0.8, "bridge": {"p99_ms": 10.0, "rows_match_200s": True}, "bare": {"rows_match_200s": True},
            "pause": {"backlog_at_burst_end": 9000, "drain_per_s": 6000.0, "emptied": True}}
    slow = {**fast, "pause": {**fast["pause"], "drain_per_s": 1133.0}}
    assert bursts.targets([fast, fast], memory)["drain_met"]
    assert not bursts.targets([fast, slow], memory)["drain_met"]
