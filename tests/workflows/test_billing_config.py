"""`bridge check` on the billing section: every mistake at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

BILLED = broken(VALID, "  done: Done\n", "  done: Done\n  cancelled: Cancelled\n")
BILLED = broken(BILLED, "  waiting: [open, done]\n", "  waiting: [open, done, cancelled]\n")
BILLED = broken(BILLED, "  done: []\n", "  done: []\n  cancelled: []\n")
BILLED += """\
billing:
  billable: [done]
  never: [cancelled]
  approval: waiting
  rounding: 15 minutes
"""


def test_a_valid_billing_section_loads(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, BILLED))
    assert wf.billing is not None
    assert wf.billing.billable == ["done"] and wf.billing.never == ["cancelled"]
    assert wf.billing.approval == "waiting" and wf.billing.rounding_seconds == 15 * 60


def test_billing_is_optional_and_its_optional_keys_too(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, VALID)).billing is None
    text = VALID + "billing:\n  billable: [done]\n"
    billing = load_file(write(tmp_path, text)).billing
    assert billing is not None and billing.never == [] and billing.approval is None
    assert billing.rounding_seconds is None


@pytest.mark.parametrize("step,seconds", [("1 hour", 3600), ("90 minutes", 5400), ("6 Minutes", 360)])
def test_rounding_in_minutes_or_hours(tmp_path: Path, step: str, seconds: int) -> None:
    wf = load_file(write(tmp_path, broken(BILLED, "15 minutes", step)))
    assert wf.billing is not None and wf.billing.rounding_seconds == seconds


@pytest.mark.parametrize("old,new,needle,says", [
    ("billable: [done]", "billable: [dnoe]", "dnoe", "status 'dnoe' is not declared under 'statuses'; did you mean 'done'?"),
    ("billable: [done]", "billable: [Done]", "Done]", "did you mean 'done'?"),
    ("billable: [done]", "billable: []", "[]", "expected at least one item, got an empty list"),
    ("billable: [done]", "billable: done", "done\n", "expected a list, got the text 'done'"),
    ("never: [cancelled]", "never: [canceled]", "canceled", "status 'canceled' is not declared"),
    ("never: [cancelled]", "never: [cancelled, done]", "done]", "status 'done' is also under 'billable'"),
    ("approval: waiting", "approval: approved", "approved", "status 'approved' is not declared"),
    ("rounding: 15 minutes", "rounding: 15 min", "15 min", "'15 min' is not a rounding step"),
    ("rounding: 15 minutes", "rounding: 0 minutes", "0 minutes", "'0 minutes' is not a rounding step"),
    ("rounding: 15 minutes", "rounding: 1 business hour", "1 business", "not business time"),
    ("rounding: 15 minutes", "rounding: 1 day", "1 day", "round worked time to minutes or hours"),
    ("rounding: 15 minutes", "roundnig: 15 minutes", "roundnig", "unknown key 'roundnig' (did you mean 'rounding'?)"),
])  # fmt: skip
def test_billing_mistakes_are_reported_where_they_are(
    tmp_path: Path, old: str, new: str, needle: str, says: str
) -> None:
    text = broken(BILLED, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after=new.split(":")[0] + ":"), problem


def test_a_business_rounding_is_refused_in_words_not_in_pydantics(tmp_path: Path) -> None:
    text = broken(BILLED, "rounding: 15 minutes", "rounding: 2 business hours")
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message.startswith("'2 business hours': worked time is rounded"), problem
