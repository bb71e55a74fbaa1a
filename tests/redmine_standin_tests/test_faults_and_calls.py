"""Faults as a client meets them in front of Redmine, and the call log tests count with."""

from __future__ import annotations

from .conftest import as_user, put_issue, seed


async def test_503_with_retry_after_then_served(redmine):
    await redmine.post("/_standin/faults", json={"path_regex": r"^/issues\.json$", "status": 503, "times": 2,
                                                 "retry_after": 7})
    for _ in range(2):
        refused = await redmine.get("/issues.json")
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "7")
        assert refused.headers["content-type"].startswith("text/html") and "nginx" in refused.text
    assert (await redmine.get("/issues.json")).status_code == 200
    assert (await redmine.get("/_standin/faults")).json() == []


async def test_429_with_retry_after(redmine):
    await redmine.post("/_standin/faults", json={"path_regex": "/issues", "status": 429, "retry_after": 30})
    refused = await redmine.get("/issues.json")
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "30")


async def test_a_login_page_with_200_instead_of_json(redmine):
    await redmine.post("/_standin/faults", json={"path_regex": "/issues", "page": "login"})
    answered = await redmine.get("/issues.json")
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/html")
    assert '<form action="/login"' in answered.text


async def test_a_proxys_502_page_while_redmine_is_down(redmine):
    await redmine.post("/_standin/faults", json={"path_regex": ".", "page": "proxy", "seconds": 60})
    for path in ("/issues.json", "/users/current.json"):
        answered = await redmine.get(path)
        assert answered.status_code == 502 and "502 Bad Gateway" in answered.text
    await redmine.delete("/_standin/faults")
    assert (await redmine.get("/users/current.json")).status_code == 200


async def test_a_late_answer_still_makes_the_change(redmine):
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await redmine.post("/_standin/faults", json={"path_regex": "/issues/", "method": "PUT", "late_ms": 50})
    assert (await put_issue(redmine, made["id"], "bridgebot", status_id=9)).status_code == 204
    assert (await redmine.get(f"/_standin/issues/{made['id']}")).json()["status"] == "Realizace"


async def test_an_unknown_fault_page_is_refused(redmine):
    assert (await redmine.post("/_standin/faults", json={"path_regex": ".", "page": "teapot"})).status_code == 400


async def test_the_call_log_names_method_path_query_user_and_status(redmine):
    (made,) = await seed(redmine, {})
    await redmine.get(f"/issues/{made['id']}.json", params={"include": "journals"}, headers=as_user("zakaznik"))
    await put_issue(redmine, made["id"], "bridgebot", notes="x")
    await redmine.get("/issues.json", params={"key": "not-a-key"}, headers={"X-Redmine-API-Key": ""})
    calls = (await redmine.get("/_standin/calls")).json()
    assert [(c["method"], c["path"], c["query"], c["user"], c["status"]) for c in calls] == [
        ("GET", f"/issues/{made['id']}.json", {"include": "journals"}, "zakaznik", 200),
        ("PUT", f"/issues/{made['id']}.json", {}, "bridgebot", 204),
        ("GET", "/issues.json", {}, None, 401),  # the key itself is not logged
    ]
    await redmine.delete("/_standin/calls")
    assert (await redmine.get("/_standin/calls")).json() == []
