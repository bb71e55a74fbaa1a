"""The workflows in force, reloaded when their files change.

A change that does not validate is refused: its problems are logged as `path:line:col:
message` and the previous workflows stay in force.
"""

from __future__ import annotations

import logging
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
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._signature = _signature(folder)
        self.current: WorkflowSet = load_dir(folder)  # start-up fails on a broken folder
        self.last_problems: list[Problem] = []

    def reload_if_changed(self) -> bool:
        """Load the folder again if any file changed; True when new workflows took effect."""
        signature = _signature(self.folder)
        if signature == self._signature:
            return False
        self._signature = signature
        return self.reload()

    def reload(self) -> bool:
        try:
            loaded = load_dir(self.folder)
        except WorkflowError as exc:
            self.last_problems = list(exc.problems)
            for problem in exc.problems:
                log.error("workflow change refused: %s", problem)
            log.error("the previous %d workflow(s) stay in force", len(self.current))
            return False
        self.current = loaded
        self.last_problems = []
        log.info("workflows loaded: %s", ", ".join(loaded.names))
        return True
