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
from jsonschema.protocols import Validator
from ruamel.yaml import YAML
from typer.testing import CliRunner

from bridge.cli import app
from bridge.workflows import check_paths, json_schema
from tests.workflows.test_loader import FIXTURES, VALID

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
COMMITTED = SHIPPED / "workflow.schema.json"
MODELINE = "# yaml-language-server: $schema="
VALID_FILES = sorted(SHIPPED.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))
MISSHAPEN = sorted((FIXTURES / "misshapen").glob("*.yaml"))


def bridge_schema() -> str:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    return result.output


# Some editors validate with draft 7 whatever `$schema` says: the verdicts must not change.
@pytest.fixture(
    scope="module",
    params=[jsonschema.Draft202012Validator, jsonschema.Draft7Validator],
    ids=["draft2020-12", "draft7"],
)
def validator(request: pytest.FixtureRequest) -> Validator:
    schema = json.loads(bridge_schema())
    request.param.check_schema(schema)
    return request.param(schema)


def as_json(text: str) -> Any:
    """The document as the JSON an editor or a CI validator checks (mapping keys are text)."""
    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(text)))


def schema_errors(validator: Validator, text: str) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(as_json(text))
    ]


def test_fixture_folders_hold_files() -> None:
    assert len(VALID_FILES) >= 5 and len(MISSHAPEN) >= 10


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_files_bridge_check_accepts_match_the_schema(validator: Validator, path: Path) -> None:
    assert check_paths([path])[1] == []
    assert schema_errors(validator, path.read_text(encoding="utf-8")) == []


def test_the_loader_tests_workflow_matches_the_schema(
    validator: Validator, tmp_path: Path
) -> None:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert check_paths([path])[1] == []
    assert schema_errors(validator, VALID) == []


@pytest.mark.parametrize("path", MISSHAPEN, ids=lambda p: p.stem)
def test_files_bridge_check_refuses_for_their_shape_fail_the_schema(
    validator: Validator, path: Path
) -> None:
    assert check_paths([path])[1], "bridge check accepts it"
    assert schema_errors(validator, path.read_text(encoding="utf-8")), "the schema accepts it"


def test_cross_references_are_left_to_bridge_check(validator: Validator) -> None:
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


# -- the schema file editors read -----------------------------------------------------------
def test_the_committed_schema_file_is_what_bridge_schema_prints() -> None:
    regenerate = "run `bridge schema > workflows/workflow.schema.json`"
    assert COMMITTED.is_file(), f"missing: {regenerate}"
    assert COMMITTED.read_text(encoding="utf-8") == bridge_schema(), f"stale: {regenerate}"


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_workflows_name_the_committed_schema_on_their_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path.name} must start with {MODELINE}…"
    target = (path.parent / first.removeprefix(MODELINE)).resolve()
    assert target == COMMITTED.resolve()


def test_the_schema_file_beside_the_workflows_is_not_loaded_as_one() -> None:
    found, problems = check_paths([SHIPPED])
    assert problems == [] and found is not None
    assert COMMITTED.resolve() not in {p.resolve() for p in found.source.values()}
