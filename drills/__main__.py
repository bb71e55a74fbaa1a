"""`python -m drills` (what `make drills` runs): every drill's long version, one row each.

Prints the table (markdown) and writes it, with the date and the machine, to
drills/results/latest.md (git-ignored). Everything a drill starts it stops.

    .venv/bin/python -m drills [--size short|long] [--only crash,outage,...]

Exit status: 0 when every drill passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from drills.table import Row, markdown

RESULTS = Path(__file__).resolve().parent / "results"


def plan() -> list[tuple[str, str, Callable[[str, str], Row]]]:
    """(name, database, drill): the order the table shows them in."""
    from drills import access, clients, crash, database, hostile, outage, slow_tracker, workflow_files

    return [
        ("crash", "sqlite", crash.crash),
        ("crash", "postgresql", crash.crash),
        ("outage", "sqlite", outage.outage),
        ("slow", "sqlite", slow_tracker.slow_tracker),
        ("access", "sqlite", access.access),
        ("hostile", "sqlite", hostile.hostile),
        ("workflows", "sqlite", workflow_files.workflow_files),
        ("clients", "sqlite", clients.slow_clients),
        ("database", "sqlite", database.held_lock),
        ("database", "sqlite", database.full_disk),
        ("database", "postgresql", database.postgres_restart),
    ]


def run_one(name: str, database: str, drill: Callable[[str, str], Row], size: str) -> Row:
    started = time.monotonic()
    print(f"[drills {time.strftime('%H:%M:%S')}] {name} on {database} ({size})", file=sys.stderr, flush=True)
    try:
        row = drill(size, database)
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:  # PostgreSQL not there
        row = Row(name, database, note=f"not run: {exc}")
    except Exception as exc:
        traceback.print_exc()
        row = Row(name, database, failures=[f"the drill broke: {type(exc).__name__}: {exc}"])
    print(f"[drills] {name} on {database}: {row.verdict()} in {time.monotonic() - started:.0f}s",
          file=sys.stderr, flush=True)
    return row


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["long", "short"], default="long")
    parser.add_argument("--only", default="", help="comma-separated drill names")
    args = parser.parse_args(argv)
    wanted = {name for name in args.only.split(",") if name}
    rows = [run_one(name, database, drill, args.size) for name, database, drill in plan()
            if not wanted or name in wanted]
    table = markdown(rows)
    header = f"Drills ({args.size}), {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}\n\n"
    print(header + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(header + table, "utf-8")
    return 0 if all(row.passed or row.note.startswith("not run") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
