"""Searching the stand-in with JQL, as Jira Cloud's enhanced search and Data Center's search.

The JQL understood is the subset the bridge writes: conditions joined by AND on `status`,
`issuetype`, `project`, `key` (`in`, `not in`, `=`, `!=`) and `updated`, `created` (`>=`,
`>`, `<=`, `<`, dates read in the searching account's time zone), then `ORDER BY` on
`updated`, `created`, `key`. What Jira would refuse is refused with Jira's message; valid
JQL beyond the subset (OR, functions, …) is refused too, saying so, so that a test never
passes against a query the stand-in only half understood.

A query's hits, and the names the site knows, are worked out once and kept until the
stand-in counts a change (`JiraStandin.changed`): paging through 10,000 tickets then costs
each page its own issues, not a pass over every issue. A change between pages shows from
the next page on, as it would if every page searched afresh.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from .history import SEARCH_CHANGELOG_MOST, expanded
from .state import ISSUE_TYPE_IDS, Issue, JiraStandin
from .times import JQL_FORMATS, jql_date, parse_time

NAMES = {"status": "status", "issuetype": "issuetype", "type": "issuetype", "project": "project",
         "key": "key", "issuekey": "key"}
DATES = {"updated": "updated", "updateddate": "updated", "created": "created",
         "createddate": "created"}
NAME_OPERATORS = ("in", "not in", "=", "!=")
DATE_OPERATORS = (">=", ">", "<=", "<")
ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", " ": " "}
TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
                   |(?P<op>!=|>=|<=|!~|[=<>~(),])|(?P<word>[^\s"'(),=!<>~]+)|(?P<bad>\S))""", re.X)
UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction to "
             "your query.")
KEPT_QUERIES = 8  # the hits of this many queries are kept between changes


class Refused(ValueError):
    """A search Jira would refuse (or JQL the stand-in cannot follow): answered with a 400."""


@dataclass(frozen=True)
class Token:
    kind: str  # string, op, word
    text: str
    at: int  # its character in the query, from 1


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    values: tuple[Any, ...]  # names, or times for the dates


@dataclass(frozen=True)
class Query:
    conditions: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)


def syntax(problem: str, at: int) -> Refused:
    return Refused(f"Error in the JQL Query: {problem} (line 1, character {at})")


def tokens(jql: str) -> list[Token]:
    found = []
    for match in TOKEN.finditer(jql):
        kind = match.lastgroup
        if kind is None:
            continue
        text, at = match[kind], match.start(kind) + 1
        if kind == "bad" and text in "\"'":
            raise syntax(f"The quoted string starting with {text} has not been completed.", at)
        if kind == "bad":
            raise syntax(f"The character '{text}' is a reserved JQL character.", at)
        found.append(Token(kind, _unquoted(text, at) if kind == "string" else text, at))
    return found


