"""`bridge schema` accepts what `bridge check` accepts, as far as a JSON Schema can say it.

Editors and CI validate workflow files against the published schema; a schema stricter
than the loader marks good files red, a looser one lets through files the service refuses.
Each file is validated both ways, by `bridge check` and by a real JSON Schema validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from bridge.cli import app
from bridge.workflows import check_paths, json_schema
from tests.workflows.test_loader import FIXTURES, VALID

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
VALID_FILES = sorted(SHIPPED.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))
MISSHAPEN = sorted((FIXTURES / "misshapen").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_json(text: str) -> Any:
    """The document as the JSON an editor or a CI validator checks (mapping keys are text)."""
    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(text)))


def schema_errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(as_json(text))
    ]


def test_fixture_folders_hold_files() -> None:
    assert len(VALID_FILES) >= 5 and len(MISSHAPEN) >= 10


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_files_bridge_check_accepts_match_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert check_paths([path])[1] == []
    assert schema_errors(validator, path.read_text(encoding="utf-8")) == []


def test_the_loader_tests_workflow_matches_the_schema(
    validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert check_paths([path])[1] == []
    assert schema_errors(validator, VALID) == []


@pytest.mark.parametrize("path", MISSHAPEN, ids=lambda p: p.stem)
def test_files_bridge_check_refuses_for_their_shape_fail_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert check_paths([path])[1], "bridge check accepts it"
    assert schema_errors(validator, path.read_text(encoding="utf-8")), "the schema accepts it"


def test_cross_references_are_left_to_bridge_check(
    validator: jsonschema.Draft202012Validator,
) -> None:
    path = FIXTURES / "bad-references.yaml"
    assert check_paths([path])[1], "bridge check refuses undeclared and unreachable statuses"
    assert schema_errors(validator, path.read_text(encoding="utf-8")) == []
    description = json_schema()["description"]
    assert "bridge check" in description
    assert "declared under `statuses`" in description and "reached from `initial`" in description


def test_schema_shape() -> None:
    schema = json_schema()
    json.dumps(schema)  # serialisable as is
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    assert schema["additionalProperties"] is False
    assert {"name", "applies_to", "statuses", "initial", "flow"} <= set(schema["properties"])
    assert {"name", "applies_to", "statuses", "initial", "flow"} <= set(schema["required"])
    move = schema["$defs"]["CustomerTransition"]
    assert "from" in move["properties"] and "from_" not in move["properties"]
    assert move["additionalProperties"] is False
