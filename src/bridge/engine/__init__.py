"""The decision core: pure functions over plain data, no I/O, no clock."""

from __future__ import annotations

from bridge.engine.decide import decide
from bridge.engine.model import (
    COMMENT_WINDOW,
    Action,
    Actor,
    Chain,
    Comment,
    CommentAction,
    Decision,
    Event,
    Found,
    Kind,
    NO_CHAIN,
    Need,
    Role,
    Rule,
    StatusChange,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
    WorkedTicket,
    Worklog,
)

__all__ = [
    "COMMENT_WINDOW",
    "Action",
    "Actor",
    "Chain",
    "Comment",
    "CommentAction",
    "Decision",
    "Event",
    "Found",
    "Kind",
    "NO_CHAIN",
    "Need",
    "Role",
    "Rule",
    "StatusChange",
    "Ticket",
    "Transition",
    "TransitionAction",
    "Verdict",
    "WorkedTicket",
    "Worklog",
    "decide",
]
