"""The operations API against its own OpenAPI description (`/openapi.json`).

A client generated from the description must not meet surprises: every status documented
for an operation is what a representative request really gets, with a body of the
documented shape, and no representative request gets a status that is not documented.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.app import create_app
from bridge.config import Settings
from tests.conftest import load_fixture

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-token"}
SECRET = "webhook-secret"

# operation → documented status → (which service, method, url, headers)
OPEN, CLOSED, BROKEN = "open", "closed", "broken"
# with a tracker: one that answers (two done tickets), one that is down, and one whose two
# tickets name the same worklog, which the ledger refuses to bill twice
JIRA, DOWN, TWICE = "jira", "down", "twice"
FINANCE = {"Authorization": "Bearer finance-token"}
ADMIN_OF_OPEN = {"Authorization": "Bearer admin-token-of-another-service"}
REPLAY = "/api/deliveries/{delivery_id}/replay"
CASES: dict[tuple[str, str], dict[int, tuple[str, str, str, dict[str, str]]]] = {
    ("get", "/healthz"): {200: (OPEN, "GET", "/healthz", {})},
    ("get", "/readyz"): {200: (OPEN, "GET", "/readyz", {}), 503: (BROKEN, "GET", "/readyz", {})},
    ("get", "/api/decisions"): {
        200: (OPEN, "GET", "/api/decisions?ticket=SRV-412", ADMIN),
        401: (OPEN, "GET", "/api/decisions", {}),
        403: (CLOSED, "GET", "/api/decisions", ADMIN),
        422: (OPEN, "GET", "/api/decisions?limit=0", ADMIN),
    },
    ("get", "/api/attention"): {
        200: (OPEN, "GET", "/api/attention?limit=10", ADMIN),
        401: (OPEN, "GET", "/api/attention", {}),
        403: (CLOSED, "GET", "/api/attention", ADMIN),
        422: (OPEN, "GET", "/api/attention?limit=0", ADMIN),
    },
    ("get", "/api/deliveries"): {
        200: (OPEN, "GET", "/api/deliveries?state=done&body=true", ADMIN),
        401: (OPEN, "GET", "/api/deliveries", {"Authorization": "Bearer "}),
        403: (CLOSED, "GET", "/api/deliveries", ADMIN),
        422: (OPEN, "GET", "/api/deliveries?state=", ADMIN),
    },
    ("post", REPLAY): {
        200: (OPEN, "POST", "/api/deliveries/1/replay", ADMIN),
        401: (OPEN, "POST", "/api/deliveries/1/replay", {"Authorization": "Basic YTpi"}),
        403: (CLOSED, "POST", "/api/deliveries/1/replay", ADMIN),
        409: (OPEN, "POST", "/api/deliveries/99999/replay", ADMIN),
        422: (OPEN, "POST", f"/api/deliveries/{2**63}/replay", ADMIN),
    },
    ("get", "/api/billing/export"): {
        200: (JIRA, "GET", "/api/billing/export?month=2026-10&format=xlsx", FINANCE),
        401: (JIRA, "GET", "/api/billing/export?month=2026-10", ADMIN_OF_OPEN),
        403: (CLOSED, "GET", "/api/billing/export?month=2026-10", FINANCE),
        422: (JIRA, "GET", "/api/billing/export?from=2026-10-31&to=2026-10-01", FINANCE),
        502: (DOWN, "GET", "/api/billing/export?month=2026-10", FINANCE),
        503: (OPEN, "GET", "/api/billing/export?month=2026-10", ADMIN),
    },
    ("post", "/api/billing/runs"): {
        201: (JIRA, "POST", "/api/billing/runs?month=2026-10", FINANCE),
        401: (JIRA, "POST", "/api/billing/runs?month=2026-10", {}),
        403: (CLOSED, "POST", "/api/billing/runs?month=2026-10", FINANCE),
        409: (TWICE, "POST", "/api/billing/runs?month=2026-10", FINANCE),
        422: (JIRA, "POST", "/api/billing/runs?month=2026-13", FINANCE),
        502: (DOWN, "POST", "/api/billing/runs?month=2026-10", FINANCE),
        503: (OPEN, "POST", "/api/billing/runs?month=2026-10", ADMIN),
    },
    ("get", "/api/billing/runs"): {
        200: (JIRA, "GET", "/api/billing/runs", ADMIN),
        401: (JIRA, "GET", "/api/billing/runs", {"Authorization": "Bearer wrong"}),
        403: (CLOSED, "GET", "/api/billing/runs", FINANCE),
    },
    ("get", "/api/billing/runs/{run_id}"): {
        200: (JIRA, "GET", "/api/billing/runs/1?format=csv&granularity=worklog", FINANCE),
        401: (JIRA, "GET", "/api/billing/runs/1", {}),
        403: (CLOSED, "GET", "/api/billing/runs/1", FINANCE),
        422: (JIRA, "GET", "/api/billing/runs/99", FINANCE),
    },
    ("get", "/api/workflows"): {
        200: (OPEN, "GET", "/api/workflows", ADMIN),
        401: (OPEN, "GET", "/api/workflows", {"Authorization": "Bearer wrong"}),
        403: (CLOSED, "GET", "/api/workflows", ADMIN),
    },
}


def service(tmp_path: Path, name: str, transport: httpx.MockTransport | None = None, **settings: Any):  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()
    if transport is not None:
        settings |= {"jira_url": "https://jira.test", "jira_user": "bridge@example.com",
                     "jira_token": "api-token", "tracker_attempts": 1}
    return create_app(
        Settings(
            _env_file=None,
            database_url=f"sqlite:///{folder / 'bridge.db'}",
            workflows_dir=ROOT / "workflows",
            jira_webhook_secret=SECRET,
            **{"admin_token": "admin-token", "finance_token": "finance-token", **settings},
        ),
        transport=transport,
    )


def done_ticket(key: str, worklog: str) -> dict[str, Any]:
    """A service sheet done in October 2026, as Jira's search shows it."""
    logged = {"id": worklog, "author": {"displayName": "Petr"}, "timeSpentSeconds": 3600,
              "started": "2026-10-05T09:00:00.000+0200"}
    change = {"id": f"{key}-1", "created": "2026-10-20T12:00:00.000+0200",
              "author": {"accountId": "agent-1", "accountType": "atlassian"},
              "items": [{"field": "status", "fieldId": "status", "fromString": "Schváleno", "toString": "Hotovo"}]}
    fields = {"summary": f"Sestava {key}", "issuetype": {"name": "Servis"}, "status": {"name": "Hotovo"},
              "project": {"key": "SRV"}, "updated": "2026-10-20T12:00:00.000+0200",
              "reporter": {"displayName": "Jana"},
              "worklog": {"startAt": 0, "maxResults": 20, "total": 1, "worklogs": [logged]}}
    return {"key": key, "fields": fields,
            "changelog": {"startAt": 0, "maxResults": 40, "total": 1, "histories": [change]}}


