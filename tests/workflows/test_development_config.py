"""`bridge check` on the development section: every mistake at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

DEV = broken(VALID, "  done: Done\n", "  done: Done\n  in_dev: In development\n")
DEV = broken(DEV, "  open: [waiting, done]\n", "  open: [waiting, done, in_dev]\n  in_dev: [open, done]\n")
DEV += """\
development:
  status: in_dev
  field: customfield_10050
  label: PBI number
  provider: azure-devops
  done: [Done, Closed]
  removed: [Removed]
  then: open
  comment: Development of {items} on {ticket} is done ({states}).
  messages:
    not_found: There is no PBI {number} ({label}).
"""


def test_a_valid_development_section_loads(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, DEV))
    dev = wf.development
    assert dev is not None and dev.provider == "azure-devops" and dev.then == "open"
    assert dev.is_done("closed") and not dev.is_done("Removed") and dev.is_removed("REMOVED")
    assert dev.wait_for == "all" and dev.public is False, "all items, internal comment by default"
    assert dev.messages.not_found == "There is no PBI {number} ({label})."
    assert "{value}" in dev.messages.garbage, "untouched messages keep their English default"


def test_the_field_is_fetched_with_the_ticket(tmp_path: Path) -> None:
    """The judge reads the ticket with `required_fields()`: without the development field
    among them, every ticket entering development would look as if it named no item."""
    assert load_file(write(tmp_path, DEV)).required_fields() == {"customfield_10050"}
    assert load_file(write(tmp_path, VALID)).required_fields() == set()


def test_development_is_optional_and_removed_defaults_to_removed(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, VALID)).development is None
    dev = load_file(write(tmp_path, broken(DEV, "  removed: [Removed]\n", ""))).development
    assert dev is not None and dev.removed == ["Removed"] and dev.label == "PBI number"


@pytest.mark.parametrize("old,new,needle,says", [
    ("status: in_dev", "status: in_deb", "in_deb", "status 'in_deb' is not declared under 'statuses'; did you mean 'in_dev'?"),
    ("then: open", "then: Open", "Open\n", "did you mean 'open'?"),
    ("then: open", "then: waiting", "waiting\n", "'in_dev' → 'waiting' is not part of 'flow'"),
    ("provider: azure-devops", "provider: azure", "azure\n", "expected 'azure-devops' or 'jira', got the text 'azure'"),
    ("done: [Done, Closed]", "done: []", "[]", "expected at least one item, got an empty list"),
    ("removed: [Removed]", "removed: [Removed, closed]", "closed]", "state 'closed' is also under 'done'"),
    ("then: open\n", "then: open\n  wait_for: most\n", "most", "expected 'all' or 'any', got the text 'most'"),
    ("then: open\n", "then: open\n  public: yes\n", "yes", "expected true or false"),
    ("({states})", "({state})", "Development of", "unknown placeholder '{state}'; use {items}, {states}, {ticket}"),
    ("PBI {number}", "PBI {numbre}", "There is no", "unknown placeholder '{numbre}'"),
    ("PBI {number}", "PBI {value}", "There is no", "unknown placeholder '{value}'"),
    ("PBI {number}", "PBI {number", "There is no", "broken placeholder"),
    ("  not_found:", "  notfound:", "notfound", "unknown key 'notfound' (did you mean 'not_found'?)"),
    ("  field: customfield_10050\n", "", "development:", "missing required key 'field'"),
])  # fmt: skip
def test_development_mistakes_are_reported_where_they_are(
    tmp_path: Path, old: str, new: str, needle: str, says: str
) -> None:
    text = broken(DEV, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="development:" if needle != "development:" else ""), problem


@pytest.mark.parametrize("key,text", [
    ("missing", "{ticket}: {label} is empty ({from_status} → {to_status})"),
    ("garbage", "'{value}' in {label}"),
    ("removed", "{number} is gone"),
    ("unreachable", "{label} {number} on {ticket}: {reason}"),
    ("stuck", "{items} ({states}) on {ticket}: no way from {status} to {next}"),
])  # fmt: skip
def test_each_message_takes_its_own_placeholders(tmp_path: Path, key: str, text: str) -> None:
    wf = load_file(write(tmp_path, DEV + f'    {key}: "{text}"\n'))
    assert wf.development is not None and getattr(wf.development.messages, key) == text


def test_a_placeholder_of_another_message_is_refused(tmp_path: Path) -> None:
    """{number} means nothing when the field is empty: the text would show a blank."""
    text = DEV + '    missing: "{label} {number} is missing"\n'
    problem = only(problems_of(write(tmp_path, text)))
    assert "unknown placeholder '{number}'" in problem.message
    assert at(problem) == pos(text, "\"{label} {number} is")
