"""`bridge check` on the replies section, and where the shipped workflows use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_dir, load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

ROOT = Path(__file__).resolve().parents[2]
REPLIES = VALID + "replies:\n  waiting: open\n"


def test_a_valid_replies_section_loads(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, REPLIES)).replies == {"waiting": "open"}
    assert load_file(write(tmp_path, VALID)).replies == {}, "off unless written"


@pytest.mark.parametrize("old,new,needle,says", [
    ("  waiting: open\n", "  waitng: open\n", "waitng", "status 'waitng' is not declared under 'statuses'; did you mean 'waiting'?"),
    ("  waiting: open\n", "  waiting: opne\n", "waiting: opne", "status 'opne' is not declared under 'statuses'; did you mean 'open'?"),
    ("  waiting: open\n", "  done: open\n", "done: open", "'done' → 'open' is not part of 'flow'"),
    ("  waiting: open\n", "  waiting: waiting\n", "waiting: waiting", "would move the ticket nowhere"),
    ("  waiting: open\n", "  waiting: Open\n", "Open\n", "status 'Open' is not declared under 'statuses'; did you mean 'open'?"),
    ("  waiting: open\n", "  waiting: [open]\n", "[open]", "expected text, got a list"),
])  # fmt: skip
def test_replies_mistakes_are_reported_where_they_are(
    tmp_path: Path, old: str, new: str, needle: str, says: str
) -> None:
    text = broken(REPLIES, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="replies:"), problem


def test_the_note_when_a_reply_cannot_move_the_ticket_takes_its_placeholders(tmp_path: Path) -> None:
    good = REPLIES + "messages:\n  reply_stuck: '{actor} replied on {ticket} in {status}; move it to {next}'\n"
    assert "{next}" in load_file(write(tmp_path, good)).messages.reply_stuck
    bad = REPLIES + "messages:\n  reply_stuck: '{actor} replied {from_status}'\n"
    problem = only(problems_of(write(tmp_path, bad)))
    assert "unknown placeholder '{from_status}'; use {actor}, {next}, {status}, {ticket}" in problem.message
    assert at(problem) == pos(bad, "'{actor} replied {from")


def test_the_shipped_workflows_move_replies_back_to_the_team() -> None:
    shipped = {wf.name: wf for wf in load_dir(ROOT / "workflows")}

    def names(name: str) -> dict[str, str]:
        wf = shipped[name]
        return {wf.statuses[waiting]: wf.statuses[to] for waiting, to in wf.replies.items()}

    assert names("targito-support") == {"Waiting for customer": "Waiting for support"}
    assert names("deso-crm") == {"Answered": "In Progress"}
    assert names("service-sheet") == {}, "its customers hand the ticket back themselves"
    assert "# replies:" in (ROOT / "workflows" / "service-sheet.yaml").read_text(encoding="utf-8")
