"""Rules on a ticket's creation, as an admin writes them in a workflow.

```yaml
on_create:
  by_channel:                     # fields set on requests that came in by a channel
    - channel: email              # portal, email, api, jira or anonymousportal
      set:
        priority: Medium
  customer_fields:                # fields customers may set on some types only
    - field: priority
      allowed_request_types: [Něco mi nefunguje]
      reset_to: Medium            # elsewhere, what a customer set is put back to this
  required:                       # fields a type must have; missing ones are asked for
    - request_types: [Něco mi nefunguje]
      fields:
        customfield_10070: Where it happened
      public: true
  messages:
    missing: Please add {missing} to {ticket}.
```

The channels are Jira Service Management's own names for where a request came from
(`CustomerRequestChannelSource`: portal, email, api, jira, anonymousportal), as the request
keeps them in its `request.channel.type` property; a misspelt channel would silently match
nothing, so no other name is taken.

A value is written as Jira's REST API takes it (`PUT /issue/{key}` `fields`), except the
priority, which is named: `priority: Medium` is sent as `{"name": "Medium"}`. The default
priority is written out (`reset_to`) rather than asked of Jira: a project's default lives in
its priority scheme, which Data Center shows to administrators only and Cloud only by
paging through every scheme, while `GET /priority`'s `isDefault` is the site's default, not
the project's. Written here, it is what `bridge check` and a reader of the file see.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import re

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from bridge.workflows.problems import placeholder_problems

_Loc = tuple[str | int, ...]
_FIELD_ID = r"^[a-z][A-Za-z0-9_]*$"


def _field_id(text: str) -> str:
    if not re.fullmatch(_FIELD_ID, text):
        raise PydanticCustomError(
            "field_id",
            "'{text}' is not a field id: write it as Jira names it, e.g. priority or customfield_10070",
            {"text": text[:60]},
        )
    return text


def _something(value: object) -> object:
    if value is None:
        raise PydanticCustomError("value_missing", "expected a value, e.g. Medium, got nothing")
    return value


FieldId = Annotated[str, AfterValidator(_field_id), WithJsonSchema({"type": "string", "pattern": _FIELD_ID})]
_Name = Annotated[str, StringConstraints(min_length=1)]
Channel = Literal["portal", "email", "api", "jira", "anonymousportal"]
Value = Annotated[str | int | float | dict[str, Any] | list[Any], BeforeValidator(_something)]
NAMED_FIELDS = frozenset({"priority"})  # written as a name, sent as {"name": …}
MISSING_PLACEHOLDERS = frozenset({"ticket", "missing", "type"})


def rest_value(field: str, value: Any) -> Any:
    """A value as written in the workflow, as Jira's REST API takes it."""
    if field in NAMED_FIELDS and isinstance(value, str):
        return {"name": value}
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Types(_Strict):
    """Which tickets a rule is about; none named: every ticket the workflow governs."""

    request_types: list[_Name] = Field(
        default_factory=list, description="Request type names, as the portal shows them."
    )
    issue_types: list[_Name] = Field(default_factory=list, description="Issue type names.")

    def about(self, request_type: str | None, issue_type: str | None) -> bool:
        if not self.request_types and not self.issue_types:
            return True
        return request_type in self.request_types or issue_type in self.issue_types


class ByChannel(_Strict):
    """Fields set, whatever was chosen, on every request that came in by `channel`."""

    channel: Channel = Field(description="Where the request came from (Jira Service Management).")
    set: dict[FieldId, Value] = Field(
        min_length=1,
        description="Field id → value; the priority by its name (priority: Medium), other "
        "fields as Jira's REST API takes them.",
    )

    def values(self) -> dict[str, Any]:
        return {field: rest_value(field, value) for field, value in self.set.items()}


class CustomerField(_Strict):
    """A field customers may set only on some types; elsewhere a value a customer set when
    creating the ticket is put back to `reset_to`."""

    field: FieldId = Field(description="The field id, e.g. priority.")
    allowed_request_types: list[_Name] = Field(
        default_factory=list, description="Request types on which customers may set it."
    )
    allowed_issue_types: list[_Name] = Field(
        default_factory=list, description="Issue types on which customers may set it."
    )
    reset_to: Value = Field(
        description="What it is put back to elsewhere: the project's default (a priority by "
        "its name)."
    )

    def allows(self, request_type: str | None, issue_type: str | None) -> bool:
        return request_type in self.allowed_request_types or issue_type in self.allowed_issue_types

    def value(self) -> Any:
        return rest_value(self.field, self.reset_to)


class Required(_Types):
    """Fields a ticket of these types must have when it is created; a comment names the
    missing ones."""

    fields: dict[FieldId, _Name] = Field(
        min_length=1, description="Field id → its label, as the comment names it."
    )
    public: StrictBool = Field(True, description="Whether the comment is visible to the customer.")


class CreationMessages(_Strict):
    missing: str = Field(
        "Please add {missing} to your request {ticket}: we need it to deal with the request.",
        description="Comment naming missing fields. Placeholders: {ticket} {missing} {type}.",
    )


class OnCreate(_Strict):
    """What a new ticket is brought in line with, in the order the rules are listed here."""

    by_channel: list[ByChannel] = Field(default_factory=list)
    customer_fields: list[CustomerField] = Field(default_factory=list)
    required: list[Required] = Field(default_factory=list)
    messages: CreationMessages = Field(default_factory=CreationMessages)

    def fields(self) -> set[str]:
        """Every field the rules read, so that the ticket is fetched with them."""
        found = {field for rule in self.by_channel for field in rule.set}
        found |= {rule.field for rule in self.customer_fields}
        return found | {field for rule in self.required for field in rule.fields}

    def problems(
        self, request_types: list[str], issue_types: list[str]
    ) -> Iterator[tuple[_Loc, str]]:
        """(location, message) for types the workflow does not govern (a rule about them
        could never apply) and texts the bridge cannot fill."""
        lists: list[tuple[_Loc, list[str], str]] = []
        for i, rule in enumerate(self.customer_fields):
            loc = ("on_create", "customer_fields", i)
            lists += [((*loc, "allowed_request_types"), rule.allowed_request_types, "request"),
                      ((*loc, "allowed_issue_types"), rule.allowed_issue_types, "issue")]
        for i, req in enumerate(self.required):
            loc = ("on_create", "required", i)
            lists += [((*loc, "request_types"), req.request_types, "request"),
                      ((*loc, "issue_types"), req.issue_types, "issue")]
        named = [((*loc, j), name, kind) for loc, names, kind in lists for j, name in enumerate(names)]
        governed = {"request": request_types, "issue": issue_types}
        for loc, name, kind in named:
            known = governed[kind]
            if known and name not in known:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                yield loc, f"{kind} type '{name}' is not under 'applies_to.{kind}_types'{hint}"
        yield from placeholder_problems(
            ("on_create", "messages", "missing"), self.messages.missing, MISSING_PLACEHOLDERS
        )
