"""The real `bridge serve` against the Redmine stand-in process (`python -m
tests.redmine_standin`): webhooks signed or carrying a token, polling, a deployment of a Jira
and a Redmine site, bad input from Redmine and from the sites file, and a revert Redmine keeps.
Where test_redmine_real.py proves the adapter against a real Redmine, these reach what a real
Redmine will not do on demand: a login page in place of the API, a journal naming a status
that is gone, a workflow changed between the bridge's read and its write."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Bridge, decided, wait_until
from tests.redmine_standin.client import RedmineStandinProcess

pytestmark = pytest.mark.e2e

KEY = "e2e-redmine-api-key"
HOOK_SECRET = "e2e-redmine-hook-secret"
FORBIDDEN = "Změna stavu Na klientovi → Hotovo není pro zákazníky povolena"


@pytest.fixture(scope="module")
def standin() -> Iterator[RedmineStandinProcess]:
    with RedmineStandinProcess(key=KEY) as process:
        yield process


@pytest.fixture
def redmine(standin: RedmineStandinProcess) -> Iterator[RedmineStandinProcess]:
    """The stand-in with its default seed, no webhook, no faults, nothing logged."""
    standin.reset()
    yield standin
    standin.reset()


@pytest.fixture
def serve(tmp_path: Path, redmine: RedmineStandinProcess) -> Iterator[Callable[..., Bridge]]:
    """Start `bridge serve` for the stand-in: `serve(poll=1, secret=None, until="/healthz")`;
    every bridge started is stopped at the end."""
    started: list[Bridge] = []

    def start(*, poll: float = 0, secret: str | None = HOOK_SECRET, until: str = "/readyz", **env: str) -> Bridge:
        folder = tmp_path / f"bridge-{len(started)}"
        folder.mkdir()
        settings = {"BRIDGE_REDMINE_URL": redmine.url, "BRIDGE_REDMINE_API_KEY": KEY,
                    "BRIDGE_REDMINE_POLL_INTERVAL": str(poll), "BRIDGE_TRACKER_CHECK_SECONDS": "1", **env}
        if secret:
            settings["BRIDGE_REDMINE_WEBHOOK_SECRET"] = secret
        bridge = Bridge(folder, None, **settings)
        del bridge.env["BRIDGE_JIRA_WEBHOOK_SECRET"]
        started.append(bridge)
        return bridge.start(until)

    try:
        yield start
    finally:
        for bridge in started:
            bridge.stop()


# -- reading the stand-in ---------------------------------------------------------------------
def status(redmine: RedmineStandinProcess, ident: int) -> str:
    return redmine.issue(ident)["status"]


def bridge_notes(redmine: RedmineStandinProcess, ident: int, *, private: bool = False) -> list[str]:
    return [j["notes"] for j in redmine.issue(ident)["journals"]
            if j["user"] == "bridgebot" and j["notes"] and j["private_notes"] is private]


def status_puts(redmine: RedmineStandinProcess, ident: int) -> list[dict[str, Any]]:
    """The bridge's status changes of the issue, as the stand-in logged them."""
    return [j for j in redmine.issue(ident)["journals"]
            if j["user"] == "bridgebot" and any(d["name"] == "status_id" for d in j["details"])]


def delivered(redmine: RedmineStandinProcess, count: int) -> list[dict[str, Any]]:
    """The stand-in's webhook deliveries, once `count` of them have been answered."""
    def answered() -> list[dict[str, Any]] | None:
        found = redmine.deliveries()
        done = len(found) >= count and all(d["status"] is not None or d["error"] for d in found)
        return found if done else None

    return wait_until(answered)  # type: ignore[return-value]


def servis(redmine: RedmineStandinProcess, status_name: str = "Na klientovi", **more: Any) -> int:
    (issue,) = redmine.seed_issues({"subject": "Tisk faktur nefunguje", "status": status_name,
                                    "author": "zakaznik", **more})
    return issue["id"]


def reverted(bridge: Bridge, redmine: RedmineStandinProcess, ident: int) -> dict:
    """The issue is back where the customer found it, with the bridge's one Czech note; the
    decision that did it."""
    wait_until(lambda: status(redmine, ident) == "Na klientovi")
    decision = decided(bridge, str(ident), "customer-transition")
    (note,) = wait_until(lambda: bridge_notes(redmine, ident))
    assert note.startswith(FORBIDDEN) and "Vráceno klientem" in note
    assert decision["tracker"] == "redmine" and decision["verdict"] == "reverted"
    assert [a["outcome"] for a in decision["actions"]] == ["done", "done"]
    return decision


