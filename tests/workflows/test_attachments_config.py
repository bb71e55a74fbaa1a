"""`bridge check` on the attachments section: sizes as people write them, and every mistake
at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import load_file
from tests.workflows.test_loader import VALID, at, broken, only, pos, problems_of, write

POLICY = VALID + """\
attachments:
  extensions: [jpg, PNG, .pdf, tar.gz]
  max_size: 2 MB
  action: remove
  messages:
    comment: Příloha {file} nebyla přijata ({problem}).
"""


def test_a_valid_attachments_section_loads(tmp_path: Path) -> None:
    policy = load_file(write(tmp_path, POLICY)).attachments
    assert policy is not None and policy.action == "remove" and policy.max_bytes == 2 * 1024 * 1024
    assert policy.extensions == ["jpg", "png", "pdf", "tar.gz"], "without the dot, case folded"
    assert policy.extension_of("Scan.PDF") == "pdf" and policy.extension_of("logs.tar.gz") == "tar.gz"
    assert policy.extension_of("virus.exe") is None and policy.extension_of("pdf") is None
    assert policy.messages.comment == "Příloha {file} nebyla přijata ({problem})."
    assert "{size}" in policy.messages.too_large, "untouched messages keep their English default"


def test_attachments_are_optional_and_comment_is_the_default_action(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, VALID)).attachments is None
    policy = load_file(write(tmp_path, broken(POLICY, "  action: remove\n", ""))).attachments
    assert policy is not None and policy.action == "comment"


def test_the_attachments_field_is_read_with_the_ticket(tmp_path: Path) -> None:
    """A delivery may not list the ticket's attachments: the judge then reads the ticket with
    `required_fields()`, which must name them."""
    assert load_file(write(tmp_path, POLICY)).required_fields() == {"attachment"}


@pytest.mark.parametrize("written,size", [
    ("2 MB", 2097152), ("2MB", 2097152), ("2048 KiB", 2097152), ("2 mb", 2097152),
    ("1.5 MB", 1572864), ("500 KB", 512000), ("3145728", 3145728), ("1 GiB", 1073741824),
])  # fmt: skip
def test_sizes_parse_as_people_write_them(tmp_path: Path, written: str, size: int) -> None:
    policy = load_file(write(tmp_path, broken(POLICY, "max_size: 2 MB", f"max_size: {written}"))).attachments
    assert policy is not None and policy.max_bytes == size


@pytest.mark.parametrize("old,new,needle,says", [
    ("max_size: 2 MB", "max_size: two megs", "two megs", "'two megs' is not a size: write a number and a unit"),
    ("max_size: 2 MB", "max_size: 0 MB", "0 MB", "'0 MB' is no size at all"),
    ("max_size: 2 MB", "max_size: 2 TB", "2 TB", "'2 TB' is not a size"),
    ("max_size: 2 MB", "max_size: 2.5", "2.5", "the number 2.5 is not a size"),
    ("extensions: [jpg, PNG, .pdf, tar.gz]", "extensions: []", "[]", "expected at least one item, got an empty list"),
    ("tar.gz]", "my files]", "[jpg", "'my files' is not a file extension"),
    ("action: remove", "action: delete", "delete", "expected 'comment' or 'remove', got the text 'delete'"),
    ("({problem})", "({reason})", "Příloha", "unknown placeholder '{reason}'; use {allowed}, {file}, {max_size}, {problem}, {ticket}"),
    ("({problem})", "({problem)", "Příloha", "broken placeholder"),
    ("    comment: P", "    coment: P", "coment", "unknown key 'coment' (did you mean 'comment'?)"),
    ("  max_size: 2 MB\n", "", "attachments:", "missing required key 'max_size'"),
])  # fmt: skip
def test_attachment_mistakes_are_reported_where_they_are(
    tmp_path: Path, old: str, new: str, needle: str, says: str
) -> None:
    text = broken(POLICY, old, new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="attachments:" if needle != "attachments:" else ""), problem


@pytest.mark.parametrize("key,text", [
    ("too_large", "{file} has {size}; the most is {max_size}"),
    ("extension", "no .{extension} please ({allowed})"),
    ("unreadable", "{ticket}: {file} lacks {missing}"),
])  # fmt: skip
def test_each_text_takes_its_own_placeholders(tmp_path: Path, key: str, text: str) -> None:
    policy = load_file(write(tmp_path, POLICY + f"    {key}: \"{text}\"\n")).attachments
    assert policy is not None and getattr(policy.messages, key) == text
