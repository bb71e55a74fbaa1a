"""A tracker that takes a revert and keeps the status (Redmine answers 204 while its own
workflow drops the change): never silence. The decision needs attention, the team gets an
internal note, and the customer is not told the move was undone."""

from __future__ import annotations

import pytest

from bridge.store import DONE
from bridge.store.attention import Attention
from bridge.trackers.base import StatusNotChanged
from tests.test_processing import Harness, forbidden, issue


@pytest.fixture
async def harness(tmp_path):
    h = Harness(tmp_path)
    h.services.inbox.start()
    yield h
    h.services.inbox.stop()


async def test_a_revert_the_tracker_kept_needs_attention_with_an_internal_note(harness, monkeypatch):
    issue(harness.standin, "SRV-412", "Hotovo")
    tracker = harness.services.worker.tracker

    async def kept(ticket: str, transition_id: str) -> None:
        raise StatusNotChanged(f"{ticket} is still in 'Hotovo' after the change was accepted")

    monkeypatch.setattr(tracker, "transition", kept)
    await harness.deliver(forbidden())
    await harness.process()

    (decision,) = harness.decisions("SRV-412")
    assert decision["verdict"] == "needs_attention"
    assert "kept the status" in decision["reason"]
    (delivery,) = harness.services.store.list_deliveries(DONE)  # handled, not dead-lettered
    comments = harness.standin.issues["SRV-412"].comments
    assert len(comments) == 1  # the note to the team; the customer is not told of an undo
    note = comments[0]
    assert note["jsdPublic"] is False
    text = str(note["body"])  # the workflow's own note, in its language (Czech here)
    assert "žádný přechod nevede zpět do stavu Na klientovi" in text and "Vraťte jej prosím ručně" in text
    (waiting,) = Attention(harness.services.store.engine).queue(10)
    assert waiting.ticket == "SRV-412" and waiting.kind == "attention"
