"""The real `bridge serve` against a real Redmine 5.0 (Debian's package, started by the
`real_redmine` fixture): a customer's forbidden move reverted by polling and by webhook,
the approval timer, a billing export from time entries, and the sub-task rule."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date

import pytest

from tests.e2e.conftest import Bridge, decided, wait_until

pytestmark = pytest.mark.e2e

HOOK_SECRET = "redmine-hook-token"
POLL = 2.0  # seconds between polls in these tests


def redmine_bridge(tmp_path, redmine, **env: str) -> Bridge:
    bridge = Bridge(
        tmp_path, None,
        BRIDGE_REDMINE_URL=redmine.url,
        BRIDGE_REDMINE_API_KEY=redmine.api_key("bridge-bot"),
        BRIDGE_REDMINE_WEBHOOK_SECRET=HOOK_SECRET,
        **env,
    )
    del bridge.env["BRIDGE_JIRA_WEBHOOK_SECRET"]
    return bridge


@pytest.fixture
def polling(tmp_path, real_redmine) -> Iterator[Bridge]:
    bridge = redmine_bridge(tmp_path, real_redmine, BRIDGE_REDMINE_POLL_INTERVAL=str(POLL)).start()
    yield bridge
    bridge.stop()


def status(redmine, issue_id: int) -> str:
    return redmine.issue(issue_id, include="")["status"]["name"]


def notes(redmine, issue_id: int, user: str = "zakaznik") -> list[str]:
    return [j["notes"] for j in redmine.issue(issue_id, user=user)["journals"] if j.get("notes")]


def test_a_customers_forbidden_move_is_reverted_by_polling_within_two_intervals(real_redmine, polling):
    redmine = real_redmine
    issue = redmine.create_issue("Tisk faktur nefunguje", user="resitel", status="Na klientovi")
    time.sleep(POLL)  # a poll has seen the ticket as it was
    assert redmine.set_status(issue["id"], "Hotovo", "zakaznik").status_code == 204
    moved = time.monotonic()
    assert status(redmine, issue["id"]) == "Hotovo"  # Redmine's own workflow lets the customer

    wait_until(lambda: status(redmine, issue["id"]) == "Na klientovi", timeout=4 * POLL)
    assert time.monotonic() - moved <= 2 * POLL + 1.0  # within two polls (and the revert itself)
    (note,) = wait_until(lambda: notes(redmine, issue["id"]))  # the customer sees why, in Czech
    assert "Vráceno klientem" in note
    reverted = [decided(polling, str(issue["id"]), "customer-transition")]
    assert len(reverted) == 1 and reverted[0]["tracker"] == "redmine"
    assert reverted[0]["actor_role"] == "customer"
    log = polling.log.read_text()
    assert redmine.api_key("bridge-bot") not in log and HOOK_SECRET not in log


def test_a_customers_forbidden_move_is_reverted_by_webhook(tmp_path, real_redmine):
    redmine = real_redmine
    bridge = redmine_bridge(tmp_path, redmine, BRIDGE_REDMINE_POLL_INTERVAL="0").start()
    redmine.hooks.forward_to = f"{bridge.url}/webhooks/redmine/{HOOK_SECRET}"
    try:
        issue = redmine.create_issue("Export do účetnictví", user="resitel", status="Na klientovi")
        redmine.set_status(issue["id"], "Hotovo", "zakaznik")
        wait_until(lambda: status(redmine, issue["id"]) == "Na klientovi", timeout=10)
        wait_until(lambda: notes(redmine, issue["id"]))
        assert len(notes(redmine, issue["id"])) == 1
        delivered = bridge.api("/api/deliveries")
        assert any(d["tracker"] == "redmine" for d in delivered)
    finally:
        redmine.hooks.forward_to = None
        bridge.stop()


def test_an_expired_approval_is_approved_and_closed_on_redmine(tmp_path, real_redmine):
    redmine = real_redmine
    issue = redmine.create_issue("Úprava sestavy", user="resitel", status="Realizace")
    redmine.set_status(issue["id"], "Ke schválení", "resitel")
    redmine.backdate(issue["id"], days=6)
    bridge = redmine_bridge(tmp_path, redmine, BRIDGE_REDMINE_POLL_INTERVAL="0")
    result = bridge.cli("sweep", "timers")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{issue['id']}  Ke schválení since")
    assert status(redmine, issue["id"]) == "Hotovo"
    journals = redmine.issue(issue["id"])["journals"]
    moves = [redmine.status_name(int(d["new_value"])) for j in journals for d in j["details"] if d["name"] == "status_id"]
    assert moves[-2:] == ["Schváleno", "Hotovo"]
    assert any("automaticky schválen" in (j.get("notes") or "") for j in journals)


def test_a_billing_export_reads_redmines_time_entries(tmp_path, real_redmine):
    redmine = real_redmine
    issue = redmine.create_issue("Oprava importu", user="resitel", status="Realizace")
    today = date.today().isoformat()
    assert redmine.log_time(issue["id"], 1.5, "resitel", today, comments="analýza").status_code == 201
    assert redmine.log_time(issue["id"], 0.25, "resitel", today).status_code == 201
    redmine.set_status(issue["id"], "Hotovo", "resitel")
    bridge = redmine_bridge(tmp_path, redmine, BRIDGE_REDMINE_POLL_INTERVAL="0")
    result = bridge.cli("export", "billing", "--from", today, "--to", today, "--format", "json",
                        "--site", "redmine")
    assert result.returncode == 0, result.stderr
    exported = json.loads(result.stdout)
    assert exported["tracker"] == "redmine"
    (row,) = [r for r in exported["rows"] if r["ticket"] == str(issue["id"])]
    assert row["hours"] == 1.75 and row["seconds"] == 6300 and row["kind"] == "work"
    assert row["type"] == "Servis" and row["organization"] == "Podpora"  # the project, for want of organisations


def test_a_ticket_closes_once_its_tasks_are_done_on_redmine(real_redmine, polling):
    """Redmine itself keeps a parent with an open sub-issue from closing (its 204 changes
    nothing); the bridge's sub-task rule reads the sub-issues from Redmine and lets the close
    stand once every task is done."""
    redmine = real_redmine
    parent = redmine.create_issue("Awaria pompy", user="resitel", tracker="Zgłoszenie", status="W toku")
    task = redmine.create_issue("Wymiana uszczelki", user="resitel", tracker="Zgłoszenie", status="W toku",
                                parent_id=parent["id"])
    redmine.set_status(parent["id"], "Zamknięte", "resitel")
    assert status(redmine, parent["id"]) == "W toku"  # Redmine's own rule: open task, no close

    redmine.set_status(task["id"], "Zamknięte", "resitel")
    redmine.set_status(parent["id"], "Zamknięte", "resitel")
    assert status(redmine, parent["id"]) == "Zamknięte"
    closed = wait_until(lambda: [d for d in polling.api("/api/decisions", ticket=str(parent["id"]))
                                 if d["to_status"] == "Zamknięte"], timeout=4 * POLL)
    assert [d["verdict"] for d in closed] == ["allowed"]
    time.sleep(POLL)  # a later poll changes nothing
    assert status(redmine, parent["id"]) == "Zamknięte" and not notes(redmine, parent["id"], user="resitel")


def test_the_easy_project_helpdesk_process_on_redmine(tmp_path, real_redmine):
    """easy-helpdesk.yaml on a real Redmine: a client's answer hands the ticket back to the
    team, a client's own move is undone, and the ticket waits in the attention queue until
    someone of the team answers."""
    redmine = real_redmine
    bridge = redmine_bridge(tmp_path, redmine, BRIDGE_REDMINE_POLL_INTERVAL="0").start()
    redmine.hooks.forward_to = f"{bridge.url}/webhooks/redmine/{HOOK_SECRET}"
    try:
        ticket = redmine.create_issue("Nejde tisk štítků", user="resitel", tracker="HelpDesk",
                                      status="Čeká na klienta")
        key = str(ticket["id"])
        redmine.add_note(ticket["id"], "Tisk už jde, ale jen z první tiskárny.", "zakaznik")
        wait_until(lambda: status(redmine, ticket["id"]) == "Řeší se", timeout=10)
        assert notes(redmine, ticket["id"]) == ["Tisk už jde, ale jen z první tiskárny."]  # nothing of the bridge's
        queued = wait_until(lambda: [w for w in bridge.api("/api/attention") if w["ticket"] == key])
        assert queued[0]["kind"] == "customer"

        redmine.set_status(ticket["id"], "Uzavřený", "zakaznik")  # not the client's to make
        wait_until(lambda: status(redmine, ticket["id"]) == "Řeší se", timeout=10)
        forbidden = wait_until(lambda: [n for n in notes(redmine, ticket["id"]) if "stav tiketu nastavuje náš tým" in n])
        assert len(forbidden) == 1

        redmine.add_note(ticket["id"], "Díky, podíváme se na druhou tiskárnu.", "resitel")
        wait_until(lambda: not [w for w in bridge.api("/api/attention") if w["ticket"] == key], timeout=10)
    finally:
        redmine.hooks.forward_to = None
        bridge.stop()
