"""Who the stand-in lets in, and how it lists: Redmine's keys, paging, filters and sorting."""

from __future__ import annotations

import base64

import pytest

from .conftest import as_user, seed

UNKNOWN = {"X-Redmine-API-Key": "not-a-key"}


@pytest.mark.parametrize("headers", [UNKNOWN, {"X-Redmine-API-Key": ""}, {"Authorization": "Bearer bridge-key"}])
async def test_an_unknown_or_missing_key_is_401_with_an_empty_body(redmine, headers):
    redmine.headers.pop("X-Redmine-API-Key")
    for path in ("/issues.json", "/users/current.json", "/issues/1.json"):
        response = await redmine.get(path, headers=headers)
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["www-authenticate"] == 'Basic realm="Redmine API"'


async def test_the_key_may_come_as_query_parameter_or_basic_user_name(redmine):
    redmine.headers.pop("X-Redmine-API-Key")
    by_param = await redmine.get("/users/current.json", params={"key": "zakaznik-key"})
    basic = "Basic " + base64.b64encode(b"resitel-key:x").decode()
    by_basic = await redmine.get("/users/current.json", headers={"Authorization": basic})
    assert by_param.json()["user"]["login"] == "zakaznik"
    assert by_basic.json()["user"]["login"] == "resitel"


async def test_a_locked_users_key_is_refused(redmine):
    await redmine.post("/_standin/seed", json={"users": [{"login": "former", "api_key": "old-key", "locked": True}]})
    assert (await redmine.get("/users/current.json", headers={"X-Redmine-API-Key": "old-key"})).status_code == 401


async def test_the_current_user_is_the_keys_own_with_its_key_and_admin_flag(redmine):
    user = (await redmine.get("/users/current.json")).json()["user"]
    assert (user["id"], user["login"], user["admin"], user["api_key"]) == (7, "bridgebot", False, "bridge-key")
    admin = (await redmine.get("/users/current.json", headers=as_user("admin"))).json()["user"]
    assert admin["admin"] is True and admin["mail"] == "admin@example.net"


async def test_an_admin_may_switch_user_and_an_unknown_one_is_412(redmine):
    switched = await redmine.get("/users/current.json",
                                 headers={**as_user("admin"), "X-Redmine-Switch-User": "zakaznik"})
    assert switched.json()["user"]["login"] == "zakaznik"
    unknown = await redmine.get("/users/current.json", headers={**as_user("admin"), "X-Redmine-Switch-User": "nobody"})
    assert (unknown.status_code, unknown.content) == (412, b"")
    ignored = await redmine.get("/users/current.json", headers={"X-Redmine-Switch-User": "admin"})
    assert ignored.json()["user"]["login"] == "bridgebot"  # only an admin may switch


async def test_limit_is_capped_at_100_and_defaults_to_25_with_totals(redmine):
    await redmine.post("/_standin/bulk", json={"count": 130})
    capped = (await redmine.get("/issues.json", params={"limit": "500"})).json()
    assert (len(capped["issues"]), capped["limit"], capped["offset"], capped["total_count"]) == (100, 100, 0, 130)
    default = (await redmine.get("/issues.json", params={"limit": "0"})).json()
    assert (len(default["issues"]), default["limit"]) == (25, 25)
    tail = (await redmine.get("/issues.json", params={"limit": "100", "offset": "120"})).json()
    assert (len(tail["issues"]), tail["offset"], tail["total_count"]) == (10, 120, 130)
    by_page = (await redmine.get("/issues.json", params={"limit": "50", "page": "3"})).json()
    assert (by_page["offset"], len(by_page["issues"])) == (100, 30)


async def test_pages_together_hold_every_issue_once(redmine):
    await redmine.post("/_standin/bulk", json={"count": 57})
    seen = []
    for offset in range(0, 57, 20):
        seen += [i["id"] for i in (await redmine.get("/issues.json", params={"limit": 20, "offset": offset})).json()["issues"]]
    assert len(seen) == len(set(seen)) == 57
    assert seen == sorted(seen, reverse=True)  # Redmine's default order: id descending


async def test_memberships_page_with_totals(redmine):
    first = (await redmine.get("/projects/podpora/memberships.json", params={"limit": 2})).json()
    rest = (await redmine.get("/projects/2/memberships.json", params={"limit": 2, "offset": 2})).json()
    assert (first["total_count"], first["limit"], len(first["memberships"])) == (3, 2, 2)
    assert [m["user"]["name"] for m in first["memberships"] + rest["memberships"]] == [
        "Zákazník Test", "Bridge Bot", "Petr Řešitel"]
    assert first["memberships"][1]["roles"] == [{"id": 7, "name": "Bridge"}]
    assert (await redmine.get("/projects/nowhere/memberships.json")).status_code == 404


