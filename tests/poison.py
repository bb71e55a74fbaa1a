"""Deliveries that are signed, small and well-formed JSON, yet cannot be handled: each once
stopped the worker, failed the commit it shared with other deliveries, or steered a REST call
to another path. The worker test and the drill send them among ordinary deliveries."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import load_fixture


def _nested_comment(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": "deep"}
    for _ in range(depth):
        node = {"type": "paragraph", "content": [node]}
    return {"type": "doc", "version": 1, "content": [node]}


def _with_key(key: str) -> dict[str, Any]:
    payload = load_fixture("customer_forbidden_transition.json")
    payload["issue"]["key"] = key
    return payload


def _user_name_object() -> dict[str, Any]:
    payload = load_fixture("datacenter_customer_transition.json")
    payload["user"]["name"] = {"first": "Jana", "last": "Nováková"}
    return payload


def _comment_nested() -> dict[str, Any]:
    payload = load_fixture("comment_created_by_customer.json")
    payload["comment"]["body"] = _nested_comment(450)
    return payload


# delivery id → (payload, what the reason it is dead-lettered with says)
DEAD: dict[str, tuple[dict[str, Any], str]] = {
    "poison-changelog-items": (
        {"webhookEvent": "jira:issue_updated", "issue": {"key": "X-1", "fields": {}}, "changelog": {"items": 5}},
        "'changelog.items' is not a list",
    ),
    "poison-user-name-object": (_user_name_object(), "'user.name' is not text"),
    "poison-comment-nested": (_comment_nested(), "nested deeper than"),
    "poison-key-path": (_with_key("SRV-1/../../../../x"), "is not a Jira issue key"),
    "poison-key-query": (_with_key("SRV-1?x="), "is not a Jira issue key"),
}

# A delivery id no column can hold: kept under its hash, handled like any other.
LONG_DELIVERY_ID = "poison-" + "i" * 293


def nul_in_actor_name(key: str = "SRV-412") -> dict[str, Any]:
    """A forbidden customer move whose actor's name holds U+0000."""
    payload = copy.deepcopy(_with_key(key))
    payload["user"]["displayName"] = "Jana\x00 Nováková"
    return payload
