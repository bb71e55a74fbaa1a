"""Shared plumbing of the benchmarks: child processes, ports, signing, percentiles.

Every process a benchmark starts is a `Child`: started with its own log file, stopped by
its own pid (SIGTERM, then SIGKILL after a grace period), and registered so that whatever
happens (an exception, Ctrl-C) `stop_all()` stops exactly those processes and no others.
Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "jira"
WORKFLOWS = ROOT / "workflows"
PYTHON = sys.executable
# the `bridge` console script beside this Python; BENCH_BRIDGE="cmd args" replaces it (to compare
# another build or a patched copy; it is run as `<cmd> serve --host H --port P`)
BRIDGE = os.environ.get("BENCH_BRIDGE") or str(Path(sys.executable).with_name("bridge"))
HOST = "127.0.0.1"
SECRET = "bench-webhook-secret"
JIRA_USER, JIRA_TOKEN = "bridge@example.com", "bench-api-token"

_children: list[Child] = []


class BenchError(RuntimeError):
    """A benchmark could not run (a process did not start, a tool is missing)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment less any BRIDGE_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(extra)
    return env


class Child:
    """One process started by a benchmark; its output goes to `log_path`."""

    def __init__(self, name: str, argv: list[str], *, log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path = ROOT, stdout_pipe: bool = False) -> None:
        self.name = name
        self.log_path = log_path
        self.frozen = False
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._log, stderr=self._log,
        )
        _children.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU this process has used so far (all its threads)."""
        try:
            raw = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = raw[raw.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def check_alive(self) -> None:
        if not self.alive():
            raise BenchError(f"{self.name} exited with {self.proc.returncode}; its log:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def freeze(self) -> None:
        """SIGSTOP: the process stays as it is, using no CPU, until `thaw()`."""
        if self.alive():
            self.proc.send_signal(signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def memory_mb(self) -> dict[str, float]:
        """Its resident memory now and its peak so far (VmRSS, VmHWM), in MB."""
        return memory_mb(self.pid)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM this process (by its pid), SIGKILL it after `grace` seconds."""
        if self.frozen:
            self.thaw()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {grace}s; killing it")
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        if self in _children:
            _children.remove(self)
        return self.proc.returncode


def on_termination() -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does, so that `finally: stop_all()` runs and
    every process started is stopped (the default action would leave them running)."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, interrupt)


def stop_all() -> None:
    for child in reversed(list(_children)):
        try:
            child.stop(grace=5)
        except Exception as exc:  # keep stopping the others
            log(f"could not stop {child.name} (pid {child.pid}): {exc}")


def finish_run(part: str, tmp: Path, results: dict[str, Any], *, ok: bool, keep: bool) -> None:
    """Stop what the part started; drop its work dir unless it failed or was asked to stay."""
    stop_all()
    if ok and not keep:
        shutil.rmtree(tmp, ignore_errors=True)
        results.pop("workdir", None)
    else:
        log(f"{part}: logs and databases kept in {tmp}")