def jira_with(*worklogs: str) -> httpx.MockTransport:
    """Jira whose searches find a done ticket for each of `worklogs`, or one that is down."""

    def answer(request: httpx.Request) -> httpx.Response:
        if not worklogs:
            return httpx.Response(503, json={"errorMessages": ["down for maintenance"]})
        if request.url.path.endswith("/myself"):
            return httpx.Response(200, json={"accountId": "bridge"})
        if request.url.path.endswith("/field"):
            return httpx.Response(200, json=[])
        if request.url.path.endswith("/search/jql"):
            found = "Hotovo" in request.url.params.get("jql", "")  # not the other workflows'
            issues = [done_ticket(f"SRV-{n}", w) for n, w in enumerate(worklogs, 1)] if found else []
            return httpx.Response(200, json={"issues": issues, "isLast": True})
        return httpx.Response(404, json={"errorMessages": ["not here"]})

    return httpx.MockTransport(answer)


async def with_one_done_delivery(app) -> None:  # type: ignore[no-untyped-def]
    services = app.app.state.services
    services.inbox.start()
    try:
        body = json.dumps(load_fixture("customer_forbidden_transition.json")).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        async with client_of(app) as client:
            r = await client.post("/webhooks/jira", content=body, headers={"X-Hub-Signature": signature})
        assert r.status_code == 200, r.text
    finally:
        services.inbox.stop()
    assert await services.worker.run_once()
    assert services.store.counts()["done"] == 1


