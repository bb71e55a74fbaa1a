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
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BRIDGE, CUSTOMER, Bridge, decided, wait_until
from tests.e2e.test_sites import Site, standin_process
from tests.redmine_standin.client import RedmineStandinProcess

pytestmark = pytest.mark.e2e

KEY = "e2e-redmine-api-key"
HOOK_SECRET = "e2e/Redmine+hook/secret=="  # as base64 makes them: `/` in a URL's token
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
    assert status(redmine, other) == "Hotovo"  # nothing proved the delivery: nothing judged
    assert not bridge.api("/api/decisions", ticket=str(other))
    assert HOOK_SECRET not in bridge.log.read_text() and KEY not in bridge.log.read_text()


# -- 2. the plugin's form, its token in a header or the URL; one change delivered three times -
def polled_after(redmine: RedmineStandinProcess, moment: float, polls: int = 2) -> None:
    """Wait until the bridge has searched the issues `polls` times since `moment`."""
    wait_until(lambda: len([c for c in redmine.calls() if c["path"] == "/issues.json"
                            and "updated_on" in c["query"] and c["at"] > moment]) >= polls, timeout=5)


def test_the_plugin_form_with_a_token_reverts_once_however_often_the_change_arrives(redmine, serve):
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
    redmine.webhook(hooks, form="plugin", token=HOOK_SECRET, token_in="path")  # sent as …/e2e%2FRedmine%2B…
    redmine.resend(0)
    again = wait_until(lambda: [d for d in bridge.api("/api/decisions", ticket=str(late))
                                if d["rule"] == "judged-before"])
    assert [d["to_status"] for d in again] == ["Hotovo"] and again[0]["verdict"] == "ignored"
    assert len(status_puts(redmine, late)) == 1 and len(bridge_notes(redmine, late)) == 1


# -- 3. polling only --------------------------------------------------------------------------
def test_polling_alone_reverts_a_forbidden_move_leaves_an_allowed_one_and_never_judges_its_own(redmine, serve):
    poll = 1.0
    bridge = serve(poll=poll, secret=None)
    forbidden, allowed = servis(redmine), servis(redmine)
    polled_after(redmine, 0, polls=1)

    redmine.act(forbidden, user="zakaznik", status="Hotovo")
    redmine.act(allowed, user="zakaznik", status="Vráceno klientem")
    assert not redmine.deliveries()  # no webhook: only polling can find these
    wait_until(lambda: status(redmine, forbidden) == "Na klientovi", timeout=2 * poll + 1)
    revert = reverted(bridge, redmine, forbidden)
    kept = wait_until(lambda: [d for d in bridge.api("/api/decisions", ticket=str(allowed)) if d["to_status"]])
    assert [(d["verdict"], d["from_status"], d["to_status"]) for d in kept] == [
        ("allowed", "Na klientovi", "Vráceno klientem")]

    polled_after(redmine, redmine.calls()[-1]["at"])  # two polls after the revert ...
    assert [d["id"] for d in bridge.api("/api/decisions", ticket=str(forbidden))] == [revert["id"]]
    assert len(status_puts(redmine, forbidden)) == 1  # ... found nothing new to judge
    assert status(redmine, allowed) == "Vráceno klientem" and not bridge_notes(redmine, allowed)
    assert len(bridge.api("/api/decisions", ticket=str(allowed))) == 1


def test_a_move_made_with_a_private_note_reaches_the_bridge_by_polling(redmine, serve):
    """Redmine splits an edit with private notes in two journals, the changes public and the
    notes private, and the plugin posts the notes' journal only: the status change comes by
    polling, which is why polling stays on beside the plugin."""
    bridge = serve(poll=1)
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="plugin", token=HOOK_SECRET)
    ident = servis(redmine, "Realizace")
    edit = redmine.act(ident, user="resitel", status="Na vývoji", notes="Předáno vývoji.", private_notes=True)
    assert [j["details"] == [] for j in edit["journals"]] == [False, True]
    assert delivered(redmine, 1)[0]["body"]["payload"]["journal"]["details"] == []

    wait_until(lambda: status(redmine, ident) == "Realizace")  # no PBI number: back it goes
    decision = decided(bridge, str(ident), "entry-requirement")
    assert (decision["from_status"], decision["to_status"], decision["verdict"]) == ("Realizace", "Na vývoji", "reverted")
    (note,) = wait_until(lambda: bridge_notes(redmine, ident, private=True))
    assert "Číslo PBI" in note