def _unquoted(text: str, at: int) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] not in ESCAPES:
                raise syntax(f"The escape sequence '\\{body[i + 1]}' is not valid.", at + i + 1)
            out.append(ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _Reader:
    """The tokens of one query, read left to right."""

    def __init__(self, jql: str) -> None:
        self.tokens, self.i, self.end = tokens(jql), 0, len(jql) + 1

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise syntax(f"Expecting {what} but reached the end of the query.", self.end)
        self.i += 1
        return token

    def word(self, *words: str) -> str | None:
        """The next token when it is one of `words` (any case), taken; else None."""
        token = self.peek()
        if token and token.kind == "word" and token.text.casefold() in words:
            self.i += 1
            return token.text.casefold()
        return None

    def op(self, *ops: str) -> str | None:
        token = self.peek()
        if token and token.kind == "op" and token.text in ops:
            self.i += 1
            return token.text
        return None


def parse(jql: str, zone: tzinfo) -> Query:
    """The query, or Refused saying what Jira (or the stand-in) makes of it."""
    reader = _Reader(jql)
    conditions = []
    first = reader.peek()
    if first is not None and not (first.kind == "word" and first.text.casefold() == "order"):
        conditions.append(_condition(reader, zone))
        while reader.word("and"):
            conditions.append(_condition(reader, zone))
    order = _order(reader) if reader.word("order") else ()
    if (extra := reader.peek()) is not None:
        raise _unexpected(extra, "AND or ORDER BY")
    return Query(tuple(conditions), order)


def _unexpected(token: Token, wanted: str) -> Refused:
    if token.kind != "string" and token.text.casefold() in ("or", "not", "was", "changed", "is",
                                                             "~", "!~"):
        return syntax(f"the Jira stand-in does not support '{token.text}'.", token.at)
    if token.text == "(":
        return syntax("the Jira stand-in does not support grouping with parentheses.", token.at)
    return syntax(f"Expecting {wanted} but got '{token.text}'.", token.at)


def _condition(reader: _Reader, zone: tzinfo) -> Condition:
    token = reader.take("a field name")
    if token.kind != "word" or token.text.casefold() in ("not", "or", "and", "order"):
        raise _unexpected(token, "a field name")
    name = token.text.casefold()
    field = NAMES.get(name) or DATES.get(name)
    if field is None:
        raise Refused(f"Field '{token.text}' does not exist or you do not have permission to "
                      "view it.")
    if reader.word("not"):
        if not reader.word("in"):
            raise _unexpected(reader.take("'IN'"), "'IN'")
        operator: str | None = "not in"
    else:
        operator = reader.word("in") or reader.op("=", "!=", ">=", ">", "<=", "<")
    if operator is None:
        raise _unexpected(reader.take("an operator"), "an operator")
    if operator not in (NAME_OPERATORS if field in NAMES.values() else DATE_OPERATORS):
        raise syntax(f"the Jira stand-in does not support '{operator}' on '{token.text}'.",
                     token.at)
    values = _list(reader) if operator in ("in", "not in") else (_value(reader),)
    if field in DATES.values():
        return Condition(field, operator, tuple(_date(value, field, zone) for value in values))
    return Condition(field, operator, values)


def _list(reader: _Reader) -> tuple[str, ...]:
    if not reader.op("("):
        raise _unexpected(reader.take("'('"), "'('")
    values = [_value(reader)]
    while reader.op(","):
        values.append(_value(reader))
    if not reader.op(")"):
        raise _unexpected(reader.take("either ',' or ')'"), "either ',' or ')'")
    return tuple(values)


def _value(reader: _Reader) -> str:
    token = reader.take("a value")
    reserved = token.kind == "word" and token.text.casefold() in ("and", "or", "order")
    if token.kind == "op" or reserved:
        raise syntax(f"Expecting either a value, list or function but got '{token.text}'. You must "
                     f"surround '{token.text}' in quotation marks to use it as a value.", token.at)
    following = reader.peek()
    if token.kind == "word" and following is not None and following.text == "(":
        raise syntax(f"the Jira stand-in does not support functions ({token.text}).", token.at)
    return token.text


def _date(value: str, field: str, zone: tzinfo) -> datetime:
    moment = jql_date(value, zone)
    if moment is not None:
        return moment
    if re.fullmatch(r"[-+]?\d+[wdhm](\s*\d+[wdhm])*", value):
        raise Refused("Error in the JQL Query: the Jira stand-in does not support the period "
                      f"'{value}'.")
    formats = ", ".join(f"'{f}'" for f in JQL_FORMATS.values())
    raise Refused(f"Date value '{value}' for field '{field}' is invalid. Valid formats include: "
                  f"{formats}, or a period format e.g. '-5d', '4w 2d'.")


def _order(reader: _Reader) -> tuple[tuple[str, bool], ...]:
    if not reader.word("by"):
        raise _unexpected(reader.take("'BY'"), "'BY'")
    order = []
    while True:
        token = reader.take("a field name")
        name = token.text.casefold()
        field = DATES.get(name) or ("key" if name in ("key", "issuekey") else None)
        if field is None:
            raise syntax(f"the Jira stand-in does not order by '{token.text}'.", token.at)
        order.append((field, reader.word("asc", "desc") == "desc"))
        if not reader.op(","):
            return tuple(order)


# -- what a query finds ----------------------------------------------------------------------
def _names(issue: Issue, field: str) -> set[str]:
    """The names the issue answers to in `field`, case-folded (a project by key or name)."""
    if field == "status":
        names = {issue.status}
    elif field == "key":
        names = {issue.key}
    else:
        value = issue.fields.get(field) or {}
        names = {value.get("key"), value.get("name")}
    return {name.casefold() for name in names if isinstance(name, str)}


class _Kept:
    """What the searches of one stand-in worked out while its `version` stays the same."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.names: dict[str, frozenset[str]] = {}  # by field
        self.hits: dict[Query, list[Issue]] = {}


_KEPT: weakref.WeakKeyDictionary[JiraStandin, _Kept] = weakref.WeakKeyDictionary()


def _kept(standin: JiraStandin) -> _Kept:
    kept = _KEPT.get(standin)
    if kept is None or kept.version != standin.version:
        kept = _KEPT[standin] = _Kept(standin.version)
    return kept


def _known(standin: JiraStandin, field: str) -> frozenset[str]:
    """Every name the site knows in `field`, case-folded. Statuses are the site's, which
    hold every issue's: adding an issue or moving one registers its status."""
    if field == "status":
        return frozenset(name.casefold() for name in standin.statuses)
    names = _kept(standin).names
    if field not in names:
        known = set().union(*(_names(issue, field) for issue in standin.issues.values()))
        if field == "issuetype":
            known |= {name.casefold() for name in ISSUE_TYPE_IDS}
        names[field] = frozenset(known)
    return names[field]


def check(query: Query, standin: JiraStandin) -> None:
    """Jira refuses a status, type, project or key its site does not have."""
    for condition in query.conditions:
        if condition.field in DATES.values():
            continue
        known = _known(standin, condition.field)
        for value in condition.values:
            if value.casefold() in known:
                continue
            if condition.field == "key":
                raise Refused(f"An issue with key '{value}' does not exist for field 'key'.")
            raise Refused(f"The value '{value}' does not exist for the field '{condition.field}'.")


def _matches(issue: Issue, condition: Condition) -> bool:
    if condition.field in DATES.values():
        moment, bound = parse_time(issue.fields[condition.field]), condition.values[0]
        return {">=": moment >= bound, ">": moment > bound, "<=": moment <= bound,
                "<": moment < bound}[condition.operator]
    hit = bool(_names(issue, condition.field) & {value.casefold() for value in condition.values})
    return hit if condition.operator in ("in", "=") else not hit


def _key_order(issue: Issue) -> tuple[str, int]:
    """Jira orders keys by project, then by number: SRV-9 before SRV-10."""
    project, _, number = issue.key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


SORT_KEYS: dict[str, Callable[[Issue], Any]] = {
    "updated": lambda issue: parse_time(issue.fields["updated"]),
    "created": lambda issue: parse_time(issue.fields["created"]),
    "key": _key_order,
}


def found(standin: JiraStandin, query: Query) -> list[Issue]:
    """The issues matching every condition, in the query's order (by key when it has none):
    one list for every page of the query until the stand-in changes."""
    kept = _kept(standin).hits
    if query not in kept:
        if len(kept) >= KEPT_QUERIES:
            del kept[next(iter(kept))]
        kept[query] = _sorted_hits(standin, query)
    return kept[query]


def _sorted_hits(standin: JiraStandin, query: Query) -> list[Issue]:
    hits = [issue for issue in standin.issues.values()
            if all(_matches(issue, condition) for condition in query.conditions)]
    for field, descending in reversed(query.order or (("key", False),)):
        hits.sort(key=SORT_KEYS[field], reverse=descending)  # stable: earlier keys decide last
    return hits


# -- pages -------------------------------------------------------------------------------------
def enhanced(standin: JiraStandin, params: dict[str, Any], base: str,
             version: str) -> dict[str, Any]:
    """A page of Cloud's enhanced search (`/search/jql`): at most 100 issues (5000 when only
    ids or keys are asked for), the next page named by an opaque token, none on the last."""
    jql = str(params.get("jql") or "")
    query = parse(jql, standin.zone)
    check(query, standin)
    if not query.conditions:
        raise Refused(UNBOUNDED)
    fields = str(params.get("fields") or "id")  # the enhanced search answers ids alone by default
    ids_only = set(fields.split(",")) <= {"id", "key"}
    most = _page_size(params.get("maxResults"), 5000 if ids_only else 100)
    start = _offset_of(params.get("nextPageToken"), jql)
    hits = found(standin, query)
    changelog = "changelog" in str(params.get("expand") or "").split(",")
    body: dict[str, Any] = {"issues": [
        _issue_json(standin, issue, base, version, fields, changelog, SEARCH_CHANGELOG_MOST)
        for issue in hits[start:start + most]], "isLast": start + most >= len(hits)}
    if not body["isLast"]:
        body["nextPageToken"] = _token(start + most, jql)
    return body


def by_offset(standin: JiraStandin, params: dict[str, Any], base: str,
              version: str) -> dict[str, Any]:
    """A page of Data Center's search: from `startAt`, at most 1000 issues (its default
    limit), with the `total`; an issue's changelog comes whole."""
    query = parse(str(params.get("jql") or ""), standin.zone)
    check(query, standin)
    start = max(0, _integer(params.get("startAt"), "startAt", 0))
    most = _page_size(params.get("maxResults"), 1000)
    hits = found(standin, query)
    changelog = "changelog" in str(params.get("expand") or "").split(",")
    fields = params.get("fields")
    return {"expand": "schema,names", "startAt": start, "maxResults": most, "total": len(hits),
            "issues": [_issue_json(standin, issue, base, version, fields, changelog, None)
                       for issue in hits[start:start + most]]}


def _issue_json(standin: JiraStandin, issue: Issue, base: str, version: str, fields: str | None,
                changelog: bool, most: int | None) -> dict[str, Any]:
    result = standin.issue_json(issue, base, version, fields)
    if changelog:
        result["changelog"] = expanded(standin, issue, base, most)
    return result


def _integer(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Refused(f"The value '{value}' of '{name}' is not a number.") from None


def _page_size(value: Any, cap: int) -> int:
    """What a client asks for, within what Jira gives: more is cut to the cap, silently."""
    return min(max(_integer(value, "maxResults", 50), 0), cap)


def _digest(jql: str) -> str:
    return hashlib.sha256(jql.encode()).hexdigest()[:16]


def _token(offset: int, jql: str) -> str:
    raw = json.dumps({"offset": offset, "query": _digest(jql)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset_of(token: Any, jql: str) -> int:
    """Where the page a token names starts; a token of another query, or none of the
    stand-in's, is refused."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4))
        data = json.loads(raw)
        if data["query"] == _digest(jql):
            return int(data["offset"])
    except (ValueError, KeyError, TypeError):
        pass
    raise Refused("The provided next page token is invalid or expired.")
