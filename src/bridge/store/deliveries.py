"""Deliveries through their states: claimed by a worker, finished (done, dead, or retrying
later), held behind an earlier delivery of their ticket, replayed by an operator.

Claiming uses `FOR UPDATE SKIP LOCKED` (ignored by SQLite), so several replicas can share one
PostgreSQL inbox; a claim that was never finished (a crashed replica) is taken again after
its lease runs out.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Integer, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError

from bridge.store.audit import SET_OUTCOME, DecisionRecord, decision_row
from bridge.store.db import begin_write
from bridge.store.tables import decisions, deliveries, status_changes
from bridge.store.values import aware, clean_text, now

log = logging.getLogger(__name__)


class DeliveryState(enum.StrEnum):
    """A delivery's state as stored; members are the stored strings themselves (and print
    as them), so rows read back compare equal to them."""

    PENDING = "pending"
    PROCESSING = "processing"
    # the tracker failed it (or an earlier delivery of its ticket): later, at `retry_at`
    RETRYING = "retrying"
    DONE = "done"
    DEAD = "dead"
    REJECTED = "rejected"  # malformed, kept for inspection only


STATES = tuple(DeliveryState)
# rejected ones never parsed; the rest are under way
REPLAYABLE = (DeliveryState.DEAD, DeliveryState.DONE, DeliveryState.RETRYING)
LEASE = timedelta(minutes=5)
# The database itself is failing (unreachable, locked): no one result is to blame.
DATABASE_FAILING = (OperationalError, InterfaceError)


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
    # the outcomes (action id, outcome, error) of a decision carried out in full: recorded as
    # the delivery ends, which follows at once (see `Executor.apply`)
    outcomes: tuple[tuple[int, str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Held:
    """The oldest delivery of a ticket waiting to be retried, and when it will be."""

    delivery_id: int
    retry_at: datetime


# The statements of the worker's every round are built once: building one per call costs
# more than running it.
_MARK_JUDGED = {
    "postgresql": postgresql.insert(status_changes).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(status_changes).on_conflict_do_nothing(),
}
_HELD = (
    select(
        deliveries.c.tracker,
        deliveries.c.ticket,
        func.min(deliveries.c.id),
        func.max(deliveries.c.retry_at),
    )
    .where(deliveries.c.state == DeliveryState.RETRYING, deliveries.c.ticket.is_not(None))
    .group_by(deliveries.c.tracker, deliveries.c.ticket)
)
# Claiming runs several times a second, most often finding nothing: built once, it costs
# a third of what building it each time did.
_CLAIMABLE = or_(
    deliveries.c.state == DeliveryState.PENDING,
    and_(deliveries.c.state == DeliveryState.RETRYING, deliveries.c.retry_at <= bindparam("at")),
    and_(deliveries.c.state == DeliveryState.PROCESSING, deliveries.c.claimed_at < bindparam("lapsed")),
)
_CLAIM = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(
            select(deliveries.c.id)
            .where(_CLAIMABLE)
            .order_by(deliveries.c.id)
            .limit(bindparam("limit", type_=Integer))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(state=DeliveryState.PROCESSING, claimed_at=bindparam("at"), claims=deliveries.c.claims + 1)
    .returning(
        deliveries.c.id,
        deliveries.c.tracker,
        deliveries.c.delivery_key,
        deliveries.c.body,
        deliveries.c.claims,
        deliveries.c.retrying_since,
    )
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


class Deliveries:
    # how long a claim holds: a delivery claimed by a process that died is taken up by
    # another once it runs out (the service sets BRIDGE_CLAIM_LEASE_SECONDS)
    lease: timedelta = LEASE

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, limit: int) -> list[Claimed]:
        at = now()
        # one statement, so two claimers can never take the same row (SQLite included)
        with begin_write(self.engine) as conn:
            rows = conn.execute(_CLAIM, {"at": at, "lapsed": at - self.lease, "limit": limit}).all()
        rows = sorted(rows, key=lambda r: r.id)
        return [
            Claimed(
                r.id, r.tracker, r.delivery_key, bytes(r.body), r.claims,
                aware(r.retrying_since),
            )
            for r in rows
        ]

    def held_tickets(self) -> dict[tuple[str, str], Held]:
        """Per (tracker, ticket), the oldest delivery waiting to be retried: the ticket's
        later deliveries wait behind it, so that its events keep their order."""
        with self.engine.connect() as conn:
            rows = conn.execute(_HELD).all()
        return {(r[0], r[1]): Held(r[2], aware(r[3]) or now()) for r in rows}

    def release_all_claims(self) -> int:
        """Give claims of a previous run back (single-process SQLite start-up)."""
        with begin_write(self.engine) as conn:
            return conn.execute(
                update(deliveries)
                .where(deliveries.c.state == DeliveryState.PROCESSING)
                .values(state=DeliveryState.PENDING)
            ).rowcount

    def release_claims(self, ids: list[int]) -> int:
        """Give back claims of this process it could not record the end of (the database
        failed meanwhile): taken up again now rather than once their lease runs out."""
        if not ids:
            return 0
        with begin_write(self.engine) as conn:
            return conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.state == DeliveryState.PROCESSING)
                .values(state=DeliveryState.PENDING)
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
        self._finish([Finished(result.delivery_id, DeliveryState.DEAD, error=reason)])

    def _finish(self, results: list[Finished]) -> None:
        at = now()
        decided = [
            {"delivery_id": r.delivery_id, "created_at": at, **decision_row(r.decision)}
            for r in results
            if r.decision is not None
        ]
        finished = [
            {
                "delivery_id": r.delivery_id,
                "state": r.state,
                "error": clean_text(r.error),
                "finished_at": None if r.state == DeliveryState.RETRYING else at,
                "retry_at": r.retry_at,
                "ticket": r.ticket,
                "retrying_since": r.retrying_since,
                "attempts": r.attempts,
            }
            for r in results
        ]
        changes = [
            {"tracker": r.change[0], "change_id": r.change[1], "delivery_id": r.delivery_id, "seen_at": at}
            for r in results
            if r.change is not None and r.state == DeliveryState.DONE
        ]
        outcomes = [
            {"action_id": action_id, "outcome": outcome, "error": clean_text(error), "at": at}
            for r in results
            for action_id, outcome, error in r.outcomes
        ]
        with begin_write(self.engine) as conn:
            if decided:
                conn.execute(insert(decisions), decided)
            if outcomes:
                conn.execute(SET_OUTCOME, outcomes)
            if changes:
                conn.execute(_MARK_JUDGED[self.engine.dialect.name], changes)
            conn.execute(_FINISH, finished)

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
                        state=DeliveryState.PENDING,
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
