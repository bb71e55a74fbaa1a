"""What periodic jobs keep in the database: deliveries they queue, how far they have read,
and which status changes were judged already.

Jobs hand their work to the worker as deliveries in the inbox, so a timer's or reconcile's
decision takes the webhook's path: judged on the present, one ticket's events in order,
actions recorded and retried, dead letters replayable. A job delivery's key names the work
(`timer:SRV-7:<entered>:expire`), so a sweep run twice, or by two replicas at once, queues
it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, bindparam, select

from bridge.store.db import begin_write, dialect_insert
from bridge.store.deliveries import DeliveryState
from bridge.store.tables import cursors, deliveries, status_changes
from bridge.store.values import aware


# Built once: this runs for every status change a customer or an agent makes.
_JUDGED_BY = select(status_changes.c.delivery_id).where(
    status_changes.c.tracker == bindparam("tracker"), status_changes.c.change_id == bindparam("change")
)
_JUDGED_AMONG = select(status_changes.c.change_id, status_changes.c.delivery_id).where(
    status_changes.c.tracker == bindparam("tracker"),
    status_changes.c.change_id.in_(bindparam("changes", expanding=True)),
)


class JobRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def enqueue(self, tracker: str, work: Iterable[tuple[str, dict]]) -> list[str]:
        """Queue (delivery key, body) pairs; the keys that were new."""
        now = datetime.now(UTC)
        rows = [
            {"tracker": tracker, "delivery_key": key, "received_at": now, "headers": {},
             "body": orjson.dumps(body), "state": DeliveryState.PENDING, "attempts": 0, "claims": 0}
            for key, body in work
        ]
        if not rows:
            return []
        statement = dialect_insert(self.engine, deliveries).on_conflict_do_nothing(
            index_elements=["tracker", "delivery_key"]
        ).returning(deliveries.c.delivery_key)
        new: list[str] = []
        with begin_write(self.engine) as conn:
            for row in rows:  # one by one: RETURNING with ON CONFLICT names only what went in
                new += conn.execute(statement, row).scalars().all()
        return new

    def judged_by(self, tracker: str, change: str) -> int | None:
        """The delivery that judged status change `change` (ticket/id), if one did."""
        with self.engine.connect() as conn:
            return conn.execute(_JUDGED_BY, {"tracker": tracker, "change": change}).scalar_one_or_none()

    def judged_among(self, marks: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Of the status changes `marks` ((tracker, ticket/id) each), those judged already,
        with the delivery that judged each: one query a tracker, for a whole claim."""
        by_tracker: dict[str, list[str]] = {}
        for tracker, change in marks:
            by_tracker.setdefault(tracker, []).append(change)
        found: dict[tuple[str, str], int] = {}
        if not by_tracker:
            return found
        with self.engine.connect() as conn:
            for tracker, changes in by_tracker.items():
                for change, owner in conn.execute(_JUDGED_AMONG, {"tracker": tracker, "changes": changes}):
                    found[(tracker, change)] = owner
        return found

    def judged(self, tracker: str, change_ids: Iterable[str]) -> set[str]:
        ids = list(change_ids)
        if not ids:
            return set()
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(status_changes.c.change_id).where(
                        status_changes.c.tracker == tracker, status_changes.c.change_id.in_(ids)
                    )
                ).scalars()
            )

    def cursor(self, job: str, tracker: str) -> datetime | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(cursors.c.position).where(cursors.c.job == job, cursors.c.tracker == tracker)
            ).scalar_one_or_none()
        return aware(found)

    def move_cursor(self, job: str, tracker: str, position: datetime) -> None:
        now = datetime.now(UTC)
        statement = dialect_insert(self.engine, cursors)
        statement = statement.on_conflict_do_update(
            index_elements=["job", "tracker"],
            set_={"position": statement.excluded.position, "updated_at": now},
        )
        with begin_write(self.engine) as conn:
            conn.execute(statement, {"job": job, "tracker": tracker, "position": position, "updated_at": now})