# -- 1. signed webhooks ------------------------------------------------------------------------
def test_a_signed_webhook_reverts_a_customers_forbidden_move_and_a_wrong_or_missing_signature_is_401(redmine, serve):
    bridge = serve()
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="signed", secret=HOOK_SECRET)
    ident = servis(redmine)

    moved = redmine.act(ident, user="zakaznik", status="Hotovo")
    assert moved["issue"]["status"] == "Hotovo"  # Redmine's own workflow lets the customer
    reverted(bridge, redmine, ident)
    # the customer's move, then the bridge's own two edits (status, note): all taken
    assert [d["status"] for d in delivered(redmine, 3)] == [200, 200, 200]
    assert len(status_puts(redmine, ident)) == 1

    other = servis(redmine)
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="signed", secret="not-the-secret")
    redmine.act(other, user="zakaznik", status="Hotovo")
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="plugin")  # no signature, no token
    redmine.act(other, user="zakaznik", notes="Prosím o zavření.")
    assert [d["status"] for d in delivered(redmine, 5)[3:]] == [401, 401]
    time.sleep(0.5)
    assert status(redmine, other) == "Hotovo"  # nothing proved the delivery: nothing judged
    assert not bridge.api("/api/decisions", ticket=str(other))
    assert HOOK_SECRET not in bridge.log.read_text() and KEY not in bridge.log.read_text()


# -- 2. the plugin's form, a token in a header; one change delivered three times --------------
def polled_after(redmine: RedmineStandinProcess, moment: float, polls: int = 2) -> None:
    """Wait until the bridge has searched the issues `polls` times since `moment`."""
    wait_until(lambda: len([c for c in redmine.calls() if c["path"] == "/issues.json"
                            and "updated_on" in c["query"] and c["at"] > moment]) >= polls, timeout=5)


def test_the_plugin_form_with_a_token_header_reverts_once_however_often_the_change_arrives(redmine, serve):
    bridge = serve(poll=1)
    hooks = f"{bridge.url}/webhooks/redmine"
    redmine.webhook(hooks, form="plugin", token="wrong-token", token_in="header")
    ident = servis(redmine)
    redmine.act(ident, user="zakaznik", notes="Dobrý den, posílám podklady.")
    assert delivered(redmine, 1)[0]["status"] == 401

    redmine.webhook(hooks, form="plugin", token=HOOK_SECRET, token_in="header")
    redmine.clear_deliveries()
    redmine.act(ident, user="zakaznik", status="Hotovo")
    decision = reverted(bridge, redmine, ident)
    assert delivered(redmine, 1)[0]["status"] == 200
    redmine.resend(0)  # the plugin sends the same change again
    assert delivered(redmine, 4)[-1]["status"] == 200
    polled_after(redmine, redmine.calls()[-1]["at"])  # and polling reads it too

    judged = [d for d in bridge.api("/api/decisions", ticket=str(ident)) if d["to_status"] == "Hotovo"]
    assert [d["id"] for d in judged] == [decision["id"]]
    assert len(status_puts(redmine, ident)) == 1 and len(bridge_notes(redmine, ident)) == 1
    assert status(redmine, ident) == "Na klientovi"

    # The other way round: the plugin's post is lost, polling finds the change and reverts it;
    # the post that comes late is recorded as judged before, and changes nothing.
    late = servis(redmine)
    redmine.webhook("http://127.0.0.1:9/webhooks/redmine", form="plugin", token=HOOK_SECRET, token_in="header")
    redmine.clear_deliveries()
    redmine.act(late, user="zakaznik", status="Hotovo")
    assert delivered(redmine, 1)[0]["error"]
    first = reverted(bridge, redmine, late)
    keys = {d["id"]: d["delivery_key"] for d in bridge.api("/api/deliveries")}
    assert keys[first["delivery_id"]].startswith("reconcile:")  # found by polling
    redmine.webhook(hooks, form="plugin", token=HOOK_SECRET, token_in="header")
    redmine.resend(0)
    again = wait_until(lambda: [d for d in bridge.api("/api/decisions", ticket=str(late))
                                if d["rule"] == "judged-before"])
    assert [d["to_status"] for d in again] == ["Hotovo"] and again[0]["verdict"] == "ignored"
    assert len(status_puts(redmine, late)) == 1 and len(bridge_notes(redmine, late)) == 1
