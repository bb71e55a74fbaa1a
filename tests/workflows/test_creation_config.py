"""`bridge check` on the rules on creation: every mistake at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

BASE = broken(VALID, "  issue_types: [Bug]\n", "  request_types: [Něco mi nefunguje, Potřebuji podporu]\n")
RULES = BASE + """\
on_create:
  by_channel:
    - channel: email
      set:
        priority: Medium
        customfield_10080: {value: E-mail}
  customer_fields:
    - field: priority
      allowed_request_types: [Něco mi nefunguje]
      reset_to: Medium
  required:
    - request_types: [Něco mi nefunguje]
      fields:
        customfield_10070: Where it happened
  messages:
    missing: Please add {missing} to {ticket}.
"""


def test_valid_rules_load_with_the_priority_sent_by_name(tmp_path: Path) -> None:
    rules = load_file(write(tmp_path, RULES)).on_create
    assert rules is not None
    assert rules.by_channel[0].values() == {"priority": {"name": "Medium"}, "customfield_10080": {"value": "E-mail"}}
    assert rules.customer_fields[0].value() == {"name": "Medium"}
    assert rules.required[0].public is True, "the customer is asked, by default"


def test_the_fields_the_rules_read_are_fetched_with_the_ticket(tmp_path: Path) -> None:
    """Without them the judge would read every new ticket as if its fields were empty."""
    found = load_file(write(tmp_path, RULES)).required_fields()
    assert found == {"priority", "customfield_10080", "customfield_10070"}


def test_rules_on_creation_are_optional(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, VALID)).on_create is None


@pytest.mark.parametrize("old,new,needle,says", [
    ("channel: email", "channel: e-mail", "e-mail", "expected 'portal', 'email', 'api', 'jira' or 'anonymousportal'"),
    ("      set:\n        priority: Medium\n        customfield_10080: {value: E-mail}\n", "      set: {}\n", "{}\n",
     "expected at least one item, got an empty list"),
    ("allowed_request_types: [Něco mi nefunguje]", "allowed_request_types: [Neco mi nefunguje]", "Neco",
     "request type 'Neco mi nefunguje' is not under 'applies_to.request_types'; did you mean 'Něco mi nefunguje'?"),
    ("    - request_types: [Něco mi nefunguje]", "    - request_types: [Bug]", "Bug]",
     "request type 'Bug' is not under 'applies_to.request_types'"),
    ("      reset_to: Medium\n", "", "field: priority", "missing required key 'reset_to'"),
    ("reset_to: Medium", "reset_to:", "reset_to:", "expected a value, e.g. Medium, got nothing"),
    ("        customfield_10070: Where it happened\n", "        Customfield 10070: Where\n", "Customfield", "'Customfield 10070' is not a field id: write it as Jira names it"),
    ("{missing} to {ticket}", "{missing} to {key}", "Please add", "unknown placeholder '{key}'; use {missing}, {ticket}, {type}"),
    ("  required:", "  requires:", "requires", "unknown key 'requires' (did you mean 'required'?)"),
    ("      fields:\n", "      public: sure\n      fields:\n", "sure", "expected true or false"),
])  # fmt: skip
def test_mistakes_in_the_rules_on_creation_are_reported_where_they_are(
    tmp_path: Path, old: str, new: str, needle: str, says: str
) -> None:
    text = broken(RULES, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="on_create:"), problem


def test_types_are_not_checked_against_a_workflow_that_governs_by_the_other_kind(tmp_path: Path) -> None:
    """DESO's workflow governs by issue type: any request type of those tickets may be named."""
    text = broken(RULES, "  request_types: [Něco mi nefunguje, Potřebuji podporu]\n", "  issue_types: [CRM]\n")
    assert load_file(write(tmp_path, text)).on_create is not None
