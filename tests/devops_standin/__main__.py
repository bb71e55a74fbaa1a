"""Run the Azure DevOps stand-in as a process, for end-to-end tests of the real service.

    python -m tests.devops_standin --port 0 --token PAT [--organization example-org]
        [--project ERP] [--state-file seed.json]

Once it listens it prints one line, `DEVOPS-STANDIN READY http://HOST:PORT`, to stdout; with
--port 0 the port is the one the system picked. The project's REST API is then under
`http://HOST:PORT/{organization}/{project}/_apis/wit/…`, which is what BRIDGE_DEVOPS_URL
names (`http://HOST:PORT/example-org/ERP`). A state file holds the same JSON document as
`POST /_standin/reset` (organization, project, token, account, items, hook, faults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from tests.standin.__main__ import serve

from .app import create_app
from .state import DevOpsStandin

READY = "DEVOPS-STANDIN READY"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.devops_standin",
                                     description="Run the Azure DevOps stand-in as a process.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--token", help="the personal access token accepted (default: any)")
    parser.add_argument("--organization", help="default example-org; a Server collection may be "
                                               "tfs/DefaultCollection")
    parser.add_argument("--project", help="default ERP")
    parser.add_argument("--state-file", type=Path, help="JSON seed, as for POST /_standin/reset")
    args = parser.parse_args(argv)
    seed = json.loads(args.state_file.read_text("utf-8")) if args.state_file else {}
    for name in ("token", "organization", "project"):
        if getattr(args, name):
            seed[name] = getattr(args, name)
    standin = DevOpsStandin()
    standin.load(seed)
    asyncio.run(serve(create_app(standin), args.host, args.port, READY))


if __name__ == "__main__":
    main()
