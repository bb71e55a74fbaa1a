"""Edits as Redmine makes them: role workflows that drop a status change without a word,
journals, refusals with 422, private notes, files, sub-issues, relations, logged time."""

from __future__ import annotations

from .conftest import as_user, put_issue, seed

STATUS = {"property": "attr", "name": "status_id"}


async def read(redmine, ident, include="journals", user="bridgebot"):
    response = await redmine.get(f"/issues/{ident}.json", params={"include": include}, headers=as_user(user))
    assert response.status_code == 200, response.status_code
    return response.json()["issue"]


async def test_a_customers_allowed_move_is_journaled_with_string_ids(redmine):
    (made,) = await seed(redmine, {"status": "Na klientovi", "updated_on": "2026-11-24T16:00:00Z"})
    response = await put_issue(redmine, made["id"], "zakaznik", status_id=16, notes="Už to funguje, zavírám.")
    assert (response.status_code, response.content) == (204, b"")
    issue = await read(redmine, made["id"])
    assert issue["status"] == {"id": 16, "name": "Hotovo", "is_closed": True}
    assert issue["closed_on"] == issue["updated_on"] != "2026-11-24T16:00:00Z"
    (journal,) = issue["journals"]
    assert journal["user"] == {"id": 6, "name": "Zákazník Test"}
    assert journal["notes"] == "Už to funguje, zavírám."
    assert journal["details"] == [{**STATUS, "old_value": "12", "new_value": "16"}]


async def test_a_status_change_the_role_workflow_forbids_is_dropped_silently(redmine, standin):
    (made,) = await seed(redmine, {"status": "Nový", "updated_on": "2026-11-24T16:00:00Z"})
    response = await put_issue(redmine, made["id"], "zakaznik", status_id=16, notes="Zavírám sám.")
    assert (response.status_code, response.content) == (204, b"")
    issue = await read(redmine, made["id"])
    assert issue["status"]["name"] == "Nový"  # read back: unchanged
    assert issue["updated_on"] != "2026-11-24T16:00:00Z"  # yet the edit counted
    (journal,) = issue["journals"]
    assert (journal["notes"], journal["details"]) == ("Zavírám sám.", [])


async def test_a_forbidden_move_without_notes_leaves_no_journal(redmine):
    (made,) = await seed(redmine, {"status": "Nový"})
    assert (await put_issue(redmine, made["id"], "zakaznik", status_id=16)).status_code == 204
    assert (await read(redmine, made["id"]))["journals"] == []


async def test_the_statuses_a_user_may_set_come_from_their_roles(redmine):
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    allowed = lambda issue: [s["name"] for s in issue["allowed_statuses"]]  # noqa: E731
    customer = await read(redmine, made["id"], "allowed_statuses", user="zakaznik")
    agent = await read(redmine, made["id"], "allowed_statuses", user="resitel")
    assert allowed(customer) == ["Na klientovi", "Vráceno klientem", "Hotovo"]
    assert allowed(agent) == ["Realizace", "Na klientovi", "Vráceno klientem", "Zrušeno"]
    assert len(allowed(await read(redmine, made["id"], "allowed_statuses"))) == 11  # the bridge: anywhere


async def test_a_narrowed_workflow_drops_the_bridges_own_move(redmine):
    await redmine.post("/_standin/workflows", json={"tracker": "Servis", "role": "Bridge", "replace": True,
                                                    "transitions": {"Hotovo": ["Na klientovi"]}})
    (made,) = await seed(redmine, {"status": "Nový"})
    await put_issue(redmine, made["id"], "bridgebot", status_id=9)
    assert (await read(redmine, made["id"]))["status"]["name"] == "Nový"
    await put_issue(redmine, made["id"], "admin", status_id=9)  # an admin holds every role's transitions
    assert (await read(redmine, made["id"]))["status"]["name"] == "Realizace"


async def test_an_unknown_status_id_is_dropped_as_redmine_drops_it(redmine):
    (made,) = await seed(redmine, {"status": "Nový"})
    response = await put_issue(redmine, made["id"], "bridgebot", status_id=999)
    assert response.status_code == 204
    assert (await read(redmine, made["id"]))["status"]["name"] == "Nový"


async def test_invalid_values_are_422_with_redmines_messages_and_change_nothing(redmine):
    (made,) = await seed(redmine, {"status": "Nový", "subject": "Tisk"})
    response = await put_issue(redmine, made["id"], "bridgebot", status_id=9, priority_id=99, subject="",
                               notes="nothing of this stays")
    assert response.status_code == 422
    assert response.json() == {"errors": ["Subject cannot be blank", "Priority cannot be blank"]}
    issue = await read(redmine, made["id"])
    assert (issue["status"]["name"], issue["subject"], issue["journals"]) == ("Nový", "Tisk", [])


