"""Hostile workflow files: each put beside the shipped workflows, given to `bridge check` and
dropped into the folder a running service reloads from.

What must hold: each is refused (check exits non-zero; the service keeps its workflows and
says what it refused), within bounded time and memory, and nothing in a file is executed."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, measured_cli, peak_rss_kb
from drills.slow_tracker import rss_kb
from drills.table import Row
from drills.world import served, workdir
from tests.e2e.service import wait_until

BOUND_SECONDS = 30  # far beyond what refusing takes; a hang or a blow-up crosses it
BOUND_MB = 600
SIZES = {"long": 10, "short": 1}  # how large the large cases are made


def laughs(scale: int) -> bytes:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9 + scale // 5):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return ("\n".join(lines) + "\n").encode()


# a workflow name that is no regular file (a device, a FIFO) is passed over, never read
IGNORED = {"endless (/dev/zero)"}


def cases(scale: int, folder: Path) -> dict[str, Callable[[Path], None]]:
    """name → what writes the hostile file at a path."""
    marker = folder / "EXECUTED"
    return {
        "billion laughs": lambda p: p.write_bytes(laughs(scale)),
        "deep flow nesting": lambda p: p.write_bytes(b"name: x\nsteps: " + b"[" * 50_000 * scale + b"\n"),
        "deep block nesting": lambda p: p.write_bytes(
            b"".join(b"  " * i + b"k:\n" for i in range(2000 * scale))),
        "oversized": lambda p: p.write_bytes(b"# padding\n" * 150_000 * scale),
        "900 kB scalar": lambda p: p.write_bytes(b"name: " + b"x" * 900_000 + b"\n"),
        "invalid UTF-8 and NUL": lambda p: p.write_bytes(b"name: \xff\xfe\x00\x00 \xc3\x28\n" * 100),
        "python tag": lambda p: p.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n'),
        "endless (/dev/zero)": lambda p: p.symlink_to("/dev/zero"),
        "not a mapping": lambda p: p.write_text("- just\n- a\n- list\n"),
    }


def _limited() -> None:
    limit = BOUND_MB * 2 * 1024 * 1024  # a runaway fails here rather than taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def check_folder(folder: Path) -> tuple[int | None, float, int, str]:
    """`bridge check folder`: (exit status or None on timeout, seconds, peak RSS kB, what it printed)."""
    began = time.monotonic()
    try:
        done = subprocess.run(measured_cli("check", str(folder)), capture_output=True, text=True,
                              timeout=BOUND_SECONDS * 2, cwd=folder, preexec_fn=_limited,
                              env={k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")})
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - began, 0, "timed out"
    return done.returncode, time.monotonic() - began, peak_rss_kb(done.stderr), done.stdout + done.stderr


def file_names(made: dict[str, Callable[[Path], None]]) -> dict[str, str]:
    return {name: f"hostile-{n}.yaml" for n, name in enumerate(made)}


def workflow_files(size: str = "short", database: str = "sqlite") -> Row:
    """All the hostile files at once: one `bridge check`, one reload (each must be named)."""
    row = Row("hostile workflow files", database)
    with workdir("workflows") as folder, served(folder, database, tracker=False, BRIDGE_LOG_LEVEL="WARNING") as (bridge, _, _u):
        made = cases(SIZES[size], folder)
        names = file_names(made)
        checked = folder / "checked"
        shutil.copytree(ROOT / "workflows", checked)
        for name, write in made.items():
            write(checked / names[name])
        code, check_seconds, peak, said = check_folder(checked)
        unnamed = [name for name in made if name not in IGNORED and names[name] not in said]
        row.expect(code not in (0, None), f"check exit {code}")
        row.expect(not unnamed, f"check did not refuse: {unnamed}")

        bridge.start()
        began = time.monotonic()
        for name, write in made.items():
            write(bridge.workflows / names[name])
        reload_unnamed = list(made)
        try:
            def refused() -> list[str]:
                listed = " ".join(bridge.readyz()[1].get("refused_workflow_change") or [])
                return [n for n in made if n not in IGNORED and names[n] not in listed]

            wait_until(lambda: not refused(), timeout=BOUND_SECONDS, every=0.2)
            reload_unnamed = []
        except AssertionError:
            reload_unnamed = refused()
        reload_seconds = time.monotonic() - began
        status, ready = bridge.readyz()
        alive = bridge.proc is not None and bridge.proc.poll() is None
        service_peak = rss_kb(bridge.proc.pid)[1] // 1024 if alive else 0  # type: ignore[union-attr]
        executed = (folder / "EXECUTED").exists()
        row.figures = {
            "files": len(made), "refused by check": len(made) - len(IGNORED) - len(unnamed),
            "refused on reload": len(made) - len(IGNORED) - len(reload_unnamed),
            "ignored (not a regular file)": len(IGNORED),
            "check s": round(check_seconds, 1), "reload s": round(reload_seconds, 1),
            "check peak RSS MB": peak // 1024, "service peak RSS MB": service_peak, "executed": int(executed),
        }
        row.expect(not reload_unnamed, f"reload did not refuse: {reload_unnamed}")
        row.expect(status == 200, f"the service lost its workflows: {ready}")
        row.expect(check_seconds < BOUND_SECONDS and peak // 1024 < BOUND_MB, "check beyond its bounds")
        row.expect(alive and service_peak < BOUND_MB, f"the service died or grew to {service_peak} MB")
        row.expect(not executed, "a tag in a workflow file ran a command")
    return row
