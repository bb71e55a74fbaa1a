"""What the bridge needs of a development provider, and what a provider's hook says.

Providers raise the trackers' errors (`bridge.trackers.base`): `TrackerUnavailable` for
what a retry may fix (network, 5xx, 429), `TrackerUnauthorized` for 401, `TrackerRejected`
for any other refusal; `MalformedDelivery` for a hook that is not one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.engine import DevItem


@dataclass(frozen=True)
class ItemChange:
    """A provider's hook: an item changed, and the state it is in now (None: the hook did
    not say; the provider is asked)."""

    item: str
    state: str | None
    revision: str | None = None  # the provider's revision, telling repeated hooks apart


class DevProvider(Protocol):
    name: str  # "azure-devops" or "jira", as a workflow's `development.provider` names it

    async def items(self, ids: Sequence[str]) -> dict[str, DevItem]:
        """The items that exist among `ids` (normalised), in as few calls as the provider
        allows; an id that does not exist is left out."""

    async def link_back(self, item: str, ticket: str, ticket_url: str) -> None:
        """Make the item point to the ticket, once: calling again changes nothing."""
