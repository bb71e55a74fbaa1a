"""The loader turns every mistake in a workflow file into `path:line:col: message`.

Expected positions are computed from the text itself (where the offending token starts),
so the tests state what an admin sees, not how the loader finds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import (
    Workflow,
    WorkflowError,
    WorkflowSet,
    check_paths,
    load_dir,
    load_file,
)
from bridge.workflows.loader import Problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"

VALID = """\
# A small, valid workflow the tests break in one place at a time.
name: demo
applies_to:
  issue_types: [Bug]
statuses:
  open: Open
  waiting: Waiting for customer
  done: Done
initial: open
flow:
  open: [waiting, done]
  waiting: [open, done]
  done: []
customer_transitions:
  - from: waiting
    to: open
    name: reply
on_enter:
  done:
    requires:
      comment: true
"""


def write(folder: Path, text: str, name: str = "wf.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def pos(text: str, needle: str, after: str = "") -> tuple[int, int]:
    """1-based line and column where `needle` starts (searching from `after`, if given)."""
    start = text.index(after) if after else 0
    index = text.index(needle, start)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(WorkflowError) as info:
        load_file(path)
    assert info.value.problems, "a WorkflowError must carry its problems"
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def at(problem: Problem) -> tuple[int, int]:
    return problem.line, problem.col


def governing(found: WorkflowSet, project: str, issue: str | None, req: str | None) -> str | None:
    wf = found.for_ticket(project, issue, req)
    return wf.name if wf else None


# -- a valid file -----------------------------------------------------------------------------
def test_valid_file_loads(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, VALID))
    assert isinstance(wf, Workflow)
    assert wf.name == "demo" and wf.initial == "open"
    assert wf.customer_move("waiting", "open") is not None


# -- YAML syntax ------------------------------------------------------------------------------
def test_syntax_error_reports_where_the_parser_stopped(tmp_path: Path) -> None:
    text = broken(VALID, "  open: Open\n", "  open: Open: Bad\n")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, ": Bad")
    assert "mapping values are not allowed" in problem.message


def test_unclosed_flow_sequence_fixture() -> None:
    problem = only(problems_of(FIXTURES / "syntax-error.yaml"))
    assert (problem.line, problem.col) == (4, 9)
    assert "invalid YAML" in problem.message


def test_duplicate_yaml_key_points_at_the_second_one(tmp_path: Path) -> None:
    text = VALID + "initial: done\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "initial: done")
    assert "duplicate key" in problem.message


# -- unknown keys -----------------------------------------------------------------------------
def test_unknown_top_level_key_is_reported_at_the_key_with_a_suggestion(tmp_path: Path) -> None:
    text = broken(VALID, "customer_transitions:", "customer_transitons:")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "customer_transitons")
    assert "unknown key 'customer_transitons'" in problem.message
    assert "did you mean 'customer_transitions'?" in problem.message


def test_unknown_nested_key_is_reported_at_the_key(tmp_path: Path) -> None:
    text = broken(VALID, "      comment: true", "      coment: true")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "coment")
    assert "unknown key 'coment'" in problem.message
    assert "did you mean 'comment'?" in problem.message


def test_unknown_key_in_flow_style_mapping(tmp_path: Path) -> None:
    text = broken(VALID, "    name: reply\n", "    name: reply\n    requires: {coment: true}\n")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "coment")
    assert "did you mean 'comment'?" in problem.message


def test_unknown_key_without_a_close_match_has_no_suggestion(tmp_path: Path) -> None:
    text = VALID + "colour: blue\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "colour")
    assert problem.message == "unknown key 'colour'"


# -- wrong shapes -----------------------------------------------------------------------------
def test_missing_top_level_key_points_at_the_document(tmp_path: Path) -> None:
    text = broken(VALID, "initial: open\n", "")
    problem = only(problems_of(write(tmp_path, text)))
    assert "initial" in problem.message and "missing" in problem.message
    assert at(problem) == pos(text, "name: demo")


def test_missing_key_in_a_list_item_points_at_the_item(tmp_path: Path) -> None:
    text = broken(VALID, "  - from: waiting\n    to: open", "  - to: open")
    problem = only(problems_of(write(tmp_path, text)))
    assert "'from'" in problem.message and "missing" in problem.message
    assert at(problem) == pos(text, "to: open", after="customer_transitions")


def test_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    text = broken(VALID, "issue_types: [Bug]", "issue_types: Bug")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "Bug")
    assert "expected a list" in problem.message


@pytest.mark.parametrize(
    ("to", "got"), [("5", "the number 5"), ("{open: yes}", "a mapping"), ("", "nothing")]
)
def test_customer_move_to_that_is_neither_a_status_nor_a_list(
    tmp_path: Path, to: str, got: str
) -> None:
    text = broken(VALID, "    to: open", f"    to: {to}".rstrip())
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == f"expected a status id or a list of status ids, got {got}"
    assert problem.line == pos(text, "to:", after="customer_transitions")[0]


def test_customer_move_to_an_empty_list(tmp_path: Path) -> None:
    text = broken(VALID, "    to: open", "    to: []")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "[]", after="    to:")
    assert problem.message == "expected at least one item, got an empty list"


@pytest.mark.parametrize(("value", "got"), [("yes", "the text 'yes'"), ("1", "the number 1")])
def test_comment_takes_true_or_false_only(tmp_path: Path, value: str, got: str) -> None:
    text = broken(VALID, "      comment: true", f"      comment: {value}")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, value, after="comment:")
    assert problem.message == f"expected true or false, got {got}"


def test_from_has_no_second_name(tmp_path: Path) -> None:
    text = broken(VALID, "  - from: waiting", "  - from_: waiting")
    problems = problems_of(write(tmp_path, text))
    assert "unknown key 'from_' (did you mean 'from'?)" in [p.message for p in problems]


def test_invalid_status_id_points_at_the_key(tmp_path: Path) -> None:
    text = broken(VALID, "  waiting: Waiting for customer", "  Waiting: Waiting for customer")
    problems = problems_of(write(tmp_path, text))
    first = problems[0]
    assert at(first) == pos(text, "Waiting:")
    assert "'Waiting'" in first.message and "status id" in first.message


# -- cross-references -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "needle", "after"),
    [
        ("  open: [waiting, done]", "  open: [waiting, done, ghost]", "ghost", ""),
        ("  done: []\n", "  done: []\n  ghost: [open]\n", "ghost", ""),
        ("  - from: waiting", "  - from: ghost", "ghost", ""),
        ("    to: open", "    to: [open, ghost]", "ghost", ""),
        ("on_enter:\n  done:", "on_enter:\n  ghost:", "ghost", ""),
        ("initial: open", "initial: ghost", "ghost", ""),
    ],
    ids=["flow-target", "flow-source", "customer-from", "customer-to", "on-enter", "initial"],
)
def test_undeclared_status_is_reported_where_it_is_used(
    tmp_path: Path, old: str, new: str, needle: str, after: str
) -> None:
    text = broken(VALID, old, new)
    problems = problems_of(write(tmp_path, text))
    undeclared = [p for p in problems if "'ghost' is not declared" in p.message]
    assert len(undeclared) == 1, "\n".join(map(str, problems))
    assert at(undeclared[0]) == pos(text, needle, after)


def test_unreachable_status_is_reported_at_its_declaration(tmp_path: Path) -> None:
    text = broken(VALID, "  done: Done\n", "  done: Done\n  limbo: Limbo\n")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "limbo")
    assert "'limbo' cannot be reached from 'open'" in problem.message


def test_customer_transition_outside_the_flow(tmp_path: Path) -> None:
    text = broken(VALID, "  - from: waiting\n    to: open", "  - from: done\n    to: open")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "open", after="from: done")
    assert "'done' → 'open' is not part of 'flow'" in problem.message


def test_unknown_message_placeholder(tmp_path: Path) -> None:
    text = VALID + "messages:\n  forbidden: 'Not allowed: {from_state}'\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "'Not allowed")
    assert "{from_state}" in problem.message


def test_two_statuses_with_one_tracker_name(tmp_path: Path) -> None:
    text = broken(VALID, "  done: Done\n", "  done: Done\n  closed: done\n")
    text = broken(text, "  done: []\n", "  done: [closed]\n  closed: []\n")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "closed: done")
    assert "'done'" in problem.message


# -- everything at once -----------------------------------------------------------------------
def test_all_problems_in_a_file_are_reported_together() -> None:
    problems = problems_of(FIXTURES / "many-problems.yaml")
    assert [(p.line, p.col) for p in problems] == [(4, 3), (6, 3), (7, 9), (12, 5)]
    assert "issue_typs" in problems[0].message
    assert "'Open'" in problems[1].message
    assert "expected text" in problems[2].message
    assert "'from'" in problems[3].message


def test_all_reference_problems_are_reported_together() -> None:
    problems = problems_of(FIXTURES / "bad-references.yaml")
    text = " | ".join(p.message for p in problems)
    assert len(problems) == 4, text
    for expected in ("'lost' cannot be reached", "'ghost'", "'done' → 'open'", "'nowhere'"):
        assert expected in text


# -- documents that are not workflows ---------------------------------------------------------
@pytest.mark.parametrize("content", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_document(tmp_path: Path, content: str) -> None:
    problem = only(problems_of(write(tmp_path, content)))
    assert at(problem) == (1, 1)
    assert "empty" in problem.message


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", "42\n"])
def test_document_that_is_not_a_mapping(tmp_path: Path, content: str) -> None:
    problem = only(problems_of(write(tmp_path, content)))
    assert at(problem) == (1, 1)
    assert "expected a mapping" in problem.message


def test_non_mapping_fixture() -> None:
    problem = only(problems_of(FIXTURES / "not-a-mapping.yaml"))
    assert at(problem) == (1, 1) and "got a list" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path / "nope.yaml"))
    assert problem.path == str(tmp_path / "nope.yaml")


# -- problem format ---------------------------------------------------------------------------
def test_problem_str_is_path_line_col_message(tmp_path: Path) -> None:
    assert str(Problem("wf/a.yaml", 3, 7, "boom")) == "wf/a.yaml:3:7: boom"
    path = write(tmp_path, broken(VALID, "initial: open", "initial: ghost"))
    problem = only(problems_of(path))
    assert str(problem) == f"{path}:{problem.line}:{problem.col}: {problem.message}"
    assert str(problem).startswith(f"{path}:9:10: ")


def test_workflow_error_message_lists_every_problem(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as info:
        load_file(FIXTURES / "many-problems.yaml")
    assert str(info.value).count("many-problems.yaml:") == len(info.value.problems)


# -- folders and sets -------------------------------------------------------------------------
def variant(name: str, types: str = "issue_types: [Bug]") -> str:
    return broken(broken(VALID, "name: demo", f"name: {name}"), "issue_types: [Bug]", types)


def test_load_dir_returns_a_set(tmp_path: Path) -> None:
    write(tmp_path, variant("b", "issue_types: [Task]"), "b.yml")
    write(tmp_path, variant("a"), "a.yaml")
    write(tmp_path, "not: a workflow\n", "notes.txt")
    found = load_dir(tmp_path)
    assert isinstance(found, WorkflowSet)
    assert len(found) == 2 and found.names == ("a", "b")
    assert [wf.name for wf in found] == ["a", "b"]
    assert found.source == {"a": tmp_path / "a.yaml", "b": tmp_path / "b.yml"}
    assert governing(found, "ANY", "Task", None) == "b"
    assert governing(found, "ANY", "Epic", None) is None


def test_same_issue_type_in_two_files(tmp_path: Path) -> None:
    write(tmp_path, variant("a"), "a.yaml")
    second = write(tmp_path, variant("b", "issue_types: [Task, Bug]"), "b.yaml")
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path)
    problem = only(info.value.problems)
    assert problem.path == str(second)
    assert at(problem) == pos(second.read_text(), "Bug]")
    assert "issue type 'Bug' is already claimed by workflow 'a'" in problem.message
    assert "a.yaml" in problem.message


def test_same_request_type_in_two_files(tmp_path: Path) -> None:
    write(tmp_path, variant("a", "request_types: [Help me]"), "a.yaml")
    second = write(tmp_path, variant("b", "request_types:\n    - Other\n    - Help me"), "b.yaml")
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path)
    problem = only(info.value.problems)
    assert at(problem) == pos(second.read_text(), "Help me")
    assert "request type 'Help me' is already claimed by workflow 'a'" in problem.message


def test_same_type_in_disjoint_projects_is_fine(tmp_path: Path) -> None:
    write(tmp_path, variant("a", "issue_types: [Bug]\n  projects: [AAA]"), "a.yaml")
    write(tmp_path, variant("b", "issue_types: [Bug]\n  projects: [BBB]"), "b.yaml")
    found = load_dir(tmp_path)
    assert governing(found, "BBB", "Bug", None) == "b"
    assert governing(found, "CCC", "Bug", None) is None


def test_request_type_wins_over_issue_type(tmp_path: Path) -> None:
    write(tmp_path, variant("by-issue", "issue_types: [Support]"), "a.yaml")
    write(tmp_path, variant("by-request", "request_types: [Help me]"), "b.yaml")
    found = load_dir(tmp_path)
    assert governing(found, "P", "Support", "Help me") == "by-request"
    assert governing(found, "P", "Support", "Other") == "by-issue"


def test_duplicate_workflow_name(tmp_path: Path) -> None:
    write(tmp_path, variant("same"), "a.yaml")
    second = write(tmp_path, variant("same", "issue_types: [Task]"), "b.yaml")
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path)
    problem = only(info.value.problems)
    assert problem.path == str(second)
    assert at(problem) == pos(second.read_text(), "same")
    assert "'same'" in problem.message and "a.yaml" in problem.message


def test_problems_from_every_file_are_collected(tmp_path: Path) -> None:
    write(tmp_path, broken(VALID, "initial: open", "initial: ghost"), "a.yaml")
    write(tmp_path, "", "b.yaml")
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path)
    assert {Path(p.path).name for p in info.value.problems} == {"a.yaml", "b.yaml"}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path / "absent")
    problem = only(info.value.problems)
    assert problem.path == str(tmp_path / "absent") and "does not exist" in problem.message


def test_folder_without_workflow_files(tmp_path: Path) -> None:
    write(tmp_path, "name: x\n", "readme.md")
    with pytest.raises(WorkflowError) as info:
        load_dir(tmp_path)
    assert "no workflow files" in only(info.value.problems).message


def test_check_paths_detects_duplicates_across_given_files(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write(tmp_path / "one", variant("a"), "a.yaml")
    second = write(tmp_path / "two", variant("b"), "b.yaml")
    found, problems = check_paths([first, second])
    assert found is None
    problem = only(problems)
    assert problem.path == str(second) and "'Bug' is already claimed" in problem.message


def test_check_paths_mixes_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    write(tmp_path / "dir", variant("a"), "a.yaml")
    extra = write(tmp_path, variant("b", "issue_types: [Task]"), "b.yaml")
    found, problems = check_paths([tmp_path / "dir", extra, tmp_path / "dir" / "a.yaml"])
    assert problems == []
    assert found is not None and set(found.names) == {"a", "b"}


def test_check_paths_passes_over_named_files_that_are_not_workflows(tmp_path: Path) -> None:
    # `bridge check workflows/*` names the JSON Schema that sits beside the workflows
    workflow = write(tmp_path, VALID, "a.yaml")
    schema = write(tmp_path, '{"$schema": "https://json-schema.org/draft/2020-12/schema"}', "s.json")
    found, problems = check_paths([workflow, schema])
    assert problems == []
    assert found is not None and found.names == ("demo",)


def test_check_paths_on_no_workflow_file_at_all_says_so(tmp_path: Path) -> None:
    schema = write(tmp_path, "{}", "workflow.schema.json")
    found, problems = check_paths([schema])
    assert found is None
    assert only(problems) == Problem(str(schema), 1, 1, "not a workflow file (*.yaml, *.yml)")


def test_check_paths_reports_instead_of_raising(tmp_path: Path) -> None:
    broken_file = write(tmp_path, broken(VALID, "initial: open", "initial: ghost"))
    found, problems = check_paths([broken_file, tmp_path / "absent", FIXTURES / "empty.yaml"])
    assert found is None
    assert {Path(p.path).name for p in problems} == {"wf.yaml", "absent", "empty.yaml"}


def test_check_paths_on_the_fixture_folder_reports_every_file() -> None:
    found, problems = check_paths([FIXTURES])
    assert found is None
    bad = {p.name for p in FIXTURES.glob("*.yaml")}
    assert {Path(p.path).name for p in problems} == bad

