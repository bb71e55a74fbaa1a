"""A status that names no declared status says which one was probably meant, matched
against the status ids and the tracker's names for them, whatever the case."""

from __future__ import annotations

from pathlib import Path

from tests.workflows.test_loader import FIXTURES, VALID, at, broken, only, pos, problems_of, write


def test_a_misspelt_status_id() -> None:
    path = FIXTURES / "undeclared-status.yaml"
    problem = only(problems_of(path))
    assert at(problem) == pos(path.read_text(encoding="utf-8"), "hotvo", after="flow:")
    assert problem.message == (
        "status 'hotvo' is not declared under 'statuses'; did you mean 'hotovo'?"
    )


def test_a_misspelt_status_id_in_capitals() -> None:
    path = FIXTURES / "undeclared-status-in-capitals.yaml"
    problem = only(problems_of(path))
    assert at(problem) == pos(path.read_text(encoding="utf-8"), "Hotvo", after="flow:")
    assert problem.message == (
        "status 'Hotvo' is not declared under 'statuses'; did you mean 'hotovo'?"
    )


def test_a_status_named_by_its_tracker_name() -> None:
    path = FIXTURES / "tracker-name-for-status.yaml"
    problem = only(problems_of(path))
    assert at(problem) == pos(path.read_text(encoding="utf-8"), "Na klientovi", after="- from")
    assert problem.message == (
        "status 'Na klientovi' is not declared under 'statuses'; "
        "did you mean 'waiting_on_customer'? ('Na klientovi' is its name in the tracker)"
    )


def test_a_misspelt_tracker_name(tmp_path: Path) -> None:
    text = broken(VALID, "initial: open", "initial: waiting_for_custmer")
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message.endswith("; did you mean 'waiting'?")


def test_nothing_close_gets_no_guess(tmp_path: Path) -> None:
    text = broken(VALID, "initial: open", "initial: ghost")
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.message == "status 'ghost' is not declared under 'statuses'"
    text = broken(VALID, "initial: open", "initial: Ghost")
    problem = only(problems_of(write(tmp_path, text)))
    assert "'Ghost' is not a valid status id" in problem.message


def test_a_bad_id_where_a_status_is_declared_is_not_a_reference(tmp_path: Path) -> None:
    text = broken(VALID, "  waiting: Waiting for customer", "  Waiting: Waiting for customer")
    problem = only(problems_of(write(tmp_path, text)))
    assert "'Waiting' is not a valid status id" in problem.message
    assert "did you mean" not in problem.message


def test_suggestions_ignore_case_and_prefer_the_id() -> None:
    from bridge.workflows.problems import status_suggestion

    statuses = {"open": "Open", "done": "Hotovo", "waiting": "Waiting for customer"}
    assert status_suggestion("OPEN", statuses) == "; did you mean 'open'?"
    assert status_suggestion("hotovo", statuses).startswith("; did you mean 'done'?")
    assert status_suggestion("dne", statuses) == "; did you mean 'done'?"
    assert status_suggestion("nowhere", statuses) == ""
