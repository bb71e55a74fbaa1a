"""Reading and writing the inbox, decisions and actions. Synchronous SQLAlchemy Core; the
async side calls it through `asyncio.to_thread`.

Claiming uses `FOR UPDATE SKIP LOCKED` (ignored by SQLite), so several replicas can share one
PostgreSQL inbox; a claim that was never finished (a crashed replica) is taken again after
its lease runs out.

Texts are written without NUL (PostgreSQL's text cannot hold it) and cut to their columns,
so no value a delivery carried can make a write fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError

from bridge.store.db import begin_write
from bridge.store.tables import actions, decisions, deliveries, status_changes

log = logging.getLogger(__name__)

PENDING, PROCESSING, DONE, DEAD, REJECTED = "pending", "processing", "done", "dead", "rejected"
RETRYING = "retrying"  # the tracker failed it (or an earlier delivery of its ticket): later
STATES = (PENDING, PROCESSING, RETRYING, DONE, DEAD, REJECTED)
REPLAYABLE = (DEAD, DONE, RETRYING)  # rejected ones never parsed; the rest are under way
LEASE = timedelta(minutes=5)
# The database itself is failing (unreachable, locked): no one result is to blame.
DATABASE_FAILING = (OperationalError, InterfaceError)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_MARK_JUDGED = {
    "postgresql": postgresql.insert(status_changes).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(status_changes).on_conflict_do_nothing(),
}


def _mark_judged(engine: Engine):  # type: ignore[no-untyped-def]
    return _MARK_JUDGED[engine.dialect.name]


def clean_text(value: str | None, limit: int | None = None) -> str | None:
    """`value` without NUL and at most `limit` characters long."""
    if value is None:
        return None
    return value.replace("\x00", "")[:limit]


_DECISION_LENGTHS = {c.name: getattr(c.type, "length", None) for c in decisions.columns}


def _decision_row(record: DecisionRecord) -> dict[str, Any]:
    row = dict(record.__dict__)
    for name, value in row.items():
        if isinstance(value, str):
            row[name] = clean_text(value, _DECISION_LENGTHS.get(name))
    return row


def _briefly(exc: BaseException) -> str:
    """The first line of the driver's own message, without the statement and its values."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"[:300]


@dataclass(frozen=True)
class Claimed:
    id: int
    tracker: str
    delivery_key: str
    body: bytes
    claims: int  # how often it was taken up, this time included: above 1, it was begun before
    retrying_since: datetime | None = None  # since when the tracker has failed this delivery


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


@dataclass(frozen=True, slots=True)
class Finished:
    """How a delivery's attempt ended: its state (done, dead, or retrying at `retry_at`), the
    decision to record when no action was taken (one with actions is recorded before they
    are applied), the error of a dead or retrying delivery, the ticket it is about and
    since when the tracker has been failing it."""

    delivery_id: int
    state: str
    decision: DecisionRecord | None = None
    error: str | None = None
    retry_at: datetime | None = None
    ticket: str | None = None
    retrying_since: datetime | None = None
    attempts: int = 0  # calls made to the tracker for it, this time
    # the status change it judged, (tracker, ticket/change id): marked judged as it ends
    change: tuple[str, str] | None = None
    # the last action's outcome (action id, outcome, error): recorded as the delivery ends,
    # which follows it at once; every earlier one was recorded before the next was sent
    outcome: tuple[int, str, str | None] | None = None


@dataclass(frozen=True, slots=True)
class Held:
    """The oldest delivery of a ticket waiting to be retried, and when it will be."""

    delivery_id: int
    retry_at: datetime


