"""The JSON Schema of a workflow file, as `bridge schema` prints it.

Editors complete and underline workflow files from this schema, and CI may validate them
with it, so it must accept exactly the files `bridge check` accepts, as far as a JSON
Schema can say so. It is generated from the model in validation mode (what a file may
write, not what the model turns it into). Status ids used as mapping keys are constrained
with `propertyNames`, so a key that is not a status id is refused rather than let through
as one no pattern covers. What a schema cannot express (one part of a file referring to
another, or one file to another) is named in its description and left to `bridge check`.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from bridge.workflows.model import Workflow

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:ticket-bridge:workflow"

BEYOND_SCHEMA = (
    "This schema checks the shape of a workflow file: its keys, the type of each value and "
    "the form of status ids. `bridge check` also checks what a schema cannot express: "
    "every status used under `initial`, `flow`, `customer_transitions`, `on_enter`, "
    "`timers`, `billing`, `development`, `replies` and `subtasks` is declared under "
    "`statuses`; every status can be reached from `initial` along `flow`; each customer "
    "move, each move a reply makes, the move from the development status to its `then` and "
    "each move `subtasks.then` makes is part of `flow`; no status is both billable and "
    "never billable; no provider state is both done and removed; the types `on_create` "
    "names are among those the workflow `applies_to`; no two statuses share a tracker "
    "name; message templates use only their placeholders; no site is listed twice; and "
    "across files, no two workflows share a name or claim the same issue or request type "
    "in the same project on the same site. The sites a workflow names are checked against "
    "the sites configured when the service loads it."
)


class _WorkflowSchema(GenerateJsonSchema):
    """Pydantic's generator, with constrained mapping keys as `propertyNames`.

    Pydantic writes `dict[StatusId, X]` as `patternProperties`, which leaves any key the
    pattern does not match unconstrained; the loader refuses such a key.
    """

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        json_schema = super().dict_schema(schema)
        patterns = json_schema.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            names = json_schema.setdefault("propertyNames", {})
            names["pattern"] = pattern
            json_schema["additionalProperties"] = values
        return json_schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a workflow file, for editor completion and CI validation."""
    schema = Workflow.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_WorkflowSchema
    )
    schema.pop("title", None)
    description = f"{schema.pop('description', '').strip()}\n\n{BEYOND_SCHEMA}".strip()
    return {
        "$schema": SCHEMA_DRAFT,
        "$id": SCHEMA_ID,
        "title": "ticket-bridge workflow",
        "description": description,
        **schema,
    }
