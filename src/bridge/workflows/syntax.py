"""YAML syntax errors, worded so that the admin who made one can fix it.

The parser describes what it found ("mapping values are not allowed here", "expected
<block end>, but found '<block mapping start>'"), not what the person did. In a hand-edited
workflow the usual cause is a line indented a space too far or too little, or indented with
a tab, which YAML forbids. So when the line the parser stopped at lines up with none of the
lines it could belong to, the problem says so in plain words and points at the start of
that line; the parser's own words stay beside it for anyone who knows them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bridge.workflows.problems import Problem

INDENTATION = (
    "check the indentation of this line: it lines up with no line above it "
    "(indent with spaces, as far as the other keys of its level)"
)
TAB_INDENTATION = "this line is indented with a tab; YAML forbids tabs for indentation, use spaces"
TAB = "a tab where YAML allows only spaces; use spaces"

# What the parser says when a line is indented wrongly (and, sometimes, for other reasons:
# the lines around it decide).
_INDENTATION_SYMPTOMS = (
    "mapping values are not allowed here",
    "expected <block end>",
    "could not find expected ':'",
    "did not find expected key",
    "did not find expected '-' indicator",
)
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_COMMENT = re.compile(r"(^|\s)#.*$")
_KEY = re.compile(r"""^(?:"[^"]*"|'[^']*'|[^\s"'\[{][^#]*?)\s*:(?:\s|$)""")
_OPENS = re.compile(r":(?:\s+[&!]\S*)*$")  # `key:`, or `key: &anchor` with the value below


def syntax_problem(path: str, text: str, exc: YAMLError) -> Problem:
    """The parser's error as a problem at its line and column, with the likely cause."""
    if not isinstance(exc, MarkedYAMLError):
        return Problem(path, 1, 1, f"invalid YAML: {exc}")
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line, mark.column) if mark else (0, 0)
    lines = _LINE_BREAK.split(text)  # the parser's line breaks, so its line numbers match
    found = exc.problem or exc.context or ""
    if "'\\t'" in found:
        tabbed = line < len(lines) and "\t" in _indentation(lines[line])
        wording = TAB_INDENTATION if tabbed else TAB
        return Problem(path, line + 1, col + 1, f"invalid YAML: {wording}")
    message = f"invalid YAML: {found}"
    if exc.context and exc.problem and exc.context_mark and exc.context_mark is not mark:
        cm = exc.context_mark
        message += f" ({exc.context} started at {cm.line + 1}:{cm.column + 1})"
    if any(symptom in found for symptom in _INDENTATION_SYMPTOMS):
        for suspect in dict.fromkeys((line, *_simple_key_line(exc))):
            if _misindented(lines, suspect):
                start = len(_indentation(lines[suspect]))
                return Problem(path, suspect + 1, start + 1, f"{message} — {INDENTATION}")
    return Problem(path, line + 1, col + 1, message)


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _simple_key_line(exc: MarkedYAMLError) -> tuple[int, ...]:
    """The line of a key the parser was still reading when it gave up, if any."""
    if exc.context == "while scanning a simple key" and exc.context_mark is not None:
        return (exc.context_mark.line,)
    return ()


@dataclass(frozen=True)
class _Line:
    """What one line says about indentation: where it starts, the columns a later line may
    line up with (its text, a list item's dash, a key after the dash), and the column a
    first child must pass when the line opens a block (`key:` or a bare `-`), else None."""

    indent: int
    dash: bool
    levels: tuple[tuple[int, bool], ...]  # (column, is a dash)
    opens: int | None


def _read(raw: str) -> _Line | None:
    body = raw.lstrip(" ")
    if not body.strip() or body.startswith("#"):
        return None
    indent = col = len(raw) - len(body)
    levels: list[tuple[int, bool]] = []
    while body == "-" or body.startswith(("- ", "-\t")):
        levels.append((col, True))
        rest = body[1:].lstrip(" \t")
        col += len(body) - len(rest)
        body = rest
    code = _COMMENT.sub("", body).rstrip()
    if code and (not levels or _KEY.match(code)):  # after a dash, only a key opens a level
        levels.append((col, False))
    if _OPENS.search(code):
        opens: int | None = col
    elif not code and levels:
        opens = levels[-1][0]
    else:
        opens = None
    return _Line(indent, bool(levels) and levels[0][1], tuple(levels), opens)


def _misindented(lines: list[str], index: int) -> bool:
    """Whether a line lines up with no line it could belong to: neither a first child of
    the line above it (deeper than its key, or a list at the key's own column) nor a
    sibling of any line it is nested in."""
    if not 0 <= index < len(lines):
        return False
    line = _read(lines[index])
    above = [parsed for parsed in map(_read, reversed(lines[:index])) if parsed is not None]
    if line is None or not above:
        return False
    opens = above[0].opens
    if opens is not None and (line.indent > opens or (line.dash and line.indent == opens)):
        return False
    allowed: set[tuple[int, bool]] = set()
    lowest = math.inf
    for parsed in above:
        if parsed.indent <= lowest:
            allowed.update(parsed.levels)
            lowest = parsed.indent
    return (line.indent, line.dash) not in allowed
