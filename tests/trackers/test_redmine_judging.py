"""A Redmine delivery judged end to end against the real service-sheet workflow: the
customer who closed issue 9 is found by the project's memberships and the move is reverted
by status id; a status not known when the delivery was parsed is named before judging."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import respx

from bridge.engine import CommentAction, Role, TransitionAction, Verdict
from bridge.judging import Judge
from bridge.store import Store, create_db_engine, migrate
from bridge.workflows.loader import load_dir
from tests.conftest import FIXTURES
from tests.databases import database_url
from tests.trackers.test_redmine import BASE, answer, tracker

WORKFLOWS = load_dir(Path(__file__).parents[2] / "workflows")
DELIVERY = (FIXTURES / "redmine" / "webhooks" / "plugin_customer_status_change.json").read_bytes()


@pytest.fixture
def store(tmp_path):
    with database_url("sqlite", tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Store(engine)
        engine.dispose()


@pytest.fixture
def redmine():
    issue = copy.deepcopy(answer("issue_with_journals.json"))
    issue["issue"]["allowed_statuses"] = [{"id": 12, "name": "Na klientovi", "is_closed": False},
                                          {"id": 16, "name": "Hotovo", "is_closed": True}]
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/issue_statuses.json", name="statuses").respond(json=answer("issue_statuses.json"))
        router.get("/users/current.json").respond(json=answer("users_current.json"))
        router.get("/projects.json").respond(json={"projects": [{"id": 2, "name": "Podpora", "identifier": "podpora"}],
                                                   "total_count": 1})
        router.get("/projects/2/memberships.json", name="members").respond(json=answer("memberships.json"))
        router.get("/issues/9.json", name="issue").respond(json=issue)
        yield router


@pytest.mark.parametrize("checked", [True, False], ids=["statuses-read-at-start", "statuses-read-on-demand"])
async def test_a_customers_forbidden_close_is_reverted(store, redmine, checked):
    t = tracker()
    if checked:
        await t.check()
    event = t.parse(DELIVERY)
    assert (event.ticket is None) is not checked  # parsed before the statuses were read: named by id
    judged, decision = await Judge(store, t, lambda: WORKFLOWS).judge(event)
    assert decision.verdict is Verdict.REVERTED
    assert judged.actor.role is Role.CUSTOMER and judged.tracker == "redmine"
    move = next(a for a in decision.actions if isinstance(a, TransitionAction))
    assert (move.ticket, move.transition_id, move.to_status) == ("9", "12", "Na klientovi")
    assert any(isinstance(a, CommentAction) and a.public for a in decision.actions)
    assert redmine["members"].call_count == 1