# -- 4. a Jira site and a Redmine site in one deployment ---------------------------------------
@pytest.fixture
def jira_site() -> Iterator[Site]:
    """The Jira stand-in as its own process, as test_sites.py starts it."""
    proc, url = standin_process("bot@acme.example:acme-token")
    try:
        yield Site(url, "bot@acme.example:acme-token")
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_jira_site_and_a_redmine_site_each_revert_on_their_own_tracker(tmp_path, redmine, jira_site):
    jira_url, jira = jira_site.url, jira_site.control
    sites = tmp_path / "sites.yaml"
    sites.write_text(
        "sites:\n"
        f"  - name: acme\n    kind: jira\n    url: {jira_url}\n    user: bot@acme.example\n"
        "    token_env: ACME_TOKEN\n    webhook_secret_env: ACME_SECRET\n"
        f"  - name: podpora\n    kind: redmine\n    url: {redmine.url}\n"
        "    api_key_env: PODPORA_KEY\n    webhook_secret_env: PODPORA_SECRET\n    poll_interval: 0\n",
        encoding="utf-8",
    )
    bridge = Bridge(tmp_path, None, BRIDGE_SITES_FILE=str(sites), ACME_TOKEN="acme-token", ACME_SECRET="acme-secret",
                    PODPORA_KEY=KEY, PODPORA_SECRET=HOOK_SECRET, BRIDGE_TRACKER_CHECK_SECONDS="1")
    del bridge.env["BRIDGE_JIRA_WEBHOOK_SECRET"]
    try:
        bridge.start()
        jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/acme", "secret": "acme-secret"})
        redmine.webhook(f"{bridge.url}/webhooks/podpora", form="signed", secret=HOOK_SECRET)
        code, ready = bridge.readyz()
        assert code == 200 and ready["tracker"] == {"acme": "ok", "podpora": "ok"}

        jira("POST", "/issues", {"key": "SRV-1", "status": "Na klientovi", "project": "SRV"})
        ident = servis(redmine)
        jira("POST", "/issues/SRV-1/transition", {"to": "Hotovo", "user": CUSTOMER})
        redmine.act(ident, user="zakaznik", status="Hotovo")

        wait_until(lambda: jira("GET", "/issues/SRV-1")["status"] == "Na klientovi")
        wait_until(lambda: status(redmine, ident) == "Na klientovi")
        on_jira = decided(bridge, "SRV-1", "customer-transition")
        on_redmine = decided(bridge, str(ident), "customer-transition")
        assert (on_jira["tracker"], on_redmine["tracker"]) == ("acme", "podpora")
        assert on_jira["verdict"] == on_redmine["verdict"] == "reverted"
        assert len(jira("GET", "/issues/SRV-1")["comments"]) == 1
        (note,) = wait_until(lambda: bridge_notes(redmine, ident))
        assert note.startswith(FORBIDDEN)
        # each site was asked about its own ticket only
        named = {c["path"].split("/")[2].split(".")[0] for c in redmine.calls() if c["path"].startswith("/issues/")}
        assert named == {str(ident)}
        assert not [c for c in jira("GET", "/calls") if "/issue/" in c["path"] and "SRV-1" not in c["path"]]

        # Redmine behind a login page: readiness says so for that site alone, and Jira's
        # tickets are served as before
        redmine.fault("^/(issues|users)", page="login", times=10_000)
        code, ready = wait_until(lambda: (r := bridge.readyz())[0] == 503 and r)
        assert ready["tracker"]["acme"] == "ok" and "login page" in ready["tracker"]["podpora"]
        held = servis(redmine)
        redmine.act(held, user="zakaznik", status="Hotovo")
        jira("POST", "/issues", {"key": "SRV-2", "status": "Na klientovi", "project": "SRV"})
        jira("POST", "/issues/SRV-2/transition", {"to": "Hotovo", "user": CUSTOMER})
        wait_until(lambda: jira("GET", "/issues/SRV-2")["status"] == "Na klientovi")
        assert status(redmine, held) == "Hotovo"
        redmine.clear_faults()  # and Redmine's waiting change is taken up once it answers again
        wait_until(lambda: status(redmine, held) == "Na klientovi")
        assert decided(bridge, str(held), "customer-transition")["tracker"] == "podpora"
    finally:
        bridge.stop()


# -- 5. bad input -----------------------------------------------------------------------------
def test_a_login_page_in_place_of_the_api_holds_the_revert_until_redmine_answers_again(redmine, serve):
    bridge = serve(poll=1)
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="signed", secret=HOOK_SECRET)
    ident = servis(redmine)
    redmine.fault("^/(issues|users)", page="login", times=10_000)  # a single sign-on took over

    redmine.act(ident, user="zakaznik", status="Hotovo")
    assert delivered(redmine, 1)[0]["status"] == 200  # received and kept; Redmine is not asked yet
    (waiting,) = wait_until(lambda: [d for d in bridge.api("/api/deliveries") if d["last_error"]])
    assert waiting["state"] == "retrying"
    assert redmine.url in waiting["last_error"] and "login page" in waiting["last_error"]
    code, ready = wait_until(lambda: (r := bridge.readyz())[0] == 503 and r)
    assert "login page" in ready["tracker"] and ready["ready"] is False
    polls = "reconcile of redmine failed; the next round covers it: GET "
    wait_until(lambda: polls in bridge.log.read_text())  # polling fails as well ...
    assert status(redmine, ident) == "Hotovo"

    redmine.clear_faults()  # the API answers again: nobody has to replay anything
    reverted(bridge, redmine, ident)
    assert wait_until(lambda: bridge.readyz()[0] == 200)
    log = bridge.log.read_text()
    assert "Traceback" not in log  # ... each time in one line
    everything = log + json.dumps(bridge.api("/api/deliveries")) + json.dumps(ready)
    assert KEY not in everything and HOOK_SECRET not in everything


