"""The default seed: a Redmine set up for the shipped workflows.

Ids follow the real Redmine 5.0.4 the samples under tests/fixtures/redmine/ come from
(statuses 1–17, tracker Servis 4, project podpora 2, role Zákazník 6 and Bridge 7, users 6
and 7, custom field PBI 1, activity Design 8), so a stand-in answer can be laid beside a
recorded one. What the samples do not show is added after them: the Polish statuses and
trackers of warranticon.yaml, the agent role Řešitel and the users resitel and admin.

Role workflows (Redmine's per-role status transitions, which it enforces by dropping a
status change silently):
- Řešitel (agent): the arrows of each workflow file's `flow`.
- Bridge: any status of the tracker to any other, as the bridge must be able to revert any
  move and to drive timers.
- Zákazník (customer): wider than the workflow files allow, as a real setup is: on Servis
  `Na klientovi → Vráceno klientem | Hotovo` and `Ke schválení → Schváleno | Vráceno
  klientem | Hotovo`; on Zgłoszenie `W toku → Zamknięte`. The bridge reverts the moves its
  workflow forbids (the sample's customer closing a ticket straight to Hotovo); any other
  customer move Redmine itself drops.
"""

from __future__ import annotations

from typing import Any

BRIDGE_KEY = "bridge-key"  # bridgebot's API key unless --key names another
KEYS = {"admin": "admin-key", "zakaznik": "zakaznik-key", "bridgebot": BRIDGE_KEY, "resitel": "resitel-key"}

SHEET = ["Nový", "Přiřazeno", "Realizace", "Na vývoji", "Testování", "Na klientovi", "Ke schválení",
         "Vráceno klientem", "Schváleno", "Hotovo", "Zrušeno"]
SHEET_FLOW = {
    "Nový": ["Přiřazeno", "Realizace", "Zrušeno"],
    "Přiřazeno": ["Realizace", "Na klientovi", "Zrušeno"],
    "Realizace": ["Na vývoji", "Na klientovi", "Ke schválení", "Zrušeno"],
    "Na vývoji": ["Testování", "Realizace", "Zrušeno"],
    "Testování": ["Ke schválení", "Na vývoji", "Na klientovi", "Zrušeno"],
    "Na klientovi": ["Vráceno klientem", "Realizace", "Zrušeno"],
    "Ke schválení": ["Schváleno", "Vráceno klientem", "Zrušeno"],
    "Vráceno klientem": ["Realizace", "Zrušeno"],
    "Schváleno": ["Hotovo", "Zrušeno"],
}
WARRANTY = ["Nowe", "Zaakceptowane", "W toku", "Zamknięte"]
WARRANTY_FLOW = {
    "Nowe": ["Zaakceptowane", "Zamknięte"],
    "Zaakceptowane": ["W toku", "Zamknięte"],
    "W toku": ["Zaakceptowane", "Zamknięte"],
    "Zamknięte": ["W toku"],
}
AGENT = ["view_issues", "add_issues", "edit_issues", "add_issue_notes", "view_private_notes",
         "set_notes_private", "view_time_entries", "log_time", "manage_subtasks", "manage_issue_relations"]


def _status(ident: int, name: str, closed: bool = False) -> dict[str, Any]:
    return {"id": ident, "name": name, "is_closed": closed}


def default_seed() -> dict[str, Any]:
    """A fresh copy of the default seed document (the shape POST /_standin/reset takes)."""
    english = ["New", "In Progress", "Resolved", "Feedback", "Closed", "Rejected"]
    statuses = [_status(i, name, name in ("Closed", "Rejected")) for i, name in enumerate(english, 1)]
    statuses += [_status(i, name, name in ("Hotovo", "Zrušeno")) for i, name in enumerate(SHEET, 7)]
    statuses += [_status(i, name, name == "Zamknięte") for i, name in enumerate(WARRANTY, 18)]
    workflows: list[dict[str, Any]] = []
    for tracker, flow, every in (("Servis", SHEET_FLOW, SHEET), ("Zgłoszenie", WARRANTY_FLOW, WARRANTY),
                                 ("Zadanie", WARRANTY_FLOW, WARRANTY)):
        workflows.append({"tracker": tracker, "role": "Řešitel", "transitions": flow})
        workflows.append({"tracker": tracker, "role": "Bridge",
                          "transitions": {s: [t for t in every if t != s] for s in every}})
    workflows.append({"tracker": "Servis", "role": "Zákazník", "transitions": {
        "Na klientovi": ["Vráceno klientem", "Hotovo"],
        "Ke schválení": ["Schváleno", "Vráceno klientem", "Hotovo"]}})
    workflows.append({"tracker": "Zgłoszenie", "role": "Zákazník", "transitions": {"W toku": ["Zamknięte"]}})
    return {
        "statuses": statuses,
        "trackers": [
            {"id": 1, "name": "Bug", "default_status": "New"},
            {"id": 2, "name": "Feature", "default_status": "New"},
            {"id": 3, "name": "Support", "default_status": "New"},
            {"id": 4, "name": "Servis", "default_status": "Nový", "description": "Servisní požadavky"},
            {"id": 5, "name": "Zgłoszenie", "default_status": "Nowe", "description": "Zgłoszenia serwisowe"},
            {"id": 6, "name": "Zadanie", "default_status": "Nowe", "description": "Zadania zgłoszenia"},
        ],
        "priorities": [{"id": 1, "name": "Low"}, {"id": 2, "name": "Normal", "is_default": True},
                       {"id": 3, "name": "High"}, {"id": 4, "name": "Urgent"}, {"id": 5, "name": "Immediate"}],
        # No default activity: a time entry then needs an activity_id, as on the sampled Redmine.
        "activities": [{"id": 8, "name": "Design"}, {"id": 9, "name": "Development"}],
        "custom_fields": [{"id": 1, "name": "PBI", "trackers": ["Servis"]}],
        "roles": [
            {"id": 6, "name": "Zákazník", "permissions": ["view_issues", "add_issues", "edit_issues",
                                                         "add_issue_notes"]},
            {"id": 7, "name": "Bridge", "permissions": AGENT},
            {"id": 8, "name": "Řešitel", "permissions": AGENT},
        ],
        "users": [
            {"id": 1, "login": "admin", "firstname": "Redmine", "lastname": "Admin", "admin": True,
             "api_key": KEYS["admin"], "mail": "admin@example.net"},
            {"id": 6, "login": "zakaznik", "firstname": "Zákazník", "lastname": "Test",
             "api_key": KEYS["zakaznik"], "mail": "zakaznik@example.cz"},
            {"id": 7, "login": "bridgebot", "firstname": "Bridge", "lastname": "Bot",
             "api_key": KEYS["bridgebot"], "mail": "bridge@example.com"},
            {"id": 8, "login": "resitel", "firstname": "Petr", "lastname": "Řešitel",
             "api_key": KEYS["resitel"], "mail": "resitel@example.cz"},
        ],
        "projects": [{"id": 2, "identifier": "podpora", "name": "Podpora",
                      "trackers": ["Servis", "Zgłoszenie", "Zadanie"]}],
        "memberships": [
            {"id": 2, "project": "podpora", "user": "zakaznik", "roles": ["Zákazník"]},
            {"id": 3, "project": "podpora", "user": "bridgebot", "roles": ["Bridge"]},
            {"id": 4, "project": "podpora", "user": "resitel", "roles": ["Řešitel"]},
        ],
        "workflows": workflows,
    }
