"""Run the Redmine stand-in as a process, for end-to-end tests of the real service.

    python -m tests.redmine_standin --port 0 --key KEY [--state-file seed.json]

Once it listens it prints one line, `REDMINE-STANDIN READY http://HOST:PORT`, to stdout; with
--port 0 the port is the one the system picked. Redmine's REST API is then at the root
(`http://HOST:PORT/issues.json`), which is what the bridge's Redmine URL names. `--key` is
the API key of the bridge's user, bridgebot, on start and on every reset that names none. A
state file holds the same JSON document as `POST /_standin/reset` (the default seed's
sections replaced by those given; faults, webhook).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from tests.standin.__main__ import serve

from .app import create_app
from .state import RedmineStandin

READY = "REDMINE-STANDIN READY"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.redmine_standin",
                                     description="Run the Redmine stand-in as a process.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--key", help="bridgebot's API key (default: bridge-key)")
    parser.add_argument("--state-file", type=Path, help="JSON seed, as for POST /_standin/reset")
    args = parser.parse_args(argv)
    seed = json.loads(args.state_file.read_text("utf-8")) if args.state_file else {}
    standin = RedmineStandin(key=args.key)
    standin.load(seed)
    asyncio.run(serve(create_app(standin), args.host, args.port, READY))


if __name__ == "__main__":
    main()
