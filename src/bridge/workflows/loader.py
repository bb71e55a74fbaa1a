"""Load workflow YAML files and report every problem at the line and column where it is.

Admins edit these files by hand in git; a message that says *where* a rule is wrong (and
guesses the key they meant) is what makes a typo cheap to fix instead of a silently
disabled rule. Parsing keeps ruamel's round-trip positions so that every pydantic error
location and every cross-reference problem can be mapped back onto the text.
"""

from __future__ import annotations

import difflib
import re
import string
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bridge.workflows.limits import LimitExceeded, bounded_yaml, read_text
from bridge.workflows.model import STATUS_ID_PATTERN, Loc, Workflow
from bridge.workflows.problems import (
    Problem,
    WorkflowError,
    describe,
    kind_of,
    status_suggestion,
    undeclared_status,
)
from bridge.workflows.syntax import syntax_problem
from bridge.workflows.timers import TIMER_PLACEHOLDERS

SUFFIXES = (".yaml", ".yml")

# Which placeholders each message template may use (see bridge.engine.decide): a typo in a
# translated template would otherwise only surface as a KeyError while reverting a ticket.
_EVENT_PLACEHOLDERS = frozenset(
    {"ticket", "from_status", "to_status", "allowed", "missing", "actor"}
)
_TEMPLATE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "forbidden": _EVENT_PLACEHOLDERS,
    "requirement_missing": _EVENT_PLACEHOLDERS,
    "no_way_back": _EVENT_PLACEHOLDERS,
    "missing_field": frozenset({"label"}),
    "timer_stuck": TIMER_PLACEHOLDERS | {"next"},
}


class WorkflowSet:
    """The workflows in force, swapped as a whole on reload so a reader never sees half a
    change. `source` maps a workflow's name to the file it came from."""

    __slots__ = ("_by_site", "_workflows", "source")

    def __init__(
        self, workflows: Iterable[Workflow] = (), source: Mapping[str, Path] | None = None
    ) -> None:
        self._workflows: tuple[Workflow, ...] = tuple(workflows)
        names = [wf.name for wf in self._workflows]
        if len(set(names)) != len(names):
            raise ValueError(f"workflow names must be unique: {names}")
        self.source: dict[str, Path] = dict(source or {})
        self._by_site: dict[tuple[str, tuple[str, ...] | None], WorkflowSet] = {}

    def for_site(self, name: str, listed: Iterable[str] | None = None) -> WorkflowSet:
        """The workflows that apply on site `name`, as a set of their own: those whose
        `sites` include it (or that have none), and of those only the ones `listed` names
        when the site lists its workflows. Order and lookups are the full set's.

        Built once per site and kept with this set, which a reload replaces whole, so
        asking again for every delivery costs a dictionary look-up.
        """
        key = (name, None if listed is None else tuple(listed))
        found = self._by_site.get(key)
        if found is None:
            wanted = None if key[1] is None else frozenset(key[1])
            kept = [
                wf
                for wf in self._workflows
                if wf.serves(name) and (wanted is None or wf.name in wanted)
            ]
            sources = {wf.name: self.source[wf.name] for wf in kept if wf.name in self.source}
            found = WorkflowSet(kept, sources)
            self._by_site[key] = found
        return found

    def for_ticket(
        self, project: str | None, issue_type: str | None, request_type: str | None
    ) -> Workflow | None:
        """The workflow governing a ticket, or None.

        A request type is more specific than the issue type it is filed as, so a workflow
        claiming the request type wins over one claiming only the issue type.
        """
        if request_type is not None:
            for wf in self._workflows:
                if wf.governs(project, None, request_type):
                    return wf
        if issue_type is not None:
            for wf in self._workflows:
                if wf.governs(project, issue_type, None):
                    return wf
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(wf.name for wf in self._workflows)

    def __len__(self) -> int:
        return len(self._workflows)

    def __iter__(self) -> Iterator[Workflow]:
        return iter(self._workflows)


@dataclass(frozen=True)
class _Loaded:
    """One file's outcome; the tree is kept so cross-file problems can point into it."""

    path: Path
    tree: Any
    workflow: Workflow | None
    problems: list[Problem]


