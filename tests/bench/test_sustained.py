"""The sustained mixed-load benchmark end to end at a tiny size (200 deliveries/s for 2 s, one
in ten a forbidden move, against the Jira stand-in), and how the deliveries' rows and the
stand-in's call log become its verdicts."""

from __future__ import annotations

import pytest

from bench import sustained


@pytest.fixture(scope="module")
def results() -> dict:
    return sustained.run(rate=200, seconds=2, share=0.1, settle=30)


def test_every_delivery_is_acknowledged_and_judged(results):
    assert results["deliveries_sent"] == results["accepted_200"] == 400
    assert results["by_kind_sent"] == {"harmless": 360, "forbidden": 40}
    assert results["not_finished"] == 0 and results["states_of_accepted"] == {"done": 400}
    judged = results["judged_s"]
    assert judged["count"] == 400 and 0 < judged["p50"] <= judged["p99"] <= judged["max"]
    assert results["ack_ms"]["count"] == 400 and results["ack_ms"]["p99"] > 0


def test_every_forbidden_move_is_reverted_once_and_nothing_else_is_touched(results):
    assert results["forbidden_moves"] == results["reverted_once"] == 40
    assert results["not_reverted"] == results["reverted_more_than_once"] == 0
    assert results["transitions_on_other_tickets"] == 0
    assert results["tracker_calls_on_harmless_tickets"] == 0
    assert results["targets"]["reverted_exactly_once"]


def test_the_backlog_and_memory_are_reported(results):
    backlog = results["backlog"]
    assert backlog["samples"] and backlog["max_during_load"] >= backlog["samples"][-1][1]
    assert backlog["seconds_to_empty_after_load"] is not None
    memory = results["memory_mb"]
    assert 0 < memory["idle"]["rss_mb"] <= memory["at_end"]["peak_rss_mb"]
    labels = [row[0] for row in sustained.summary_rows(results)]
    assert labels == ["sustained ack p50 / p99", "sustained judged p50 / p99", "sustained backlog max / at end",
                      "sustained reverted once / moves", "sustained bridge RSS idle / at end"]


def sent(*records: dict) -> dict:
    return {"wall_minus_monotonic": 1000.0, "records": list(records)}


def record(ident: str, key: str, kind: str, at: float) -> dict:
    return {"id": ident, "key": key, "kind": kind, "due": at, "sent": at, "answered": at + 0.01, "status": 200}


def test_a_delivery_never_finished_counts_as_infinitely_late():
    load = sent(record("run-0", "SRV-1000000", "harmless", 0.0), record("run-1", "SRV-1", "forbidden", 0.0))
    rows = {"run-0": ("done", "1970-01-01 00:16:40.005000", "1970-01-01 00:16:40.500000"),
            "run-1": ("pending", "1970-01-01 00:16:40.005000", None)}
    found = sustained.analyse(load, rows, [])
    assert found["judged_s_by_kind"]["harmless"]["p50"] == 0.5  # sent at wall 1000.0, finished 1000.5
    assert found["judged_s"]["max"] is None and found["not_finished"] == 1
    assert found["not_reverted"] == 1


def test_a_move_reverted_twice_is_flagged():
    load = sent(record("run-0", "SRV-1", "forbidden", 0.0), record("run-1", "SRV-2", "forbidden", 0.0))
    calls = [{"method": "POST", "path": "/rest/api/3/issue/SRV-1/transitions"},
             {"method": "POST", "path": "/rest/api/3/issue/SRV-1/transitions"},
             {"method": "POST", "path": "/rest/api/3/issue/SRV-2/transitions"},
             {"method": "GET", "path": "/rest/api/3/issue/SRV-1000001"}]
    found = sustained.analyse(load, {}, calls)
    assert (found["reverted_once"], found["reverted_more_than_once"]) == (1, 1)
    assert found["tracker_calls_on_harmless_tickets"] == 1


def test_a_backlog_growing_through_the_second_half_is_not_bounded():
    growing = [(float(t), 500 * t) for t in range(10)]
    assert sustained.trend_per_s(growing) == 500.0
    flat = [(float(t), 4000 + 10 * (t % 2)) for t in range(10)]
    assert abs(sustained.trend_per_s(flat)) < 20

    def verdict(samples: list[tuple[float, int]]) -> bool:
        figures = {"not_accepted": 0, "ack_ms": {"p99": 5.0}, "judged_s": {"p99": 0.5}, "reverted_once": 1,
                   "forbidden_moves": 1, "transitions_on_other_tickets": 0, "memory_mb": {"idle": {"rss_mb": 120.0}},
                   "backlog": {"trend_per_s_second_half": sustained.trend_per_s(samples),
                               "max_during_load": max(n for _, n in samples), "seconds_to_empty_after_load": 9.0}}
        return sustained.targets(figures, rate=2000)["backlog_bounded"]

    assert not verdict(growing) and verdict(flat)