async def test_an_unknown_issue_is_404_and_someone_elses_project_403(redmine):
    assert (await redmine.get("/issues/404.json")).status_code == 404
    put = await put_issue(redmine, 404, "bridgebot", notes="x")
    assert (put.status_code, put.content) == (404, b"")
    await redmine.post("/_standin/seed", json={"projects": [{"identifier": "interni"}],
                                               "issues": [{"id": 50, "project": "interni"}]})
    assert (await redmine.get("/issues/50.json")).status_code == 403


async def test_custom_field_pbi_is_set_and_journaled_as_cf(redmine):
    (made,) = await seed(redmine, {"status": "Realizace"})
    await put_issue(redmine, made["id"], "resitel", status_id=10, custom_fields=[{"id": 1, "value": "4711"}])
    issue = await read(redmine, made["id"])
    assert issue["custom_fields"] == [{"id": 1, "name": "PBI", "value": "4711"}]
    assert issue["journals"][0]["details"] == [{**STATUS, "old_value": "9", "new_value": "10"},
                                               {"property": "cf", "name": "1", "old_value": None, "new_value": "4711"}]


async def test_private_notes_are_hidden_from_a_customer_and_split_from_the_change(redmine):
    (made,) = await seed(redmine, {"status": "Realizace"})
    await put_issue(redmine, made["id"], "bridgebot", status_id=12, notes="Interní: čekáme na data.", private_notes=True)
    agent_view = (await read(redmine, made["id"]))["journals"]
    assert [(j["notes"], j["private_notes"], len(j["details"])) for j in agent_view] == [
        (None, False, 1), ("Interní: čekáme na data.", True, 0)]
    customer_view = (await read(redmine, made["id"], user="zakaznik"))["journals"]
    assert [j["id"] for j in customer_view] == [agent_view[0]["id"]]


async def test_private_notes_without_the_right_to_set_them_are_public(redmine):
    (made,) = await seed(redmine, {"status": "Na klientovi"})
    await put_issue(redmine, made["id"], "zakaznik", notes="Posílám data.", private_notes=True)
    (journal,) = (await read(redmine, made["id"], user="zakaznik"))["journals"]
    assert journal["private_notes"] is False


async def test_a_body_that_is_not_json_changes_nothing_and_is_still_204(redmine):
    (made,) = await seed(redmine, {"status": "Nový"})
    response = await redmine.put(f"/issues/{made['id']}.json", content=b'{"issue": {"status_id": 9}}',
                                 headers={"Content-Type": "text/plain"})
    assert response.status_code == 204
    assert (await read(redmine, made["id"]))["status"]["name"] == "Nový"


async def test_creating_an_issue_answers_201_with_it(redmine):
    response = await redmine.post("/issues.json", json={"issue": {
        "project_id": "podpora", "tracker_id": 4, "subject": "Nový export", "custom_fields": [{"id": 1, "value": "12"}]}})
    assert response.status_code == 201
    issue = response.json()["issue"]
    assert (issue["status"]["name"], issue["author"]["name"], issue["custom_fields"][0]["value"]) == (
        "Nový", "Bridge Bot", "12")
    assert response.headers["location"] == f"https://redmine.test/issues/{issue['id']}"
    blank = await redmine.post("/issues.json", json={"issue": {"project_id": "podpora"}})
    assert blank.json() == {"errors": ["Subject cannot be blank"]}


async def test_sub_issues_show_as_children_and_parent_and_block_closing(redmine):
    (ticket,) = await seed(redmine, {"tracker": "Zgłoszenie", "status": "W toku", "subject": "Zgłoszenie"})
    task = (await redmine.post("/issues.json", json={"issue": {
        "project_id": 2, "tracker_id": 6, "subject": "Wymiana pompy", "parent_issue_id": ticket["id"]}})).json()["issue"]
    assert task["parent"] == {"id": ticket["id"]}
    parent = await read(redmine, ticket["id"], "children")
    assert parent["children"] == [{"id": task["id"], "tracker": {"id": 6, "name": "Zadanie"}, "subject": "Wymiana pompy"}]
    assert "children" not in await read(redmine, task["id"], "children")
    await put_issue(redmine, ticket["id"], "bridgebot", status_id=21)  # closing with an open task
    assert (await read(redmine, ticket["id"]))["status"]["name"] == "W toku"
    await put_issue(redmine, task["id"], "bridgebot", status_id=21)
    await put_issue(redmine, ticket["id"], "bridgebot", status_id=21)
    assert (await read(redmine, ticket["id"]))["status"]["name"] == "Zamknięte"
    listed = (await redmine.get("/issues.json", params={"parent_id": ticket["id"], "status_id": "*"})).json()
    assert [i["id"] for i in listed["issues"]] == [task["id"]]


