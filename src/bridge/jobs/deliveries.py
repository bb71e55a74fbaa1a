"""The deliveries jobs queue: what a timer delivery says, and reading it back as an event;
likewise a development item's change queued for one of its tickets (see jobs/devitems.py).

A timer delivery names the ticket, the workflow, the stay (when the ticket last entered its
status) and the step (`expire` or `remind-N`). Its key is made of the same, so that a step
of a stay is queued once however many sweeps see it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from bridge.engine import Actor, Event, Kind, Role

PREFIX = b'{"job":'
BRIDGE = Actor("ticket-bridge", "ticket-bridge", Role.BRIDGE)


def timer_work(ticket: str, workflow: str, entered: datetime, step: str) -> tuple[str, dict[str, Any]]:
    stay = entered.isoformat(timespec="seconds")
    body = {"job": "timer", "ticket": ticket, "workflow": workflow, "entered": stay, "step": step}
    return f"timer:{ticket}:{stay}:{step}", body


def change_key(ticket: str | None, change_id: str) -> str:
    """How a status change is known wherever it comes from: its ticket and the tracker's id."""
    return f"{ticket}/{change_id}"


def parse_job(body: bytes, tracker: str) -> Event | None:
    """A job's delivery as an event; None for anything else (a tracker's webhook)."""
    if not body.startswith(PREFIX):
        return None
    data = orjson.loads(body)
    if data.get("job") == "devitem":
        return Event(
            tracker=tracker,
            kind=Kind.DEV_ITEM,
            ticket=data["ticket"],
            actor=BRIDGE,
            raw_event=f"devitem:{data['item']}",
            to_status=data["state"] or None,
            workflow=data.get("workflow"),
            change_id=data["item"],
            step=data["provider"],
        )
    if data.get("job") != "timer":
        return None
    return Event(
        tracker=tracker,
        kind=Kind.TIMER,
        ticket=data["ticket"],
        actor=BRIDGE,
        raw_event=f"timer:{data['step']}",
        at=datetime.fromisoformat(data["entered"]),
        workflow=data["workflow"],
        step=data["step"],
    )
