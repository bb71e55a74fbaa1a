"""Workflows: the service processes admins keep as YAML in git, validated and loaded."""

from __future__ import annotations

from bridge.workflows.loader import WorkflowSet, check_paths, load_dir, load_file
from bridge.workflows.model import Workflow
from bridge.workflows.problems import Problem, WorkflowError
from bridge.workflows.schema import json_schema

__all__ = [
    "Problem",
    "Workflow",
    "WorkflowError",
    "WorkflowSet",
    "check_paths",
    "json_schema",
    "load_dir",
    "load_file",
]