async def test_relations_are_listed_from_both_sides(redmine):
    first, second = await seed(redmine, {}, {})
    made = await redmine.post(f"/issues/{first['id']}/relations.json",
                              json={"relation": {"issue_to_id": second["id"], "relation_type": "blocked"}})
    assert made.status_code == 201
    relation = made.json()["relation"]
    assert (relation["issue_id"], relation["issue_to_id"], relation["relation_type"]) == (second["id"], first["id"], "blocks")
    for side in (first, second):
        assert (await redmine.get(f"/issues/{side['id']}/relations.json")).json()["relations"] == [relation]
    assert (await read(redmine, first["id"], "relations"))["relations"] == [relation]
    assert "relations" not in await read(redmine, (await seed(redmine, {}))[0]["id"], "relations")


async def test_attachments_are_shown_and_deleted_once(redmine):
    (made,) = await seed(redmine, {"status": "Realizace"})
    added = (await redmine.post(f"/_standin/issues/{made['id']}/attachments",
                                json={"user": "zakaznik", "filename": "faktura 7.pdf", "content_type": "application/pdf",
                                      "filesize": 2048})).json()
    attachment_id = added["issue"]["attachments"][0]["id"]
    shown = (await read(redmine, made["id"], "attachments"))["attachments"]
    assert shown[0]["content_url"] == f"https://redmine.test/attachments/download/{attachment_id}/faktura%207.pdf"
    assert (shown[0]["filename"], shown[0]["filesize"], shown[0]["author"]["name"]) == ("faktura 7.pdf", 2048, "Zákazník Test")
    before = (await read(redmine, made["id"]))["updated_on"]
    gone = await redmine.delete(f"/attachments/{attachment_id}.json")
    assert (gone.status_code, gone.content) == (204, b"")
    assert (await redmine.delete(f"/attachments/{attachment_id}.json")).status_code == 404
    issue = await read(redmine, made["id"], "attachments,journals")
    assert issue["attachments"] == [] and issue["updated_on"] == before
    assert issue["journals"][-1]["details"] == [
        {"property": "attachment", "name": str(attachment_id), "old_value": "faktura 7.pdf", "new_value": None}]


async def test_a_time_entry_needs_an_activity(redmine):
    (made,) = await seed(redmine, {"status": "Realizace"})
    missing = await redmine.post("/time_entries.json", json={"time_entry": {"issue_id": made["id"], "hours": 1.5}})
    assert (missing.status_code, missing.json()) == (422, {"errors": ["Activity cannot be blank"]})
    logged = await redmine.post("/time_entries.json", json={"time_entry": {
        "issue_id": made["id"], "hours": 1.5, "activity_id": 8, "comments": "Analýza", "spent_on": "2026-11-24"}})
    assert logged.status_code == 201
    assert logged.json()["time_entry"]["activity"] == {"id": 8, "name": "Design"}
    assert (await redmine.post("/time_entries.json", json={"time_entry": {
        "issue_id": made["id"], "hours": 1, "activity_id": 77}})).json() == {"errors": ["Activity is not included in the list"]}
    issue = await read(redmine, made["id"], "")
    assert (issue["spent_hours"], issue["total_spent_hours"]) == (1.5, 1.5)
    assert "spent_hours" not in await read(redmine, made["id"], "", user="zakaznik")


async def test_time_entries_filter_by_issue_and_dates_with_totals(redmine):
    first, second = await seed(redmine, {}, {})
    for ident, day in ((first["id"], "2026-11-01"), (first["id"], "2026-11-15"), (second["id"], "2026-11-15")):
        await redmine.post(f"/_standin/issues/{ident}/time_entries", json={"user": "resitel", "hours": 1, "spent_on": day})
    mine = (await redmine.get("/time_entries.json", params={"issue_id": first["id"]})).json()
    assert (mine["total_count"], [e["spent_on"] for e in mine["time_entries"]]) == (2, ["2026-11-15", "2026-11-01"])
    november = (await redmine.get("/time_entries.json", params={"from": "2026-11-10", "to": "2026-11-30", "limit": 1})).json()
    assert (november["total_count"], november["limit"], len(november["time_entries"])) == (2, 1, 1)
    assert (await redmine.get("/time_entries.json", params={"issue_id": 999})).status_code == 404


async def test_a_control_act_obeys_the_workflow_unless_forced(redmine):
    (made,) = await seed(redmine, {"status": "Nový"})
    dropped = (await redmine.post(f"/_standin/issues/{made['id']}/act", json={"user": "zakaznik", "status": "Hotovo"})).json()
    assert dropped["status_dropped"] is True and dropped["issue"]["status"] == "Nový"
    forced = (await redmine.post(f"/_standin/issues/{made['id']}/act",
                                 json={"user": "zakaznik", "status": "Hotovo", "force": True, "at": "2026-11-24T16:04:06Z"})).json()
    assert forced["issue"]["status"] == "Hotovo" and forced["issue"]["updated_on"] == "2026-11-24T16:04:06Z"