def without_its_database(app) -> None:  # type: ignore[no-untyped-def]
    engine = app.app.state.store.engine
    folder = Path(engine.url.database).parent
    folder.rename(folder.with_name(folder.name + "-gone"))
    engine.dispose()


def client_of(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://bridge")


@pytest.fixture
async def services(tmp_path):
    apps = {OPEN: service(tmp_path, OPEN, finance_token=None),
            CLOSED: service(tmp_path, CLOSED, admin_token=None, finance_token=None)}
    apps[BROKEN] = service(tmp_path, BROKEN)
    apps[JIRA] = service(tmp_path, JIRA, jira_with("1", "2"))
    apps[DOWN] = service(tmp_path, DOWN, jira_with())
    apps[TWICE] = service(tmp_path, TWICE, jira_with("1", "1"))
    await with_one_done_delivery(apps[OPEN])
    without_its_database(apps[BROKEN])
    yield apps
    for app in apps.values():
        app.app.state.store.engine.dispose()


@pytest.fixture
async def spec(services) -> dict[str, Any]:
    async with client_of(services[OPEN]) as client:
        return (await client.get("/openapi.json")).json()


def documented_statuses(spec: dict[str, Any]) -> dict[tuple[str, str], set[int]]:
    return {
        (method, path): {int(code) for code in operation["responses"]}
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


async def test_every_operation_documents_the_statuses_it_answers(spec):
    assert documented_statuses(spec) == {op: set(by_status) for op, by_status in CASES.items()}


async def test_each_documented_status_is_answered_with_the_documented_body(services, spec):
    surprises = []
    for (method, path), by_status in CASES.items():
        for status, (name, verb, url, headers) in by_status.items():
            async with client_of(services[name]) as client:
                r = await client.request(verb, url, headers=headers)
            response = spec["paths"][path][method]["responses"].get(str(r.status_code))
            if r.status_code != status or response is None:
                surprises.append(f"{verb} {url}: {r.status_code}, documented {status}: {r.text}")
                continue
            media = r.headers.get("content-type", "").split(";")[0]
            if media not in response.get("content", {}):
                surprises.append(f"{verb} {url} → {status}: {media} is not documented")
            elif media == "application/json":
                schema = response["content"][media]["schema"]
                surprises += [f"{verb} {url} → {status}: {p}" for p in conforms(r.json(), schema, spec)]
    assert surprises == []


def conforms(value: Any, schema: dict[str, Any], spec: dict[str, Any], at: str = "body") -> list[str]:
    """What in `value` breaks `schema`: the parts of JSON Schema FastAPI writes here."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        each = [conforms(value, s, spec, at) for s in schema["anyOf"]]
        return [] if [] in each else [f"{at}: none of anyOf fits {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return [f"{at}: {value!r} is not an integer"]
    if kind in types and not isinstance(value, types[kind]):
        return [f"{at}: {value!r} is not {kind}"]
    problems = []
    if kind == "object":
        problems += [f"{at}: {key!r} missing" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += conforms(value[key], sub, spec, f"{at}.{key}")
    if kind == "array":
        for i, item in enumerate(value):
            problems += conforms(item, schema.get("items", {}), spec, f"{at}[{i}]")
    return problems


def test_the_check_itself_notices_a_body_of_another_shape():
    spec = {"components": {"schemas": {"E": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array", "items": {"type": "object"}}}}}}}
    assert conforms({"detail": "state must be one of pending"}, {"$ref": "#/components/schemas/E"}, spec)
    assert conforms({"detail": [{"loc": ["query", "state"]}]}, {"$ref": "#/components/schemas/E"}, spec) == []
