"""What operators look at, through the API and the command line: deliveries, decisions with
their actions, how many deliveries are in each state. Read only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from bridge.store.deliveries import DeliveryState
from bridge.store.tables import actions, decisions, deliveries


class Queries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        """Deliveries in each state, every state named (as its stored string)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            ).all()
        return {state.value: 0 for state in DeliveryState} | {r[0]: r[1] for r in rows}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))
