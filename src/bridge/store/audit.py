"""The audit log: every decision, and the actions it took with their outcomes.

A decision and its actions are recorded before any action is applied (outbox style), so
an attempt cut short is resumed from what was planned rather than decided again, and each
outcome is recorded the moment it is known.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from bridge.store.db import begin_write
from bridge.store.tables import actions, decisions
from bridge.store.values import clean_text, now, text_lengths


class ActionOutcome(enum.StrEnum):
    """An action's outcome as stored; members are the stored strings themselves."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # to be tried again
    SKIPPED = "skipped"  # the ticket moved on before a retry
    DRY_RUN = "dry_run"  # recorded, never sent


@dataclass(frozen=True)
class DecisionRecord:
    """A decision as the audit log keeps it."""

    tracker: str
    ticket: str | None
    event: str | None
    actor: str | None
    actor_role: str | None
    from_status: str | None
    to_status: str | None
    workflow: str | None
    verdict: str
    rule: str
    reason: str
    dry_run: bool
    chain_from: str | None = None


@dataclass(frozen=True)
class PendingAction:
    id: int
    key: str  # the idempotency key; it marks what the action made in the tracker
    kind: str
    ticket: str
    payload: dict[str, Any]


_DECISION_LENGTHS = text_lengths(decisions)


def decision_row(record: DecisionRecord) -> dict[str, Any]:
    """`record` as the values of its row, its texts made fit to be stored."""
    row = dict(record.__dict__)
    for name, value in row.items():
        if isinstance(value, str):
            row[name] = clean_text(value, _DECISION_LENGTHS.get(name))
    return row


# The write statements are built once: building one per call costs more than running it.
_INSERT_DECISION = insert(decisions).returning(decisions.c.id)
_INSERT_ACTIONS = insert(actions).returning(actions.c.id, sort_by_parameter_order=True)
SET_OUTCOME = (
    update(actions)
    .where(actions.c.id == bindparam("action_id"))
    .values(outcome=bindparam("outcome"), error=bindparam("error"), updated_at=bindparam("at"))
)
_LATEST_STATUS_DECISION = (
    select(
        decisions.c.verdict,
        decisions.c.actor_role,
        decisions.c.from_status,
        decisions.c.to_status,
        decisions.c.chain_from,
    )
    .where(
        decisions.c.ticket == bindparam("ticket"),
        decisions.c.tracker == bindparam("tracker"),
        decisions.c.to_status.is_not(None),
    )
    .order_by(decisions.c.id.desc())
    .limit(1)
)


# (delivery id, the decision, its planned actions), as `record_decision` takes them
Decided = tuple[int | None, DecisionRecord, list[tuple[str, str, str, dict[str, Any]]]]
# The database itself is failing (unreachable, locked): no one decision is to blame.
DATABASE_FAILING = (OperationalError, InterfaceError)


def _record(
    conn: Connection,
    at: datetime,
    delivery_id: int | None,
    record: DecisionRecord,
    planned: list[tuple[str, str, str, dict[str, Any]]],
) -> list[PendingAction]:
    outcome = ActionOutcome.DRY_RUN if record.dry_run else ActionOutcome.PENDING
    decision_id = conn.execute(
        _INSERT_DECISION, {"delivery_id": delivery_id, "created_at": at, **decision_row(record)}
    ).scalar_one()
    ids = conn.execute(
        _INSERT_ACTIONS,
        [
            {
                "decision_id": decision_id,
                "idempotency_key": key,
                "kind": kind,
                "ticket": ticket,
                "payload": payload,
                "outcome": outcome,
                "updated_at": at,
            }
            for key, kind, ticket, payload in planned
        ],
    ).scalars().all() if planned else []
    if record.dry_run:
        return []
    return [
        PendingAction(action_id, key, kind, ticket, payload)
        for action_id, (key, kind, ticket, payload) in zip(ids, planned, strict=True)
    ]

# the latest status change of each of several tickets
_LATEST_STATUS_DECISIONS = select(
    decisions.c.ticket,
    decisions.c.verdict,
    decisions.c.actor_role,
    decisions.c.from_status,
    decisions.c.to_status,
    decisions.c.chain_from,
).where(
    decisions.c.id.in_(
        select(func.max(decisions.c.id))
        .where(
            decisions.c.tracker == bindparam("tracker"),
            decisions.c.ticket.in_(bindparam("tickets", expanding=True)),
            decisions.c.to_status.is_not(None),
        )
        .group_by(decisions.c.ticket)
    )
)


