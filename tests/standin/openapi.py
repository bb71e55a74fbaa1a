"""Jira's REST API as its OpenAPI describes it: which path templates exist, for which methods.

Real Jira refuses endpoints its OpenAPI does not describe; so does the stand-in, reading
tests/fixtures/jira-openapi-paths.json (which also holds the ADF schema, see adf.py).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "jira-openapi-paths.json"


@functools.cache
def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text("utf-8"))


def resolve(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(REST version, v3 path template, path parameters) of a Jira operation, or None.

    REST v2 (Data Center, and Cloud's older API) has the same templates as v3. Among matching
    templates the one with the most literal segments wins, as `issue/picker` beats
    `issue/{issueIdOrKey}`.
    """
    version = "3"
    api = re.fullmatch(r"/rest/api/(2|3|latest)(/.*)?", path)
    if api:
        version = "3" if api[1] == "3" else "2"
        path = "/rest/api/3" + (api[2] or "")
    segments = path.strip("/").split("/")
    best: tuple[int, str, dict[str, str]] | None = None
    for template, methods in load_spec()["paths"].items():
        parts = template.strip("/").split("/")
        if method not in methods or len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            literal = len(parts) - len(params)
            if best is None or literal > best[0]:
                best = (literal, template, params)
    return None if best is None else (version, best[1], best[2])


def methods_of(path: str) -> list[str]:
    """The methods Jira's OpenAPI offers on `path` (empty: no such path), for a 405's Allow."""
    return [m for m in ("GET", "POST", "PUT", "DELETE", "PATCH") if resolve(m, path) is not None]
