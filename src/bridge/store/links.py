"""The development links the bridge made: which development items each ticket hangs on.

When an item is done, the tickets to move on come from this record of the bridge's own
links, not from a tracker search: a search would depend on a field agents can edit and on
the tracker's index being current. The record also keeps each item's last known state, so
that reconcile polls only the items not done yet, in batches.

Linking is at-least-once (a delivery may be judged twice), so adding a link that is there
already only brings its state up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select, update

from bridge.store.db import begin_write, dialect_insert
from bridge.store.tables import dev_links
from bridge.store.values import aware, clean_text, now, text_lengths

_LENGTHS = text_lengths(dev_links)
_COLUMNS = (
    dev_links.c.tracker, dev_links.c.ticket, dev_links.c.provider, dev_links.c.item,
    dev_links.c.state, dev_links.c.done, dev_links.c.linked_at, dev_links.c.workflow,
)


@dataclass(frozen=True)
class Link:
    """A ticket linked to a development item, and the item's state as last heard."""

    tracker: str
    ticket: str
    provider: str
    item: str
    state: str | None
    done: bool
    linked_at: datetime
    workflow: str | None = None  # the ticket's workflow when it was linked


class Links:
    """The link table. Synchronous; the async side calls it through `asyncio.to_thread`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, tracker: str, ticket: str, provider: str, item: str, state: str | None, done: bool,
        workflow: str | None = None,
    ) -> bool:
        """Record that `ticket` hangs on `item`; False when it did already (its state and
        done are then updated). Safe when two workers link the same pair at once."""
        moment = now()
        key = _fit(tracker=tracker, ticket=ticket, provider=provider, item=item)
        known = _fit(state=state, **({"workflow": workflow} if workflow else {}))
        inserted = dialect_insert(self.engine, dev_links).on_conflict_do_nothing(
            index_elements=["tracker", "ticket", "provider", "item"]
        ).returning(dev_links.c.id)
        with begin_write(self.engine) as conn:
            row = {**key, **known, "done": done, "linked_at": moment, "updated_at": moment}
            if conn.execute(inserted, row).first() is not None:
                return True
            conn.execute(
                update(dev_links)
                .where(*(dev_links.c[name] == value for name, value in key.items()))
                .values(**known, done=done, updated_at=moment)
            )
        return False

    def of_ticket(self, tracker: str, ticket: str) -> list[Link]:
        """The items `ticket` hangs on, in the order they were linked."""
        query = (
            select(*_COLUMNS)
            .where(dev_links.c.tracker == tracker, dev_links.c.ticket == _fit(ticket=ticket)["ticket"])
            .order_by(dev_links.c.linked_at, dev_links.c.id)
        )
        with self.engine.connect() as conn:
            return [_link(row) for row in conn.execute(query)]

    def tickets_of(self, provider: str, item: str) -> list[Link]:
        """Every ticket, of every tracker, that hangs on `item`."""
        query = (
            select(*_COLUMNS)
            .where(dev_links.c.provider == provider, dev_links.c.item == _fit(item=item)["item"])
            .order_by(dev_links.c.tracker, dev_links.c.ticket)
        )
        with self.engine.connect() as conn:
            return [_link(row) for row in conn.execute(query)]

    def set_state(self, provider: str, item: str, state: str | None, done: bool) -> None:
        """The item's state as just heard, on every ticket's link to it."""
        with begin_write(self.engine) as conn:
            conn.execute(
                update(dev_links)
                .where(dev_links.c.provider == provider, dev_links.c.item == _fit(item=item)["item"])
                .values(**_fit(state=state), done=done, updated_at=now())
            )

    def open_items(self, provider: str, after: str | None = None, limit: int = 200) -> list[str]:
        """The items of `provider` not done on some link, each once, in order; the next
        batch starts after the last item of this one (keyset paging: items linked or done
        meanwhile neither shift nor repeat a batch)."""
        query = (
            select(dev_links.c.item)
            .where(dev_links.c.provider == provider, dev_links.c.done.is_(False))
            .group_by(dev_links.c.item)
            .order_by(dev_links.c.item)
            .limit(limit)
        )
        if after is not None:
            query = query.where(dev_links.c.item > after)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())


def _fit(**values: str | None) -> dict[str, Any]:
    """The values as their columns hold them: without NUL, cut to the column's length."""
    return {name: clean_text(value, _LENGTHS[name]) for name, value in values.items()}


def _link(row: Row[Any]) -> Link:
    return Link(
        row.tracker, row.ticket, row.provider, row.item, row.state, bool(row.done),
        aware(row.linked_at) or row.linked_at, row.workflow,
    )