def _chain_of(row: Any) -> tuple[str | None, str | None]:
    if row is None or row.verdict != "stale" or row.actor_role != "customer":
        return None, None
    return row.chain_from or row.from_status, row.to_status


class Audit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_decision(
        self,
        delivery_id: int | None,
        record: DecisionRecord,
        planned: list[tuple[str, str, str, dict[str, Any]]],
    ) -> list[PendingAction]:
        """Record a decision and its actions before any is applied (outbox style).

        `planned` holds (idempotency key, kind, ticket, payload); actions of a dry run are
        stored as `dry_run` and never sent.
        """
        with begin_write(self.engine) as conn:
            return _record(conn, now(), delivery_id, record, planned)

    def record_decisions(self, decided: list[Decided]) -> list[list[PendingAction] | Exception]:
        """Record several decisions with their actions (see `record_decision`) in one
        transaction. One the database refuses must not fail the others: each is then
        recorded alone, and answered with its own error. Raises only when the database
        itself fails."""
        try:
            with begin_write(self.engine) as conn:
                at = now()
                return [_record(conn, at, *entry) for entry in decided]
        except DATABASE_FAILING:
            raise
        except Exception:
            if len(decided) == 1:
                raise
        answers: list[list[PendingAction] | Exception] = []
        for entry in decided:
            try:
                answers.append(self.record_decision(*entry))
            except DATABASE_FAILING:
                raise
            except Exception as exc:
                answers.append(exc)
        return answers

    def customer_chain(self, tracker: str, ticket: str) -> tuple[str | None, str | None]:
        """(origin, reached) of the customer's moves on this ticket that were let stand as
        stale, when the ticket's latest status change is one of them; else (None, None)."""
        with self.engine.connect() as conn:
            row = conn.execute(_LATEST_STATUS_DECISION, {"tracker": tracker, "ticket": ticket}).first()
        return _chain_of(row)

    def customer_chains(self, tracker: str, tickets: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """`customer_chain` of each of `tickets`, in one query."""
        if not tickets:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(_LATEST_STATUS_DECISIONS, {"tracker": tracker, "tickets": tickets}).all()
        found = {row.ticket: _chain_of(row) for row in rows}
        return {ticket: found.get(ticket, (None, None)) for ticket in tickets}

    def unfinished_actions(self, delivery_id: int) -> list[PendingAction] | None:
        """Actions of an earlier attempt at this delivery not yet applied; None when the
        delivery was never decided (so it must be decided now)."""
        with self.engine.connect() as conn:
            decided = conn.execute(
                select(decisions.c.id).where(decisions.c.delivery_id == delivery_id).limit(1)
            ).first()
            if decided is None:
                return None
            rows = conn.execute(
                select(
                    actions.c.id,
                    actions.c.idempotency_key,
                    actions.c.kind,
                    actions.c.ticket,
                    actions.c.payload,
                )
                .join(decisions, decisions.c.id == actions.c.decision_id)
                .where(
                    decisions.c.delivery_id == delivery_id,
                    actions.c.outcome.in_((ActionOutcome.PENDING, ActionOutcome.FAILED)),
                )
                .order_by(actions.c.id)
            ).all()
        return [
            PendingAction(r.id, r.idempotency_key, r.kind, r.ticket, r.payload) for r in rows
        ]

    def needs_attention(self, action_id: int, reason: str) -> None:
        """The decision of `action_id` could not be carried out: it now needs attention,
        for `reason` (the attention queue lists it)."""
        decision = select(actions.c.decision_id).where(actions.c.id == action_id).scalar_subquery()
        with begin_write(self.engine) as conn:
            conn.execute(
                update(decisions).where(decisions.c.id == decision).values(
                    verdict="needs_attention", reason=clean_text(reason)
                )
            )

    def set_action_outcome(
        self, action_ids: int | list[int], outcome: str, error: str | None = None
    ) -> None:
        """Record actions' outcome the moment it is known."""
        ids = [action_ids] if isinstance(action_ids, int) else action_ids
        at = now()
        with begin_write(self.engine) as conn:
            conn.execute(
                SET_OUTCOME,
                [{"action_id": i, "outcome": outcome, "error": clean_text(error), "at": at} for i in ids],
            )
