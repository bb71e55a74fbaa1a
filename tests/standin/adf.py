"""Atlassian Document Format: real Jira refuses v3 comment bodies that are not ADF; so does this."""

from __future__ import annotations

from typing import Any

from .openapi import load_spec


def adf_problem(doc: Any) -> str | None:
    """Why `doc` is not an Atlassian Document Format document, or None when it is one."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return "not an ADF doc of version 1"
    if not isinstance(doc.get("content"), list):
        return "a doc needs content"
    return _adf_node_problem(doc, {"doc"}, load_spec()["adf"], plain=False)


def _adf_node_problem(node: Any, allowed: set[str], adf: dict[str, Any], plain: bool) -> str | None:
    kind = node.get("type") if isinstance(node, dict) else None
    if kind not in allowed:
        return f"node {kind or node!r} is not allowed here"
    spec = adf["nodes"][kind]
    attrs = node.get("attrs", {})
    if not isinstance(attrs, dict) or any(a not in attrs for a in spec.get("attrs", [])):
        return f"{kind} needs attrs {spec.get('attrs')}"
    marks = node.get("marks", [])
    if not isinstance(marks, list) or (plain and marks):
        return f"{kind} may not carry these marks"
    for mark in marks:
        required = adf["marks"].get(mark.get("type")) if isinstance(mark, dict) else None
        if required is None or any(a not in (mark.get("attrs") or {}) for a in required):
            return f"invalid mark {mark!r}"
    if kind == "text" and not (isinstance(node.get("text"), str) and node["text"]):
        return "a text node needs non-empty text"
    content, kinds = node.get("content", []), spec.get("content", [])
    if not isinstance(content, list) or (content and not kinds):
        return f"{kind} may not have this content"
    if len(content) < spec.get("minContent", 0):
        return f"{kind} needs content"
    children: set[str] = set()
    for k in kinds:
        children.update(adf[k[1:]] if k.startswith("@") else ["text"] if k == "#plainText" else [k])
    for child in content:
        if problem := _adf_node_problem(child, children, adf, plain="#plainText" in kinds):
            return problem
    return None


def comment_problem(body: Any, version: str) -> dict[str, str] | None:
    """Jira's `errors` for a comment body it refuses: ADF on v3, a string on v2."""
    if body is None or body == "":
        return {"comment": "Comment body can not be empty!"}
    valid = adf_problem(body) is None if version == "3" else isinstance(body, str)
    if not valid:
        return {"comment": "Comment body is not valid!"}
    empty = not body["content"] if isinstance(body, dict) else not body.strip()
    return {"comment": "Comment body can not be empty!"} if empty else None
