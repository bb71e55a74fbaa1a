"""The stand-in's answers laid beside a real Redmine 5.0.4's, key by key, so that the shapes
cannot drift: the sample issue is rebuilt from a seed and must read back as recorded."""

from __future__ import annotations

from typing import Any

from .conftest import as_user, sample

# The sampled issue: moved by the bot Nový → Realizace → Na klientovi, closed by the customer.
ISSUE_9 = {
    "id": 9, "project": "podpora", "tracker": "Servis", "status": "Hotovo", "author": "bridgebot",
    "subject": "Faktura se neodeslala zákazníkovi", "description": "Export faktur padá pro zahraniční odběratele.",
    "created_on": "2026-11-24T16:04:05Z", "updated_on": "2026-11-24T16:04:06Z",
    "journals": [
        {"id": 21, "user": "bridgebot", "notes": "Začínáme pracovat.", "created_on": "2026-11-24T16:04:05Z",
         "details": [{"property": "attr", "name": "status_id", "old_value": "7", "new_value": "9"}]},
        {"id": 22, "user": "bridgebot", "notes": "Prosíme o zaslání ukázkové faktury.", "created_on": "2026-11-24T16:04:05Z",
         "details": [{"property": "attr", "name": "status_id", "old_value": "9", "new_value": "12"}]},
        {"id": 23, "user": "zakaznik", "notes": "Už to funguje, zavírám.", "created_on": "2026-11-24T16:04:06Z",
         "details": [{"property": "attr", "name": "status_id", "old_value": "12", "new_value": "16"}]},
    ],
}
ISSUE_2 = {"id": 2, "project": "podpora", "tracker": "Servis", "status": "Na klientovi", "author": "bridgebot",
           "subject": "probe", "created_on": "2026-11-24T16:01:38Z", "updated_on": "2026-11-24T16:03:15Z",
           "closed_on": "2026-11-24T16:01:38Z"}
TIME_ENTRY = {"id": 2, "issue_id": 9, "user": "bridgebot", "activity": "Design", "hours": 1.5,
              "comments": "Analýza exportu", "spent_on": "2026-11-24", "created_on": "2026-11-24T16:04:05Z"}


def shape(value: Any) -> Any:
    """Keys all the way down (lists by their items' union), values by kind, for comparing."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict):
                merged.update(shape(item))
        return [merged] if merged else []
    return "scalar"


def key_order(value: Any) -> Any:
    """The keys in order, all the way down: Redmine's views write them in a fixed order."""
    if isinstance(value, dict):
        return [(k, key_order(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [key_order(v) for v in value[:1]]
    return None


async def seeded(redmine) -> None:
    response = await redmine.post("/_standin/seed", json={"issues": [ISSUE_2, ISSUE_9], "time_entries": [TIME_ENTRY]})
    assert response.status_code == 201, response.text


async def test_the_sampled_issue_with_journals_reads_back_exactly(redmine):
    await seeded(redmine)
    ours = (await redmine.get("/issues/9.json", params={"include": "journals,relations"})).json()
    recorded = sample("issue_with_journals.json")
    assert key_order(ours) == key_order(recorded)
    assert ours == recorded


async def test_the_issues_page_has_the_samples_shape_and_entries(redmine):
    await seeded(redmine)
    params = {"project_id": "podpora", "status_id": "*", "sort": "updated_on:desc", "limit": 2, "offset": 0}
    ours = (await redmine.get("/issues.json", params=params)).json()
    recorded = sample("issues_page.json")
    assert shape(ours) == shape(recorded)
    assert key_order(ours) == key_order(recorded)
    assert ours["issues"] == recorded["issues"]
    assert (ours["offset"], ours["limit"], ours["total_count"]) == (0, 2, 2)  # the sample's Redmine held 8


async def test_time_entries_read_back_exactly(redmine):
    await seeded(redmine)
    assert (await redmine.get("/time_entries.json", params={"issue_id": 9})).json() == sample("time_entries.json")


async def test_memberships_have_the_samples_shape_and_entries(redmine):
    ours = (await redmine.get("/projects/podpora/memberships.json")).json()
    recorded = sample("memberships.json")
    assert key_order(ours) == key_order(recorded)
    assert ours["memberships"][:2] == recorded["memberships"]
    assert (ours["offset"], ours["limit"]) == (recorded["offset"], recorded["limit"])


async def test_issue_statuses_begin_with_the_samples(redmine):
    ours = (await redmine.get("/issue_statuses.json")).json()
    recorded = sample("issue_statuses.json")
    assert ours["issue_statuses"][:17] == recorded["issue_statuses"]
    assert [s["name"] for s in ours["issue_statuses"][17:]] == ["Nowe", "Zaakceptowane", "W toku", "Zamknięte"]


async def test_the_current_user_is_the_sample_with_its_api_key(redmine):
    ours = (await redmine.get("/users/current.json")).json()
    assert ours["user"].pop("api_key") == "bridge-key"  # the sample had it removed
    assert ours == sample("users_current.json")


async def test_a_customer_sees_the_sample_without_spent_time(redmine):
    await seeded(redmine)
    ours = (await redmine.get("/issues/9.json", params={"include": "journals"}, headers=as_user("zakaznik"))).json()
    recorded = sample("issue_with_journals.json")
    for name in ("spent_hours", "total_spent_hours"):
        del recorded["issue"][name]
    assert ours == recorded


async def test_every_include_adds_only_its_own_key(redmine):
    await seeded(redmine)
    plain = (await redmine.get("/issues/9.json")).json()["issue"]
    everything = (await redmine.get("/issues/9.json", params={
        "include": "journals,relations,children,attachments,allowed_statuses"})).json()["issue"]
    assert set(everything) - set(plain) == {"journals", "attachments", "allowed_statuses"}
    assert list(everything)[:len(plain)] == list(plain)
