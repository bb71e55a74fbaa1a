"""The decision core: pure functions over plain data, no I/O, no clock."""

from __future__ import annotations

from bridge.engine.decide import decide
from bridge.engine.model import (
    Action,
    Actor,
    CommentAction,
    Decision,
    Event,
    Kind,
    Need,
    Role,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
)

__all__ = [
    "Action",
    "Actor",
    "CommentAction",
    "Decision",
    "Event",
    "Kind",
    "Need",
    "Role",
    "Ticket",
    "Transition",
    "TransitionAction",
    "Verdict",
    "decide",
]
