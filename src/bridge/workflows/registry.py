"""The workflows in force, reloaded when their files change.

A change that does not validate is refused: its problems are logged as `path:line:col:
message` and the previous workflows stay in force. So is a reload that fails in any other
way: it runs in the scheduler, where an exception would only be logged by the scheduler and
leave `/readyz` saying all is well, so the failure becomes a refused change too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bridge.workflows.loader import Problem, WorkflowError, WorkflowSet, load_dir

log = logging.getLogger(__name__)


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError:
        return ()
    out = []
    for p in files:
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((p.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class WorkflowRegistry:
    """`load` reads a folder into a set, or raises WorkflowError with its problems."""

    def __init__(self, folder: Path, load: Callable[[Path], WorkflowSet] = load_dir) -> None:
        self.folder = folder
        self._load = load
        self._signature = _signature(folder)
        self.current: WorkflowSet = load(folder)  # start-up fails on a broken folder
        self.last_problems: list[Problem] = []

    def reload_if_changed(self) -> bool:
        """Load the folder again if any file changed; True when new workflows took effect."""
        signature = _signature(self.folder)
        if signature == self._signature:
            return False
        self._signature = signature
        return self.reload()

    def reload(self) -> bool:
        """Load the folder; on any failure keep the workflows in force and show why."""
        try:
            loaded = self._load(self.folder)
        except WorkflowError as exc:
            return self._refuse(exc.problems)
        except Exception as exc:
            log.exception("loading the workflows in %s failed", self.folder)
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._refuse([Problem(str(self.folder), 1, 1, f"could not load ({why})")])
        self.current = loaded
        self.last_problems = []
        log.info("workflows loaded: %s", ", ".join(loaded.names))
        return True

    def _refuse(self, problems: list[Problem]) -> bool:
        self.last_problems = list(problems)
        for problem in problems:
            log.error("workflow change refused: %s", problem)
        log.error("the previous %d workflow(s) stay in force", len(self.current))
        return False