async def test_without_status_id_only_open_issues_are_listed(redmine):
    made = await seed(redmine, {"subject": "open", "status": "Na klientovi"}, {"subject": "done", "status": "Hotovo"},
                      {"subject": "cancelled", "status": "Zrušeno"})
    ids = {i["subject"]: i["id"] for i in made}

    async def listed(**params):
        return {i["id"] for i in (await redmine.get("/issues.json", params=params)).json()["issues"]}

    assert await listed() == await listed(status_id="open") == {ids["open"]}
    assert await listed(status_id="*") == set(ids.values())
    assert await listed(status_id="closed") == {ids["done"], ids["cancelled"]}
    assert await listed(status_id="12|16") == {ids["open"], ids["done"]}
    assert await listed(status_id="!16", project_id="podpora") == {ids["open"], ids["cancelled"]}
    assert await listed(issue_id=f"{ids['done']},{ids['open']}", status_id="*") == {ids["done"], ids["open"]}


async def test_updated_on_from_a_cursor_counts_whole_seconds(redmine):
    made = await seed(redmine,
                      {"subject": "before", "updated_on": "2026-11-02T09:14:02.900Z"},
                      {"subject": "same second", "updated_on": "2026-11-02T09:14:03.700Z"},
                      {"subject": "after", "updated_on": "2026-11-02T09:14:04Z"})
    ids = {i["subject"]: i["id"] for i in made}
    found = (await redmine.get("/issues.json", params={"updated_on": ">=2026-11-02T09:14:03Z",
                                                        "sort": "updated_on:asc"})).json()
    assert [i["id"] for i in found["issues"]] == [ids["same second"], ids["after"]]
    assert found["issues"][0]["updated_on"] == "2026-11-02T09:14:03Z"
    until = (await redmine.get("/issues.json", params={"updated_on": "<=2026-11-02T09:14:03Z"})).json()
    assert {i["id"] for i in until["issues"]} == {ids["before"], ids["same second"]}
    day = (await redmine.get("/issues.json", params={"updated_on": ">=2026-11-03"})).json()
    assert day["total_count"] == 0


@pytest.mark.parametrize("value", [">=2026-11-02T09:14:03+01:00", ">=yesterday", ">=2026-11-02T09:14:03.500Z"])
async def test_an_updated_on_redmine_cannot_read_is_422(redmine, value):
    response = await redmine.get("/issues.json", params={"updated_on": value})
    assert (response.status_code, response.json()) == (422, {"errors": ["Updated is invalid"]})


async def test_sorting_by_updated_on_breaks_ties_by_id_descending(redmine):
    made = await seed(redmine, {"updated_on": "2026-11-02T10:00:00Z"}, {"updated_on": "2026-11-02T10:00:00Z"},
                      {"updated_on": "2026-11-02T09:00:00Z"})
    desc = (await redmine.get("/issues.json", params={"sort": "updated_on:desc"})).json()["issues"]
    assert [i["id"] for i in desc] == [made[1]["id"], made[0]["id"], made[2]["id"]]


async def test_a_customer_lists_only_projects_they_belong_to(redmine):
    await redmine.post("/_standin/seed", json={"projects": [{"identifier": "interni", "trackers": ["Servis"]}],
                                               "issues": [{"project": "interni", "subject": "internal"}]})
    await seed(redmine, {"subject": "theirs"})
    listed = (await redmine.get("/issues.json", headers=as_user("zakaznik"))).json()
    assert [i["subject"] for i in listed["issues"]] == ["theirs"]
    assert (await redmine.get("/issues.json", params={"project_id": "interni"}, headers=as_user("zakaznik"))).status_code == 403
    everything = (await redmine.get("/issues.json", headers=as_user("admin"))).json()
    assert everything["total_count"] == 2


async def test_reference_lists(redmine):
    statuses = (await redmine.get("/issue_statuses.json")).json()["issue_statuses"]
    assert {"id": 16, "name": "Hotovo", "is_closed": True} in statuses
    assert {"id": 21, "name": "Zamknięte", "is_closed": True} in statuses
    trackers = (await redmine.get("/trackers.json")).json()["trackers"]
    assert [(t["name"], t["default_status"]["name"]) for t in trackers][3:] == [
        ("Servis", "Nový"), ("Zgłoszenie", "Nowe"), ("Zadanie", "Nowe")]
    activities = (await redmine.get("/enumerations/time_entry_activities.json")).json()["time_entry_activities"]
    assert activities == [{"id": 8, "name": "Design", "is_default": False, "active": True},
                          {"id": 9, "name": "Development", "is_default": False, "active": True}]
    projects = (await redmine.get("/projects.json")).json()
    assert [p["identifier"] for p in projects["projects"]] == ["podpora"] and projects["total_count"] == 1


async def test_a_path_the_standin_lacks_is_501_not_an_invented_answer(redmine):
    response = await redmine.get("/news.json")
    assert response.status_code == 501
    assert "does not implement GET /news.json" in response.json()["errors"][0]
