"""A workflow file that describes far more than it holds is refused with one plain problem,
at the place where it crosses a bound, instead of being expanded.

Workflows are a few kilobytes with a handful of anchors; a few hundred bytes of nested
aliases, a few kilobytes of brackets or a file of many megabytes are not workflows, and
following them would exhaust the memory, the stack or the patience of `bridge check` and of
the service's reload.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from bridge.workflows.limits import MAX_FILE_BYTES
from tests.workflows.test_loader import (
    FIXTURES,
    VALID,
    at,
    broken,
    only,
    pos,
    problems_of,
    write,
)

HOSTILE = FIXTURES / "hostile"
TOO_DEEP = "nesting deeper than 64 levels"
ALIAS_BOMB = "aliases would expand to more than 10000 values (YAML alias bomb?)"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# -- aliases ----------------------------------------------------------------------------------
def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_bound() -> None:
    path = HOSTILE / "billion-laughs.yaml"
    problem = only(problems_of(path))
    assert problem.message == ALIAS_BOMB
    # a to d expand to 8,289 values between them; the first *d under e adds 7,381 more
    assert at(problem) == pos(path.read_text(encoding="utf-8"), "*d", after="\ne:")


def test_a_workflow_may_reuse_values_through_anchors(tmp_path: Path) -> None:
    text = broken(VALID, "    name: reply\n", "    name: reply\n    requires: &reason {comment: true}\n")
    text = broken(text, "    requires:\n      comment: true\n", "    requires: *reason\n")
    wf = load_file(write(tmp_path, text))
    assert wf.entry_requirements("done").comment
    assert wf.customer_move("waiting", "open").requires.comment


def test_alias_inside_the_value_it_names_is_refused(tmp_path: Path) -> None:
    text = VALID + "description: &me [one, *me]\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "*me")
    assert problem.message == "alias '*me' is used inside the value it names, which never ends"


def test_undefined_alias_is_still_a_yaml_error(tmp_path: Path) -> None:
    text = VALID + "description: *nowhere\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert at(problem) == pos(text, "*nowhere")
    assert "found undefined alias" in problem.message


# -- nesting ----------------------------------------------------------------------------------
@pytest.mark.parametrize("levels", [65, 1_000, 100_000])
def test_deep_nesting_is_refused_where_it_crosses_the_bound(tmp_path: Path, levels: int) -> None:
    text = VALID + f"description: {nested(levels)}\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == TOO_DEEP
    line, col = pos(text, "[[")
    assert at(problem) == (line, col + 63)  # the document is level 1: the 64th bracket opens 65


def test_deep_block_nesting_is_refused_where_it_crosses_the_bound(tmp_path: Path) -> None:
    keys = "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 200))
    text = VALID + "description:\n" + keys
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == TOO_DEEP
    assert at(problem) == pos(text, "k64:")


def test_nesting_up_to_the_bound_is_only_checked_against_the_schema(tmp_path: Path) -> None:
    text = VALID + f"description: {nested(63)}\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == "expected text, got a list"


def test_alias_that_would_nest_too_deep_is_refused_at_the_alias(tmp_path: Path) -> None:
    text = f"x: &deep {nested(40)}\ny: {'[' * 30}*deep{']' * 30}\n"
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == TOO_DEEP
    assert at(problem) == pos(text, "*deep")


# -- size -------------------------------------------------------------------------------------
def test_file_above_the_size_limit_is_refused_as_a_whole(tmp_path: Path) -> None:
    padding = "#" * (MAX_FILE_BYTES - len(VALID.encode()))
    problem = only(problems_of(write(tmp_path, VALID + padding + "\n")))
    assert at(problem) == (1, 1)
    assert problem.message == "file is 1,000,001 bytes; workflow files may be at most 1 MB"


def test_file_at_the_size_limit_loads(tmp_path: Path) -> None:
    padding = "#" * (MAX_FILE_BYTES - len(VALID.encode()) - 1)
    path = write(tmp_path, VALID + padding + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_file(path).name == "demo"


def test_size_is_given_in_megabytes_when_far_above_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(52_000_000)
    problem = only(problems_of(path))
    assert str(problem) == f"{path}:1:1: file is 52 MB; workflow files may be at most 1 MB"
