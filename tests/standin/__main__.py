"""Run the Jira stand-in as a process, for end-to-end tests of the real service.

    python -m tests.standin --port 0 [--state-file seed.json] [--deployment datacenter]

Once it listens it prints one line, `JIRA-STANDIN READY http://HOST:PORT`, to stdout; with
--port 0 the port is the one the system picked. A state file holds the same JSON document as
`POST /_standin/reset` (deployment, account, credentials, statuses, transitions, issues, users,
faults, webhook, organizations_field).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .state import JiraStandin

READY = "JIRA-STANDIN READY"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.standin",
                                     description="Run the Jira stand-in as a process.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    parser.add_argument("--state-file", type=Path, help="JSON seed, as for POST /_standin/reset")
    parser.add_argument("--deployment", choices=["cloud", "datacenter"])
    parser.add_argument("--credentials", action="append", metavar="USER:TOKEN|TOKEN",
                        help="accepted Basic user:token or Bearer token (repeatable; default: any)")
    args = parser.parse_args(argv)
    seed = json.loads(args.state_file.read_text("utf-8")) if args.state_file else {}
    if args.deployment:
        seed["deployment"] = args.deployment
    if args.credentials:
        seed["credentials"] = args.credentials
    standin = JiraStandin()
    standin.load(seed)
    asyncio.run(serve(create_app(standin), args.host, args.port))


async def serve(app: Starlette, host: str, port: int, ready: str = READY) -> None:
    """Serve on a socket bound here, so that the port is known before announcing it as
    `<ready> http://HOST:PORT`."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)  # so asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        url_host = f"[{host}]" if ":" in host else host
        print(f"{ready} http://{url_host}:{sock.getsockname()[1]}", flush=True)
    await serving


if __name__ == "__main__":
    main()