# -- public API ------------------------------------------------------------------------------
def load_file(path: Path | str) -> Workflow:
    """One workflow file, or WorkflowError with all its problems."""
    loaded = _load(Path(path))
    if loaded.problems or loaded.workflow is None:
        raise WorkflowError(loaded.problems)
    return loaded.workflow


def load_dir(path: Path | str) -> WorkflowSet:
    """Every `*.yaml`/`*.yml` in a folder as one set, or WorkflowError with all problems
    (including names and ticket types claimed twice across files)."""
    found, problems = _check([Path(path)], explicit_files=False)
    if problems or found is None:
        raise WorkflowError(problems)
    return found


def check_paths(paths: Sequence[Path | str]) -> tuple[WorkflowSet | None, list[Problem]]:
    """Validate files and/or folders as one set, as `bridge check` and CI need: problems
    are returned, never raised; the set is None whenever there is a problem. As in a
    folder, only `*.yaml`/`*.yml` are workflows: other named files are passed over, so
    `bridge check workflows/*` does not read the schema beside them as a workflow."""
    if not paths:
        raise ValueError("check_paths needs at least one file or folder")
    return _check([Path(p) for p in paths], explicit_files=True)


def locate(path: Path | str, loc: Loc, message: str) -> Problem:
    """A problem found once the file was loaded, by checking it against other configuration
    (a site it names that is not configured), at the place `loc` names in it. The file is
    read again for its positions: at 1:1 if it cannot be, or no longer has that place."""
    try:
        tree = bounded_yaml().load(read_text(Path(path)))
    except (LimitExceeded, UnicodeDecodeError, OSError, YAMLError):
        tree = None
    _, (line, col) = _walk(tree, loc, key=False)
    return Problem(str(path), line + 1, col + 1, message)


# -- collecting files ------------------------------------------------------------------------
def _check(paths: list[Path], *, explicit_files: bool) -> tuple[WorkflowSet | None, list[Problem]]:
    files: list[Path] = []
    others: list[Path] = []  # named files that are not workflows, e.g. the schema beside them
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            try:
                inside = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            except OSError as exc:
                problems.append(_whole(path, f"cannot read folder: {exc.strerror or exc}"))
                continue
            if not inside:
                problems.append(_whole(path, "no workflow files (*.yaml, *.yml) in this folder"))
            files.extend(inside)
        elif path.is_file() and explicit_files:
            (files if path.suffix in SUFFIXES else others).append(path)
        elif path.exists():
            problems.append(_whole(path, "not a folder"))
        else:
            problems.append(_whole(path, "does not exist"))
    if not files:
        problems += [_whole(p, "not a workflow file (*.yaml, *.yml)") for p in others]

    loaded: list[_Loaded] = []
    seen: set[Path] = set()
    for file in files:
        if file.resolve() not in seen:  # a folder and a file in it, both given
            seen.add(file.resolve())
            loaded.append(_load(file))
    problems += [p for item in loaded for p in item.problems]
    problems.extend(_cross_problems(loaded))
    if problems:
        return None, problems
    valid = [(item.workflow, item.path) for item in loaded if item.workflow is not None]
    return WorkflowSet([wf for wf, _ in valid], {wf.name: path for wf, path in valid}), []


def _whole(path: Path, message: str) -> Problem:
    return Problem(str(path), 1, 1, message)


def _cross_problems(loaded: list[_Loaded]) -> Iterator[Problem]:
    """Problems only visible across files: a name used twice, a ticket type claimed twice
    (which would make the governing workflow depend on file order)."""
    by_name: dict[str, Path] = {}
    claims: dict[tuple[str, str], list[tuple[Workflow, Path]]] = {}
    for item in loaded:
        wf = item.workflow
        if wf is None:
            continue
        first = by_name.setdefault(wf.name, item.path)
        if first != item.path:
            yield _at(item, ("name",), f"workflow name '{wf.name}' is already used in {first}")
        for field, kind in (("issue_types", "issue type"), ("request_types", "request type")):
            for i, value in enumerate(getattr(wf.applies_to, field)):
                earlier = claims.setdefault((field, value), [])
                other = next(((o, p) for o, p in earlier if o is not wf and _overlap(o, wf)), None)
                if other:
                    message = f"{kind} '{value}' is already claimed by workflow '{other[0].name}'"
                    yield _at(item, ("applies_to", field, i), f"{message} ({other[1]})")
                earlier.append((wf, item.path))