# The write statements are built once: building one per call costs more than running it.
_INSERT_DECISION = insert(decisions).returning(decisions.c.id)
_INSERT_ACTIONS = insert(actions).returning(actions.c.id, sort_by_parameter_order=True)
_SET_OUTCOME = (
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
_HELD = (
    select(
        deliveries.c.tracker,
        deliveries.c.ticket,
        func.min(deliveries.c.id),
        func.max(deliveries.c.retry_at),
    )
    .where(deliveries.c.state == RETRYING, deliveries.c.ticket.is_not(None))
    .group_by(deliveries.c.tracker, deliveries.c.ticket)
)
_FINISH = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"))
    .values(
        state=bindparam("state"),
        finished_at=bindparam("finished_at"),
        last_error=bindparam("error"),
        retry_at=bindparam("retry_at"),
        ticket=bindparam("ticket"),
        retrying_since=bindparam("retrying_since"),
        attempts=deliveries.c.attempts + bindparam("attempts"),
    )
)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the worker's side ---------------------------------------------------------------
    def claim(self, limit: int) -> list[Claimed]:
        now = _now()
        claimable = or_(
            deliveries.c.state == PENDING,
            and_(deliveries.c.state == RETRYING, deliveries.c.retry_at <= now),
            and_(deliveries.c.state == PROCESSING, deliveries.c.claimed_at < now - LEASE),
        )
        candidates = (
            select(deliveries.c.id)
            .where(claimable)
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        # one statement, so two claimers can never take the same row (SQLite included)
        with begin_write(self.engine) as conn:
            rows = conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(candidates))
                .values(state=PROCESSING, claimed_at=now, claims=deliveries.c.claims + 1)
                .returning(
                    deliveries.c.id,
                    deliveries.c.tracker,
                    deliveries.c.delivery_key,
                    deliveries.c.body,
                    deliveries.c.claims,
                    deliveries.c.retrying_since,
                )
            ).all()
        rows = sorted(rows, key=lambda r: r.id)
        return [
            Claimed(
                r.id, r.tracker, r.delivery_key, bytes(r.body), r.claims,
                _aware(r.retrying_since),
            )
            for r in rows
        ]

    def held_tickets(self) -> dict[tuple[str, str], Held]:
        """Per (tracker, ticket), the oldest delivery waiting to be retried: the ticket's
        later deliveries wait behind it, so that its events keep their order."""
        with self.engine.connect() as conn:
            rows = conn.execute(_HELD).all()
        return {(r[0], r[1]): Held(r[2], _aware(r[3]) or _now()) for r in rows}

    def release_all_claims(self) -> int:
        """Give claims of a previous run back (single-process SQLite start-up)."""
        with begin_write(self.engine) as conn:
            return conn.execute(
                update(deliveries).where(deliveries.c.state == PROCESSING).values(state=PENDING)
            ).rowcount

    def finish_many(self, results: list[Finished]) -> None:
        """Close deliveries (or set them to wait) with their decisions, in one transaction.

        A result the database refuses must not keep the others in `processing`, to be claimed
        and refused again: each is then recorded alone, and one still refused is closed as dead
        with the reason, without its decision. Raises only when the database itself fails; the
        claims then lapse and are taken again.
        """
        if not results:
            return
        try:
            self._finish(results)
        except DATABASE_FAILING:
            raise
        except Exception as exc:
            if len(results) == 1:
                self._dead_letter(results[0], exc)
                return
            log.warning("recording %d deliveries together failed (%s); each alone", len(results), _briefly(exc))
            for result in results:
                self._finish_alone(result)

    def _finish_alone(self, result: Finished) -> None:
        try:
            self._finish([result])
        except DATABASE_FAILING:
            raise
        except Exception as exc:
            self._dead_letter(result, exc)

    def _dead_letter(self, result: Finished, exc: BaseException) -> None:
        reason = f"could not be recorded as {result.state}: {_briefly(exc)}"
        if result.error:
            reason += f" (its error: {result.error})"
        log.error("delivery %s is dead: %s", result.delivery_id, reason)
        self._finish([Finished(result.delivery_id, DEAD, error=reason)])

    def _finish(self, results: list[Finished]) -> None:
        now = _now()
        decided = [
            {"delivery_id": r.delivery_id, "created_at": now, **_decision_row(r.decision)}
            for r in results
            if r.decision is not None
        ]
        finished = [
            {
                "delivery_id": r.delivery_id,
                "state": r.state,
                "error": clean_text(r.error),
                "finished_at": None if r.state == RETRYING else now,
                "retry_at": r.retry_at,
                "ticket": r.ticket,
                "retrying_since": r.retrying_since,
                "attempts": r.attempts,
            }
            for r in results
        ]
        changes = [
            {"tracker": r.change[0], "change_id": r.change[1], "delivery_id": r.delivery_id, "seen_at": now}
            for r in results
            if r.change is not None and r.state == DONE
        ]
        outcomes = [
            {"action_id": r.outcome[0], "outcome": r.outcome[1], "error": clean_text(r.outcome[2]), "at": now}
            for r in results
            if r.outcome is not None
        ]
        with begin_write(self.engine) as conn:
            if decided:
                conn.execute(insert(decisions), decided)
            if outcomes:
                conn.execute(_SET_OUTCOME, outcomes)
            if changes:
                conn.execute(_mark_judged(self.engine), changes)
            conn.execute(_FINISH, finished)

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
        now = _now()
        outcome = "dry_run" if record.dry_run else "pending"
        with begin_write(self.engine) as conn:
            decision_id = conn.execute(
                _INSERT_DECISION, {"delivery_id": delivery_id, "created_at": now, **_decision_row(record)}
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
                        "updated_at": now,
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

    def customer_chain(self, tracker: str, ticket: str) -> tuple[str | None, str | None]:
        """(origin, reached) of the customer's moves on this ticket that were let stand as
        stale, when the ticket's latest status change is one of them; else (None, None)."""
        with self.engine.connect() as conn:
            row = conn.execute(_LATEST_STATUS_DECISION, {"tracker": tracker, "ticket": ticket}).first()
        if row is None or row.verdict != "stale" or row.actor_role != "customer":
            return None, None
        return row.chain_from or row.from_status, row.to_status

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
                    actions.c.outcome.in_(("pending", "failed")),
                )
                .order_by(actions.c.id)
            ).all()
        return [
            PendingAction(r.id, r.idempotency_key, r.kind, r.ticket, r.payload) for r in rows
        ]

    def set_action_outcome(
        self, action_ids: int | list[int], outcome: str, error: str | None = None
    ) -> None:
        """Record actions' outcome the moment it is known."""
        ids = [action_ids] if isinstance(action_ids, int) else action_ids
        now = _now()
        with begin_write(self.engine) as conn:
            conn.execute(
                _SET_OUTCOME,
                [{"action_id": i, "outcome": outcome, "error": clean_text(error), "at": now} for i in ids],
            )


    # -- operations ------------------------------------------------------------------------
    def replay(self, delivery_id: int) -> bool:
        """Queue a dead or done delivery again, or one waiting to be retried at once.
        Rejected ones cannot be replayed: they never parsed."""
        replayable = deliveries.c.state.in_(REPLAYABLE)
        with begin_write(self.engine) as conn:
            return (
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == delivery_id, replayable)
                    .values(
                        state=PENDING,
                        claimed_at=None,
                        finished_at=None,
                        retry_at=None,
                        retrying_since=None,
                    )
                ).rowcount
                == 1
            )

    def delivery_state(self, delivery_id: int) -> str | None:
        """The delivery's state, or None when there is no such delivery."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(deliveries.c.state).where(deliveries.c.id == delivery_id)
            ).scalar_one_or_none()

    def list_deliveries(
        self, state: str | None = None, limit: int = 100, include_body: bool = False
    ) -> list[dict[str, Any]]:
        cols = [
            deliveries.c.id,
            deliveries.c.tracker,
            deliveries.c.delivery_key,
            deliveries.c.received_at,
            deliveries.c.state,
            deliveries.c.attempts,
            deliveries.c.finished_at,
            deliveries.c.last_error,
        ]
        if include_body:
            cols += [deliveries.c.headers, deliveries.c.body]
        query = select(*cols).order_by(deliveries.c.id.desc()).limit(limit)
        if state:
            query = query.where(deliveries.c.state == state)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            if "body" in row:
                row["body"] = bytes(row["body"]).decode("utf-8", "replace")
        return rows

    def list_decisions(
        self, ticket: str | None = None, verdict: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = select(decisions).order_by(decisions.c.id.desc()).limit(limit)
        if ticket:
            query = query.where(decisions.c.ticket == ticket)
        if verdict:
            query = query.where(decisions.c.verdict == verdict)
        with self.engine.connect() as conn:
            found = [dict(r._mapping) for r in conn.execute(query)]
            ids = [d["id"] for d in found]
            acts: dict[int, list[dict[str, Any]]] = {}
            if ids:
                for r in conn.execute(
                    select(actions).where(actions.c.decision_id.in_(ids)).order_by(actions.c.id)
                ):
                    row = dict(r._mapping)
                    acts.setdefault(row.pop("decision_id"), []).append(row)
        for d in found:
            d["actions"] = acts.get(d["id"], [])
        return found

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            ).all()
        return {state: 0 for state in STATES} | {r[0]: r[1] for r in rows}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))