def signed_post(bridge: Bridge, path: str, payload: dict[str, Any], secret: str = HOOK_SECRET) -> httpx.Response:
    """A delivery as Redmine's own webhooks send it: the body signed in X-Redmine-Signature-256."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{bridge.url}{path}", content=body, timeout=10,
                      headers={"Content-Type": "application/json", "X-Redmine-Signature-256": signature})


def test_a_journal_naming_a_status_that_is_gone_is_recorded_not_judged(redmine, serve):
    bridge = serve()
    (issue,) = redmine.seed_issues({"subject": "Stav, který zmizel", "status": "Na klientovi", "author": "zakaznik",
                                    "journals": [{"id": 900, "user": "zakaznik", "details": [
                                        {"property": "attr", "name": "status_id", "old_value": "12",
                                         "new_value": "99"}]}]})
    ident = issue["id"]
    journal = {"id": 900, "created_on": issue["journals"][0]["created_on"], "notes": "",
               "user": {"id": 6, "name": "Zákazník Test"},
               "details": [{"property": "attr", "prop_key": "status_id", "old_value": "12", "value": "99"}]}
    shown = redmine.rest("GET", f"/issues/{ident}.json").json()["issue"]
    delivery = {"type": "issue.updated", "timestamp": journal["created_on"], "data": {"issue": shown, "journal": journal}}

    assert signed_post(bridge, "/webhooks/nosuchsite", delivery).status_code == 404
    assert signed_post(bridge, "/webhooks/redmine", delivery).status_code == 200
    (recorded,) = wait_until(lambda: bridge.api("/api/decisions", ticket=str(ident)))
    assert "#99" in recorded["event"] and recorded["verdict"] == "ignored" and not recorded["actions"]
    assert status(redmine, ident) == "Na klientovi" and not bridge_notes(redmine, ident)
    (kept,) = bridge.api("/api/deliveries")
    assert kept["state"] == "done"

    # the service goes on: the next forbidden move is reverted as ever
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="signed", secret=HOOK_SECRET)
    redmine.act(ident, user="zakaznik", status="Hotovo")
    reverted(bridge, redmine, ident)


def test_a_sites_file_naming_a_variable_that_is_not_set_stops_start_up_in_one_line(tmp_path, redmine):
    sites = tmp_path / "sites.yaml"
    sites.write_text(f"sites:\n  - name: podpora\n    kind: redmine\n    url: {redmine.url}\n"
                     "    api_key_env: PODPORA_KEY\n    webhook_secret_env: PODPORA_SECRET\n", encoding="utf-8")
    bridge = Bridge(tmp_path, None, BRIDGE_SITES_FILE=str(sites), PODPORA_SECRET=HOOK_SECRET)
    result = subprocess.run([str(BRIDGE), "serve", "--port", str(bridge.port)], cwd=tmp_path, env=bridge.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"{sites}:5:18: PODPORA_KEY (api_key_env of site podpora) is not set",
                                          "error: the sites are not configured right; not starting"]
    assert HOOK_SECRET not in result.stdout + result.stderr
    assert not (tmp_path / "bridge.db").exists()  # refused before the database was touched
    assert not redmine.calls()


# -- 6. a revert Redmine keeps ----------------------------------------------------------------
def test_a_revert_redmine_answers_204_to_and_drops_needs_attention_with_a_private_note(redmine, serve):
    bridge = serve()
    redmine.webhook(f"{bridge.url}/webhooks/redmine", form="signed", secret=HOOK_SECRET)
    ident = servis(redmine)
    # The bridge reads the issue (its role may move it back), then sends the revert; while
    # that is on its way an administrator takes the move from the bridge's role.
    redmine.fault(f"^/issues/{ident}\\.json$", method="PUT", delay_ms=2000)
    redmine.act(ident, user="zakaznik", status="Hotovo")
    wait_until(lambda: [c for c in redmine.calls() if c["method"] == "PUT"])
    redmine.workflow("Servis", "Bridge", {"Hotovo": ["Zrušeno"]})

    decision = wait_until(lambda: next((d for d in bridge.api("/api/decisions", ticket=str(ident))
                                        if d["verdict"] == "needs_attention"), None))
    assert decision["rule"] == "customer-transition"
    assert [a["outcome"] for a in decision["actions"]] == ["failed", "skipped"]
    assert status(redmine, ident) == "Hotovo"  # Redmine answered 204 and kept it
    (note,) = wait_until(lambda: bridge_notes(redmine, ident, private=True))
    assert "Na klientovi" in note and "Workflow" in note
    assert not bridge_notes(redmine, ident)  # the customer is not told it was reverted ...
    seen = redmine.rest("GET", f"/issues/{ident}.json", user="zakaznik", params={"include": "journals"}).json()
    assert not [j for j in seen["issue"]["journals"] if j["notes"]]  # ... nor shown the team's note
    listed = bridge.cli_json("attention")
    assert [(w["ticket"], w["kind"]) for w in listed] == [(str(ident), "attention")]
