"""Polling passes of one site, each timed alone, in a process of their own.

    BRIDGE_REDMINE_URL=… BRIDGE_REDMINE_API_KEY=… BRIDGE_DATABASE_URL=… \\
        python -m bench.reconcile_pass --site redmine [--cursor ISO] [--passes 2]

The service is built from the settings as `bridge sweep reconcile` builds it, with the
production transport (aiohttp) wrapped to note every tracker request on the bridge's side.
Each pass is `Jobs.reconcile` (what the scheduler of `bridge serve` runs every poll interval):
search, read journals, queue. Unlike `bridge sweep reconcile`, nothing takes the queued
changes up afterwards, so a pass's time and requests are the pass's alone and the tracker is
left as it was (the next pass finds nothing new). The passes run one after the other in this
process, as `bridge serve` would run them, so the second finds the look-ups cached.

`--cursor` moves the reconcile cursor there first (where the last pass ended). Prints one JSON
document on stdout: each pass's seconds, tickets seen, changes queued, the requests it made
(method, path, query, monotonic time sent), and the process's peak RSS (VmHWM) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx


class NotingTransport(httpx.AsyncBaseTransport):
    """The transport the bridge would use, noting each request as it goes out."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append({"method": request.method, "path": request.url.path,
                          "query": request.url.query.decode(), "at": time.monotonic()})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def passes(site_name: str | None, cursor: datetime | None, count: int) -> list[dict[str, Any]]:
    from httpx_aiohttp import AiohttpTransport

    from bridge.app import create_app
    from bridge.config import Settings
    from bridge.jobs.command import close_services
    from bridge.jobs.reconcile import JOB

    # as `site_client` builds it when no transport is given
    noting = NotingTransport(AiohttpTransport(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)))
    services = create_app(Settings(), transport=noting).app.state.services
    site = services.site(site_name)
    done = []
    try:
        if cursor is not None:
            site.jobs.records.move_cursor(JOB, site.name, cursor)
        for _ in range(count):
            noting.sent.clear()
            started = time.monotonic()
            found = await site.jobs.reconcile()
            ended = time.monotonic()
            if found is None:
                raise RuntimeError("another process held the reconcile lock")
            done.append({"seconds": ended - started, "started": started, "ended": ended,
                         "since": found.since.isoformat(), "seen": found.seen, "missed": len(found.missed),
                         "queued": found.queued, "refused": found.refused, "requests": list(noting.sent)})
    finally:
        await close_services(services)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile_pass", description=__doc__.splitlines()[0])
    parser.add_argument("--site", help="which site (default: the first configured)")
    parser.add_argument("--cursor", type=datetime.fromisoformat, help="move the reconcile cursor here first")
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args(argv)
    done = asyncio.run(passes(args.site, args.cursor, args.passes))
    status = Path("/proc/self/status").read_text()
    peak = re.search(r"VmHWM:\s+(\d+)", status)
    json.dump({"passes": done, "peak_rss_kb": int(peak[1]) if peak else 0}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
