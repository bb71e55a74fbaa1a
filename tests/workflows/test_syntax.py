"""A YAML mistake is worded by its likely cause: a line indented too far or too little, or
a tab, which YAML forbids for indentation. The parser's own words stay beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflows.test_loader import FIXTURES, VALID, at, broken, only, pos, problems_of, write

INDENTATION = "check the indentation of this line"
TAB = "this line is indented with a tab; YAML forbids tabs for indentation, use spaces"


def fixture(name: str) -> tuple[Path, str]:
    path = FIXTURES / name
    return path, path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "line", "parser_says"),
    [
        ("indented-too-far.yaml", "   done: Done", "mapping values are not allowed here"),
        ("indented-too-little.yaml", "     comment: true", "expected <block end>, but found"),
        ("list-item-out-of-line.yaml", "  - from: waiting", "expected <block end>, but found"),
    ],
)
def test_a_misindented_line_is_named_with_the_parsers_words(
    name: str, line: str, parser_says: str
) -> None:
    path, text = fixture(name)
    problem = only(problems_of(path))
    assert at(problem) == pos(text, line.lstrip(), after=f"\n{line}")
    assert problem.message.startswith(f"invalid YAML: {parser_says}")
    assert INDENTATION in problem.message and "spaces" in problem.message


def test_a_tab_in_the_indentation_has_its_own_message() -> None:
    path, text = fixture("tab-indented.yaml")
    problem = only(problems_of(path))
    assert at(problem) == pos(text, "\twaiting")
    assert problem.message == f"invalid YAML: {TAB}"


def test_a_tab_after_a_key_is_not_called_indentation(tmp_path: Path) -> None:
    text = broken(VALID, "name: demo", "name:\tdemo")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "\tdemo")
    assert "tab" in problem.message and "indent" not in problem.message


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("  open: Open\n", "  open: Open: Bad\n", ": Bad"),  # a second colon on a line
        ("  open: Open\n", "  open Open\n", "waiting: Waiting"),  # a key without its colon
        ('name: demo', 'name: "demo" too', "too"),  # text after a quoted value
    ],
    ids=["second-colon", "missing-colon", "after-quotes"],
)
def test_mistakes_on_well_indented_lines_say_nothing_of_indentation(
    tmp_path: Path, old: str, new: str, needle: str
) -> None:
    text = broken(VALID, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message.startswith("invalid YAML: ")
    assert at(problem)[0] == pos(text, needle)[0]
    assert "indentation" not in problem.message


def test_a_key_indented_under_a_list_item_it_cannot_belong_to(tmp_path: Path) -> None:
    text = broken(VALID, "  issue_types: [Bug]", "  issue_types:\n    - Bug\n      projects: [X]")
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "projects")
    assert INDENTATION in problem.message
