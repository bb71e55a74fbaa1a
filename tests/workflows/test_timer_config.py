"""`bridge check` on the timer and calendar sections: every mistake at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, only, pos, problems_of, write

TIMED = VALID + """\
calendar:
  holidays: CZ
  working_days: [mon, tue, wed, thu, fri]
timers:
  waiting:
    after: 3 business days
    path: [done]
    comment: Closed after {after} without an answer ({deadline}).
    reminders:
      - before: 1 day
        comment: "{left} left to answer on {ticket}."
"""


def test_a_valid_timer_loads(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, TIMED))
    timer = wf.timers["waiting"]
    assert timer.duration.business and timer.path == ["done"] and timer.reminders[0].offset.in_days
    assert wf.calendar.build("Europe/Prague").holiday(__import__("datetime").date(2026, 11, 17))


@pytest.mark.parametrize("old,new,needle,says", [
    ("after: 3 business days", "after: three days", "three days", "is not a duration"),
    ("after: 3 business days", "after: 0 days", "0 days", "above zero"),
    ("path: [done]", "path: [dnoe]", "dnoe", "status 'dnoe' is not declared under 'statuses'; did you mean 'done'?"),
    ("path: [done]", "path: [done, open]", "open]", "'done' → 'open' is not part of 'flow'"),
    ("      - before: 1 day", "      - before: 4 days", "4 days", "comes before the timer starts"),
    ("holidays: CZ", "holidays: XX", "XX", "no public holidays known for 'XX'"),
    ("working_days: [mon, tue, wed, thu, fri]", "working_days: [mon, funday]", "[mon", "'funday' is not a day"),
    ("({deadline})", "({dedline})", "Closed after", "unknown placeholder '{dedline}'"),
    ("  waiting:\n    after", "  waitin:\n    after", "waitin:", "status 'waitin' is not declared"),
])
def test_timer_mistakes_are_reported_where_they_are(tmp_path: Path, old, new, needle, says) -> None:
    text = TIMED.replace(old, new, 1)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="calendar:"), problem
