"""`bridge check` on the sub-tasks section: every mistake at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

TASKS = VALID + """\
subtasks:
  closing: [done]
  messages:
    open_tasks: "{from_status} → {to_status} reverted, open: {tasks} ({count})."
    task: "{key} {summary}"
  then:
    status: done
    from: [open]
    comment: All tasks of {ticket} are done ({tasks}); it moves to {next}.
    public: true
"""


def test_a_valid_section_loads(tmp_path: Path) -> None:
    rules = load_file(write(tmp_path, TASKS)).subtasks
    assert rules is not None and rules.closing == ["done"]
    assert rules.messages.task == "{key} {summary}"
    assert "{next}" in rules.messages.stuck, "untouched messages keep their English default"
    assert rules.then is not None and rules.then.from_ == ["open"] and rules.then.public


def test_the_subtasks_are_fetched_with_the_ticket(tmp_path: Path) -> None:
    """The judge reads the ticket with `required_fields()`: without `subtasks` among them,
    Jira would not list the sub-tasks and every ticket would close as if it had none."""
    assert load_file(write(tmp_path, TASKS)).required_fields() == {"subtasks"}
    assert load_file(write(tmp_path, VALID)).required_fields() == set()


def test_moving_on_by_itself_is_optional_and_starts_wherever_flow_leads(tmp_path: Path) -> None:
    start, end = TASKS.index("  then:"), TASKS.index("    public: true\n") + len("    public: true\n")
    rules = load_file(write(tmp_path, TASKS[:start] + TASKS[end:])).subtasks
    assert rules is not None and rules.then is None
    wf = load_file(write(tmp_path, broken(TASKS, "    from: [open]\n", "")))
    assert wf.subtasks and wf.subtasks.then and wf.subtasks.then.starts(wf.flow) == ["open", "waiting"]


@pytest.mark.parametrize("old,new,needle,says", [
    ("closing: [done]", "closing: [dnoe]", "dnoe", "status 'dnoe' is not declared under 'statuses'; did you mean 'done'?"),
    ("closing: [done]", "closing: [done, Waiting for customer]", "Waiting", "did you mean 'waiting'? ('Waiting for customer' is its name in the tracker)"),
    ("closing: [done]", "closing: []", "[]", "expected at least one item, got an empty list"),
    ("closing: [done]", "closing: done", "done\n", "expected a list"),
    ("    status: done", "    status: closed", "closed", "status 'closed' is not declared under 'statuses'"),
    ("from: [open]", "from: [done]", "done]\n    comment", "'done' → 'done' is not part of 'flow'"),
    ("from: [open]", "from: [opne]", "opne", "did you mean 'open'?"),
    ("    public: true", "    public: yes", "yes", "expected true or false"),
    ("({count})", "({cnt})", "\"{from_status}", "unknown placeholder '{cnt}'"),
    ("{key} {summary}", "{key} {title}", "\"{key}", "unknown placeholder '{title}'; use {key}, {status}, {summary}"),
    ("it moves to {next}", "it moves to {status}", "All tasks", "unknown placeholder '{status}'; use {next}, {tasks}, {ticket}"),
    ("({tasks});", "({tasks);", "All tasks", "broken placeholder"),
    ("  messages:", "  mesages:", "mesages", "unknown key 'mesages' (did you mean 'messages'?)"),
    ("    comment: All", "    coment: All", "coment", "unknown key 'coment' (did you mean 'comment'?)"),
])  # fmt: skip
def test_mistakes_are_reported_where_they_are(tmp_path: Path, old: str, new: str, needle: str, says: str) -> None:
    text = broken(TASKS, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="subtasks:"), problem


def test_a_status_no_flow_leads_to_cannot_be_moved_on_to(tmp_path: Path) -> None:
    """Without `from`, the parent moves on from wherever `flow` leads to `status`; where
    nothing leads there, the bridge could never take the step."""
    text = broken(broken(TASKS, "    from: [open]\n", ""), "    status: done", "    status: open")
    text = broken(broken(text, "  waiting: [open, done]\n", "  waiting: [done]\n"), "    to: open\n", "    to: done\n")
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == "no status leads to 'open' in 'flow'"
    assert at(problem) == pos(text, "open\n", after="  then:")
