"""One drill's result as a row, and the markdown table `make drills` prints and keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """`figures`: what was measured, by name, in the order they are shown. `failures`: what
    should have held and did not, in words (empty: the drill passed)."""

    name: str
    database: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures and not self.note.startswith("not run")

    def expect(self, holds: bool, what: str) -> None:
        """Record `what` as a failure unless it `holds`."""
        if not holds:
            self.failures.append(what)

    def verdict(self) -> str:
        if self.note.startswith("not run"):
            return "not run"
        return "pass" if not self.failures else "FAIL: " + "; ".join(self.failures)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(rows: Iterable[Row]) -> str:
    lines = ["| drill | database | figures | result |", "| --- | --- | --- | --- |"]
    for row in rows:
        figures = ", ".join(f"{name} {_cell(value)}" for name, value in row.figures.items())
        if row.note:
            figures = f"{figures} ({_cell(row.note)})" if figures else _cell(row.note)
        lines.append(f"| {row.name} | {row.database} | {figures} | {_cell(row.verdict())} |")
    return "\n".join(lines) + "\n"
