"""Bounds on what a workflow file may describe, enforced before anything expands it.

A YAML file can describe far more than it holds: ten lines of aliases that name aliases
(the "billion laughs") stand for hundreds of millions of values, a few kilobytes of brackets
nest deeper than Python's stack, and a file of many megabytes takes the parser minutes. The
loader copies what it reads into plain values for validation, and the service reloads the
folder from its scheduler, so one such file would exhaust the memory, the stack or the
time of every check and every reload. Real workflows are a few kilobytes with a handful of
anchors; the bounds lie far above them and far below harm.

The size is checked before the file is read. Depth and alias expansion are counted on the
parser's events as the composer takes them, so a file is refused at the event that crosses
a bound: before the composer recurses any deeper, and without expanding a single alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)
from ruamel.yaml.parser import RoundTripParser

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_ALIAS_VALUES = 10_000


class LimitExceeded(Exception):
    """A file beyond a bound, with the 1-based line and column where it crossed it."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def read_text(path: Path) -> str:
    """The file's text, refused by its size before it is read (and read no further than
    the bound, should it grow in between)."""
    size = path.stat().st_size
    if size <= MAX_FILE_BYTES:
        with path.open(encoding="utf-8") as f:
            text = f.read(MAX_FILE_BYTES + 1)
        if len(text) <= MAX_FILE_BYTES:
            return text
        size = path.stat().st_size  # it grew while being read
    raise LimitExceeded(
        f"file is {_size(size)}; workflow files may be at most {MAX_FILE_BYTES // 10**6} MB"
    )


def _size(n: int) -> str:
    return f"{n // 10**6} MB" if n >= 10 * 10**6 else f"{n:,} bytes"


def bounded_yaml() -> YAML:
    """A round-trip YAML loader whose parser refuses what crosses a bound (LimitExceeded)."""
    yaml = YAML(typ="rt")
    yaml.Parser = _BoundedParser
    return yaml


class _BoundedParser(RoundTripParser):
    """Every event the composer takes passes `get_event`: the one place to count them."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self._count = _Count()

    def get_event(self) -> Any:
        event = super().get_event()
        if isinstance(event, DocumentStartEvent):
            self._count = _Count()  # anchors belong to one document
        elif event is not None:
            self._count.see(event)
        return event


@dataclass
class _Open:
    """A collection being composed: the values counted before it, its level, and the
    deepest level reached inside it so far (aliases followed)."""

    anchor: str | None
    start: int
    level: int
    deepest: int


TOO_DEEP = f"nesting deeper than {MAX_DEPTH} levels"
ALIAS_BOMB = f"aliases would expand to more than {MAX_ALIAS_VALUES} values (YAML alias bomb?)"
ALIAS_LOOP = "alias '*{}' is used inside the value it names, which never ends"


class _Count:
    """Values and levels of one document as it would be with every alias followed.

    Each anchor remembers how many values and levels what it names expands to, so an alias
    adds its whole expansion in one step, however many aliases it holds in turn.
    """

    def __init__(self) -> None:
        self.values = 0
        self.by_aliases = 0
        self.open: list[_Open] = []
        self.anchors: dict[str, _Open | tuple[int, int]] = {}  # still open, or (values, levels)

    def see(self, event: Any) -> None:
        if isinstance(event, ScalarEvent):
            self.values += 1
            if event.anchor is not None:
                self.anchors[event.anchor] = (1, 0)
        elif isinstance(event, CollectionStartEvent):
            self._start(event)
        elif isinstance(event, CollectionEndEvent):
            self._end()
        elif isinstance(event, AliasEvent):
            self._alias(event)

    def _start(self, event: Any) -> None:
        level = len(self.open) + 1
        if level > MAX_DEPTH:
            raise _crossed(TOO_DEEP, event)
        frame = _Open(event.anchor, self.values, level, level)
        self.values += 1
        self.open.append(frame)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = frame

    def _end(self) -> None:
        frame = self.open.pop()
        if self.open:
            self.open[-1].deepest = max(self.open[-1].deepest, frame.deepest)
        if frame.anchor is not None and self.anchors.get(frame.anchor) is frame:
            levels = frame.deepest - frame.level + 1
            self.anchors[frame.anchor] = (self.values - frame.start, levels)

    def _alias(self, event: Any) -> None:
        named = self.anchors.get(event.anchor)
        if named is None:
            return  # an undefined alias: the composer says so
        if isinstance(named, _Open):
            raise _crossed(ALIAS_LOOP.format(event.anchor), event)
        values, levels = named
        self.values += values
        self.by_aliases += values
        if self.by_aliases > MAX_ALIAS_VALUES:
            raise _crossed(ALIAS_BOMB, event)
        reach = len(self.open) + levels
        if reach > MAX_DEPTH:
            raise _crossed(TOO_DEEP, event)
        if self.open:
            self.open[-1].deepest = max(self.open[-1].deepest, reach)


def _crossed(message: str, event: Any) -> LimitExceeded:
    mark = event.start_mark
    return LimitExceeded(message, mark.line + 1, mark.column + 1)