def _overlap(a: Workflow, b: Workflow) -> bool:
    """Whether two workflows can see the same project on the same site (no project list,
    no site list, means all)."""
    pa, pb = set(a.applies_to.projects), set(b.applies_to.projects)
    sa, sb = set(a.sites or ()), set(b.sites or ())
    return (not pa or not pb or bool(pa & pb)) and (not sa or not sb or bool(sa & sb))


def _at(item: _Loaded, loc: Loc, message: str, *, key: bool = False) -> Problem:
    _, (line, col) = _walk(item.tree, loc, key=key)
    return Problem(str(item.path), line + 1, col + 1, message)


# -- one file --------------------------------------------------------------------------------
def _load(path: Path) -> _Loaded:
    def failed(problem: Problem) -> _Loaded:
        return _Loaded(path, None, None, [problem])

    try:
        text = read_text(path)
        tree = bounded_yaml().load(text)
    except LimitExceeded as exc:
        return failed(Problem(str(path), exc.line, exc.col, exc.message))
    except UnicodeDecodeError as exc:
        return failed(_whole(path, f"not UTF-8 text ({exc.reason})"))
    except OSError as exc:
        return failed(_whole(path, f"cannot read: {exc.strerror or exc}"))
    except YAMLError as exc:
        return failed(syntax_problem(str(path), text, exc))
    if tree is None:
        return failed(_whole(path, "the file is empty; expected a workflow"))
    if not isinstance(tree, CommentedMap):
        got = kind_of(_plain(tree))
        return failed(_whole(path, f"expected a mapping of workflow keys, got {got}"))

    item = _Loaded(path, tree, None, [])
    try:
        workflow = Workflow.model_validate(_plain(tree))
    except ValidationError as exc:
        problems = (_validation_problem(item, err) for err in exc.errors())
        return _Loaded(path, tree, None, _ordered(problems))
    found = (*workflow.reference_problems(), *_extra_problems(workflow))
    located = (_at(item, loc, message, key=_names_a_key(loc)) for loc, message in found)
    return _Loaded(path, tree, workflow, _ordered(located))


def _ordered(problems: Iterable[Problem]) -> list[Problem]:
    """Top to bottom, duplicates dropped: the order an admin fixes them in."""
    return sorted(dict.fromkeys(problems), key=lambda p: (p.line, p.col))


def _extra_problems(workflow: Workflow) -> Iterator[tuple[Loc, str]]:
    """Checks the model leaves to the loader: message templates the engine can format, and
    tracker names that identify one status only (lookups take the first match)."""
    formatter = string.Formatter()
    for field, allowed in _TEMPLATE_PLACEHOLDERS.items():
        if field not in workflow.messages.model_fields_set:
            continue
        text = getattr(workflow.messages, field)
        try:
            names = [name for _, name, _, _ in formatter.parse(text) if name is not None]
        except ValueError as exc:
            yield ("messages", field), f"broken placeholder: {exc} (write {{{{ for a literal {{)"
            continue
        for name in names:
            if name not in allowed:
                known = ", ".join("{" + p + "}" for p in sorted(allowed))
                yield ("messages", field), f"unknown placeholder '{{{name}}}'; use {known}"

    first: dict[str, str] = {}
    for sid, name in workflow.statuses.items():
        other = first.setdefault(name.casefold(), sid)
        if other != sid:
            yield ("statuses", sid), f"tracker status '{name}' is already used by '{other}'"