def wait_until(check: Callable[[], object], *, timeout: float, what: str,
               child: Child | None = None, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while True:
        if child is not None:
            child.check_alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"; its log:\n{child.tail()}" if child is not None else ""
            raise BenchError(f"{what} not within {timeout:.0f}s{extra}")
        time.sleep(every)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def add_run_options(parser: Any) -> None:
    """The options every part takes: log level, keeping the work dir, JSON, extra settings."""
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    parser.add_argument("--bridge-env", action="append", default=[], metavar="BRIDGE_X=VALUE",
                        help="extra setting for the bridge (experiments; repeatable)")


def run_part(parser: Any, argv: list[str] | None, run: Any, report: Any,
             options: Any) -> None:
    """A part's command line: parse, run with `options(args)` and the common run options,
    print the report (and the JSON with --json)."""
    args = parser.parse_args(argv)
    on_termination()
    results = run(**options(args), log_level=args.log_level, keep=args.keep,
                  bridge_env=env_pairs(parser, args.bridge_env))
    print(report(results))
    if args.json:
        print(json.dumps(results, indent=2))


def env_pairs(parser: Any, pairs: list[str]) -> dict[str, str]:
    """`BRIDGE_X=value` options as a dict (argparse error otherwise)."""
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("BRIDGE_"):
            parser.error(f"--bridge-env wants BRIDGE_NAME=value, not {pair!r}")
        found[name] = value
    return found


def start_bridge(workdir: Path, *, port: int, log_level: str, **env: str) -> Child:
    """`bridge serve` on its own fresh SQLite file in `workdir`, ready to take deliveries."""
    db = workdir / "bridge.db"
    child = Child(
        "bridge",
        [*shlex.split(BRIDGE), "serve", "--host", HOST, "--port", str(port)],
        log_path=workdir / "bridge.log",
        cwd=workdir,
        env=clean_env(
            BRIDGE_DATABASE_URL=f"sqlite:///{db}",
            BRIDGE_WORKFLOWS_DIR=str(WORKFLOWS),
            BRIDGE_JIRA_WEBHOOK_SECRET=SECRET,
            BRIDGE_LOG_LEVEL=log_level,
            **env,
        ),
    )
    wait_until(lambda: http_ok(f"http://{HOST}:{port}/readyz"), timeout=30,
               what="the bridge answering /readyz", child=child)
    return child


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    """pid → (command name, user+system clock ticks so far), from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        found[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
    return found


def _system_seconds() -> tuple[float, float]:
    """(busy, stolen): CPU time the whole machine (all cores) has spent busy so far, and the
    time the hypervisor gave to others while this VM wanted to run, from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _own_seconds() -> float:
    """CPU time of this process plus its children that have been waited for (wrk, ...)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuWatch:
    """CPU used by others than this benchmark during a measured window.

    Other engineers' test runs on the same 2-core machine skew the figures; this names them so
    that a reader can discard a disturbed run. `start()` and `stop()` bracket the window. Two
    views: processes still alive at `stop()` that used ≥ limit % of a core, and the machine's
    busy time not accounted for by this benchmark's processes (which also catches short-lived
    processes, e.g. a test run that came and went).
    """

    def __init__(self, limit_pct: float = 5.0, unaccounted_limit_pct: float = 25.0,
                 steal_limit_pct: float = 15.0) -> None:
        self.limit_pct = limit_pct
        self.unaccounted_limit_pct = unaccounted_limit_pct
        self.steal_limit_pct = steal_limit_pct
        self._before: dict[int, tuple[str, int]] = {}
        self._started = 0.0
        self._system = self._steal = self._own = 0.0
        self.unaccounted_pct: float | None = None
        self.steal_pct: float | None = None

    def start(self) -> None:
        self._before, self._started = _cpu_ticks(), time.monotonic()
        (self._system, self._steal), self._own = _system_seconds(), _own_seconds()

    def stop(self, ours: set[int]) -> list[str]:
        """What disturbed the window, as readable strings (empty: nothing did)."""
        after, seconds = _cpu_ticks(), max(time.monotonic() - self._started, 1e-3)
        system, steal = _system_seconds()
        system, steal = system - self._system, steal - self._steal
        own = _own_seconds() - self._own
        hz = os.sysconf("SC_CLK_TCK")
        ours = ours | {os.getpid()}
        busy = []
        for pid, (name, total) in after.items():
            base = self._before.get(pid, (name, 0))[1]
            if pid in ours:
                own += (total - base) / hz
                continue
            if name == "wrk":
                continue
            pct = (total - base) / hz / seconds * 100
            if pct >= self.limit_pct:
                busy.append(f"{name}[{pid}] {pct:.0f}%")
        self.unaccounted_pct = round(max(system - own, 0.0) / seconds * 100, 1)
        self.steal_pct = round(steal / seconds * 100, 1)
        if self.unaccounted_pct >= self.unaccounted_limit_pct and not busy:
            busy.append(f"unaccounted CPU {self.unaccounted_pct:.0f}% of a core")
        if self.steal_pct >= self.steal_limit_pct:
            busy.append(f"hypervisor steal {self.steal_pct:.0f}% of a core")
        return busy


def our_pids() -> set[int]:
    return {child.pid for child in _children}


def read_line(child: Child, timeout: float) -> str:
    """The next line `child` prints on its stdout (piped), within `timeout` seconds."""
    import selectors

    assert child.proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(child.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise BenchError(f"{child.name} printed nothing within {timeout:.0f}s; its log:\n{child.tail()}")
    line = child.proc.stdout.readline()
    if not line:
        child.check_alive()
        raise BenchError(f"{child.name} closed its stdout")
    return line.decode("utf-8", "replace").strip()


def start_standin(tmp: Path, timeout: float) -> tuple[Child, str]:
    """The Jira stand-in seeded from `tmp/seed.json`, and its URL once it listens."""
    standin = Child("jira stand-in", [PYTHON, "-m", "tests.standin", "--host", HOST, "--port", "0",
                                      "--state-file", str(tmp / "seed.json")],
                    log_path=tmp / "standin.log", stdout_pipe=True)
    line = read_line(standin, timeout=timeout)
    if not line.startswith("JIRA-STANDIN READY "):
        raise BenchError(f"unexpected first line from the stand-in: {line!r}")
    return standin, line.split()[-1]


def start_jira_bridge(
    tmp: Path, jira: str, *, log_level: str, bridge_env: dict[str, str] | None = None
) -> tuple[Child, Path, str]:
    """`bridge serve` in `tmp/bridge` acting on the Jira stand-in at `jira`: the process,
    its SQLite file and its webhook URL."""
    (tmp / "bridge").mkdir()
    port = free_port()
    bridge = start_bridge(tmp / "bridge", port=port, log_level=log_level,
                          BRIDGE_JIRA_URL=jira, BRIDGE_JIRA_USER=JIRA_USER,
                          BRIDGE_JIRA_TOKEN=JIRA_TOKEN, BRIDGE_JIRA_DEPLOYMENT="cloud",
                          **(bridge_env or {}))
    return bridge, tmp / "bridge" / "bridge.db", f"http://{HOST}:{port}/webhooks/jira"


# `bridge ARGS` in a process that reports its own peak RSS as it ends: VmHWM, which starts
# afresh with the process (getrusage's maxrss is carried over from the parent on exec)
MEASURED_CLI = """
import re, sys
from bridge.cli import main
sys.argv = ["bridge", *sys.argv[1:]]
try:
    main()
except SystemExit as end:
    code = end.code
status = open("/proc/self/status").read()
print("PEAK_RSS_KB", re.search(r"VmHWM:\\s+(\\d+)", status)[1], file=sys.stderr)
sys.exit(code)
"""


def measured_cli(*args: str) -> list[str]:
    """The command line of `bridge ARGS` reporting its peak RSS (see `peak_rss_kb`)."""
    return [PYTHON, "-c", MEASURED_CLI, *args]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a running process, in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {"rss_mb": 0.0, "peak_rss_mb": 0.0}
    found = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
             if line.startswith(("VmRSS:", "VmHWM:"))}
    return {"rss_mb": round(found.get("VmRSS", 0) / 1024, 1),
            "peak_rss_mb": round(found.get("VmHWM", 0) / 1024, 1)}


def backlog(db: Path) -> int:
    """Deliveries in a bridge's SQLite inbox not finished yet (pending or being processed)."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'processing')").fetchone()
    return int(n)


def peak_rss_kb(stderr: str) -> int:
    return next((int(line.split()[1]) for line in stderr.splitlines() if line.startswith("PEAK_RSS_KB ")), 0)
