"""What is wrong with a workflow, worded for the admin who has to fix it.

A problem is read in an editor or a CI log next to the file, by someone who knows their
service process but not pydantic or the YAML parser. So each message names the value as
they wrote it, says what was expected in their words, and, when something close was
declared, which one they probably meant.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong, in the `path:line:col: message` form editors and CI logs link to.

    Line and column are 1-based; problems about a whole file or folder sit at 1:1.
    """

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class WorkflowError(Exception):
    """Workflows that must not take effect, with every problem found (not just the first)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(map(str, self.problems)) or "invalid workflows")


_EXPECTED = {
    "string_type": "expected text",
    "list_type": "expected a list",
    "status_or_list": "expected a status id or a list of status ids",
    **dict.fromkeys(("dict_type", "model_type", "model_attributes_type"), "expected a mapping"),
    **dict.fromkeys(("bool_type", "bool_parsing"), "expected true or false"),
}


def describe(err: Mapping[str, Any]) -> str:
    """A pydantic error as an admin reads it: what was expected, and what was found."""
    kind, value = err["type"], err.get("input")
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {kind_of(value)}"
    if kind == "string_pattern_mismatch":
        return (
            f"'{value}' is not a valid status id: use lowercase letters, digits and '_', "
            "starting with a letter (e.g. waiting_on_customer)"
        )
    if kind == "literal_error" and "expected" in err.get("ctx", {}):
        return f"expected {err['ctx']['expected']}, got {kind_of(value)}"
    if kind == "too_short" and not err.get("ctx", {}).get("actual_length", 1):
        return "expected at least one item, got an empty list"
    if kind == "value_error" and "error" in err.get("ctx", {}):
        return str(err["ctx"]["error"])  # the model's own words, already written for admins
    msg = str(err.get("msg", kind))
    return msg[:1].lower() + msg[1:]


def kind_of(value: Any) -> str:
    """What a YAML value is, in the words an admin would use."""
    if value is None or isinstance(value, bool):
        return "nothing" if value is None else f"'{str(value).lower()}'"
    if isinstance(value, str):
        return f"the text '{value[:40]}'"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (Mapping, list)):
        return "a mapping" if isinstance(value, Mapping) else "a list"
    return f"'{value}'"


def undeclared_status(sid: str, statuses: Mapping[str, str]) -> str:
    """A status reference that names no declared status, and the one probably meant."""
    return f"status '{sid}' is not declared under 'statuses'{status_suggestion(sid, statuses)}"


def status_suggestion(word: str, statuses: Mapping[str, str]) -> str:
    """'; did you mean …?' naming the declared status (id → tracker name) that `word` most
    likely meant, or ''. Case is ignored, and the tracker's names count too: an admin who
    sees "Hotovo" in Jira writes that, or a misspelling of it, where the id belongs."""
    wanted = word.casefold()
    by_id = {sid.casefold(): sid for sid in statuses}
    by_name = {name.casefold(): sid for sid, name in statuses.items()}
    if wanted in by_name and wanted not in by_id:
        sid = by_name[wanted]
        return f"; did you mean '{sid}'? ('{word}' is its name in the tracker)"
    choices = {**by_name, **by_id}
    close = difflib.get_close_matches(wanted, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{choices[close[0]]}'?" if close else ""


def placeholder_problems(
    loc: tuple[str | int, ...], text: str, allowed: frozenset[str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """A text's placeholders that the bridge does not fill, or braces it cannot format: found
    here rather than as a KeyError while a ticket is being moved."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        yield loc, f"broken placeholder: {exc} (write {{{{ for a literal {{)"
        return
    for name in names:
        if name not in allowed:
            known = ", ".join("{" + p + "}" for p in sorted(allowed))
            yield loc, f"unknown placeholder '{{{name}}}'; use {known}"