# -- mapping pydantic errors onto the text ---------------------------------------------------
def _validation_problem(item: _Loaded, err: Mapping[str, Any]) -> Problem:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return _at(item, loc, _unknown_key(item.tree, loc), key=True)
    if kind == "missing":
        # The key is absent, so point at whatever holds the mapping it belongs in.
        return _at(item, loc[:-1], f"missing required key '{loc[-1]}'", key=True)
    message = _misnamed_status(item.tree, loc, err) or describe(err)
    if loc and loc[-1] == "[key]":
        return _at(item, loc[:-1], message, key=True)
    return _at(item, loc, message)


def _misnamed_status(tree: Any, loc: Loc, err: Mapping[str, Any]) -> str | None:
    """For text used as a status that is no status id (`Hotovo`, `Hotvo`): the declared
    status it most likely means, when one is close; declarations themselves are left to
    the pattern's explanation."""
    value = err.get("input")
    if err["type"] != "string_pattern_mismatch" or not loc or loc[0] == "statuses":
        return None
    declared = tree.get("statuses") if isinstance(tree, Mapping) else None
    if not isinstance(value, str) or not isinstance(declared, Mapping):
        return None
    statuses = {
        sid: name
        for sid, name in declared.items()
        if isinstance(sid, str) and isinstance(name, str) and re.fullmatch(STATUS_ID_PATTERN, sid)
    }
    return undeclared_status(value, statuses) if status_suggestion(value, statuses) else None


def _unknown_key(tree: Any, loc: Loc) -> str:
    message = f"unknown key '{loc[-1]}'"
    model = _declared_type(loc[:-1])
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return message
    present, _ = _walk(tree, loc[:-1], key=False)
    known = [f.alias or name for name, f in model.model_fields.items()]
    candidates = [k for k in known if not (isinstance(present, Mapping) and k in present)]
    close = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.6)
    return f"{message} (did you mean '{close[0]}'?)" if close else message


def _names_a_key(loc: Loc) -> bool:
    """Whether the last step of a location is a mapping key that is itself the subject (a
    status id under `statuses`, `flow`, `on_enter`) rather than a field holding a value."""
    return bool(loc) and get_origin(_declared_type(loc[:-1])) is dict


def _declared_type(loc: Loc) -> Any:
    """The model type found by following `loc` from Workflow, or None once it leaves it."""
    tp: Any = Workflow
    for step in (*loc, None):
        while get_origin(tp) in (Annotated, Union, types.UnionType):  # X | None → X
            tp = next(a for a in get_args(tp) if a is not type(None))
        if step is None:
            return tp
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields.items()
            tp = next((f.annotation for n, f in fields if (f.alias or n) == step), None)
        elif get_origin(tp) in (list, dict):
            tp = get_args(tp)[-1] if get_origin(tp) is dict or isinstance(step, int) else None
        else:
            return None
    return tp


def _walk(tree: Any, loc: Loc, *, key: bool) -> tuple[Any, tuple[int, int]]:
    """The node `loc` names (None if the walk stopped early) and its 0-based line and column,
    or those of the deepest part of `loc` that exists: a wrong type or an absent key stops
    the walk there, which is the closest place an admin can be pointed at."""
    if not isinstance(tree, (CommentedMap, CommentedSeq)):
        return None, (0, 0)
    node: Any = tree
    pos: tuple[int, int] = (tree.lc.line, tree.lc.col)
    for i, step in enumerate(loc):
        if isinstance(node, CommentedMap) and _has(node, step):
            # A key without a value has no position of its own; its key does.
            use_key = (key and i == len(loc) - 1) or node[step] is None
            pos = node.lc.key(step) if use_key else node.lc.value(step)
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
            pos = node.lc.item(step)
        else:
            return None, pos
        node = node[step]
    return node, pos


def _has(mapping: CommentedMap, key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:  # an unhashable step never names a key
        return False


def _plain(node: Any) -> Any:
    """ruamel's round-trip types as plain Python, so pydantic sees ordinary values.

    The recursion is as deep as the file nests and the copy as large as its aliases expand,
    both bounded by `limits` before the tree is built."""
    if isinstance(node, Mapping):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for kind in (bool, str, int, float):  # bool first: it is an int too
        if isinstance(node, kind):
            return kind(node)
    return node
