"""A workflow's `sites`: which sites it applies on, checked by `bridge check`, and the set of
workflows one site sees (`WorkflowSet.for_site`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.workflows import WorkflowError, WorkflowSet, check_paths, load_dir, load_file
from bridge.workflows.loader import locate
from tests.workflows.test_loader import (
    VALID,
    at,
    broken,
    governing,
    only,
    pos,
    problems_of,
    write,
)

SITES = broken(VALID, "statuses:\n", "sites: [acme, beta]\nstatuses:\n")


def variant(name: str, sites: str | None, types: str = "issue_types: [Bug]") -> str:
    text = broken(broken(VALID, "name: demo", f"name: {name}"), "issue_types: [Bug]", types)
    return text if sites is None else broken(text, "statuses:\n", f"sites: {sites}\nstatuses:\n")


def test_a_workflow_names_the_sites_it_applies_on(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, SITES))
    assert wf.sites == ["acme", "beta"]
    assert wf.serves("acme") and wf.serves("beta") and not wf.serves("gamma")


def test_without_sites_a_workflow_applies_on_every_site(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, VALID))
    assert wf.sites is None
    assert wf.serves("jira") and wf.serves("anything-else")


@pytest.mark.parametrize("new,needle,says", [
    ("sites: []", "[]", "expected at least one item, got an empty list"),
    ("sites: acme", "acme", "expected a list, got the text 'acme'"),
    ("sites:", "sites:", "expected a list, got nothing"),
    ("sites: [acme, Beta]", "Beta", "'Beta' is not a valid site name: use lower-case letters, digits and '-', starting with a letter or digit (it becomes the path /webhooks/<name>)"),
    ("sites: [acme, -x]", "-x", "'-x' is not a valid site name"),
    ("sites: [acme_1]", "acme_1", "'acme_1' is not a valid site name"),
    ("sites: [" + "a" * 41 + "]", "a" * 41, "site name '" + "a" * 40 + "…' is 41 characters long; at most 40"),
    ("sites: [7]", "7", "expected text, got the number 7"),
    ("sites: [acme, beta, acme]", "acme]", "site 'acme' is listed twice"),
    ("site: [acme]", "site:", "unknown key 'site' (did you mean 'sites'?)"),
])  # fmt: skip
def test_site_mistakes_are_reported_where_they_are(
    tmp_path: Path, new: str, needle: str, says: str
) -> None:
    text = broken(SITES, "sites: [acme, beta]", new)
    problem = only(problems_of(write(tmp_path, text)))
    assert says in problem.message, problem
    assert at(problem) == pos(text, needle, after="applies_to"), problem


def test_a_site_name_of_forty_characters_is_fine(tmp_path: Path) -> None:
    name = "a" + "-0" * 19 + "z"
    assert len(name) == 40
    assert load_file(write(tmp_path, broken(SITES, "[acme, beta]", f"[{name}]"))).sites == [name]


# -- across files: the same ticket type on different sites ---------------------------------
def test_the_same_issue_type_on_different_sites_is_fine(tmp_path: Path) -> None:
    write(tmp_path, variant("a", "[acme]"), "a.yaml")
    write(tmp_path, variant("b", "[beta, gamma]"), "b.yaml")
    found = load_dir(tmp_path)
    assert governing(found.for_site("acme", None), "SRV", "Bug", None) == "a"
    assert governing(found.for_site("beta", None), "SRV", "Bug", None) == "b"
    assert governing(found.for_site("delta", None), "SRV", "Bug", None) is None


@pytest.mark.parametrize("first,second", [("[acme]", "[beta, acme]"), ("[acme]", None), (None, "[acme]")])
def test_the_same_issue_type_on_a_shared_site_is_claimed_twice(
    tmp_path: Path, first: str | None, second: str | None
) -> None:
    write(tmp_path, variant("a", first), "a.yaml")
    text = variant("b", second)
    path = write(tmp_path, text, "b.yaml")
    found, problems = check_paths([tmp_path])
    assert found is None
    problem = only(problems)
    assert problem.path == str(path)
    assert problem.message.startswith("issue type 'Bug' is already claimed by workflow 'a'")
    assert at(problem) == pos(text, "Bug")


# -- the set one site sees ------------------------------------------------------------------
@pytest.fixture
def three(tmp_path: Path) -> WorkflowSet:
    write(tmp_path, variant("everywhere", None, "issue_types: [Task]"), "1.yaml")
    write(tmp_path, variant("acme-only", "[acme]"), "2.yaml")
    write(tmp_path, variant("beta-only", "[beta]"), "3.yaml")
    write(tmp_path, variant("acme-and-beta", "[acme, beta]", "issue_types: [Story]"), "4.yaml")
    return load_dir(tmp_path)


def test_a_site_sees_the_workflows_that_apply_on_it(three: WorkflowSet) -> None:
    assert three.for_site("acme", None).names == ("everywhere", "acme-only", "acme-and-beta")
    assert three.for_site("beta", None).names == ("everywhere", "beta-only", "acme-and-beta")
    assert three.for_site("gamma", None).names == ("everywhere",)


def test_a_sites_own_list_narrows_what_applies_on_it(three: WorkflowSet) -> None:
    acme = three.for_site("acme", ("acme-and-beta", "beta-only", "everywhere"))
    assert acme.names == ("everywhere", "acme-and-beta"), "beta-only leaves acme out itself"
    assert three.for_site("gamma", ("acme-only",)).names == ()
    assert len(three.for_site("gamma", ("acme-only",))) == 0


def test_a_sites_set_works_as_the_whole_set_does(three: WorkflowSet) -> None:
    beta = three.for_site("beta", None)
    assert isinstance(beta, WorkflowSet)
    assert governing(beta, "SRV", "Bug", None) == "beta-only"
    assert governing(beta, "SRV", "Story", None) == "acme-and-beta"
    assert governing(beta, "SRV", "Task", None) == "everywhere"
    assert [wf.name for wf in beta] == list(beta.names) and len(beta) == 3
    assert beta.source == {name: three.source[name] for name in beta.names}
    assert beta.for_site("beta", ("beta-only",)).names == ("beta-only",)


def test_a_sites_set_is_built_once_per_set(three: WorkflowSet, tmp_path: Path) -> None:
    assert three.for_site("acme", None) is three.for_site("acme", None)
    assert three.for_site("acme", ["acme-only"]) is three.for_site("acme", ("acme-only",))
    assert three.for_site("acme", None) is not three.for_site("acme", ("acme-only",))
    reloaded = load_dir(tmp_path)
    assert reloaded.for_site("acme", None) is not three.for_site("acme", None)


# -- a problem found against the configured sites, placed in the file -----------------------
def test_locate_points_into_a_loaded_file(tmp_path: Path) -> None:
    path = write(tmp_path, SITES)
    problem = locate(path, ("sites", 1), "site 'beta' is not configured")
    assert str(problem) == f"{path}:{pos(SITES, 'beta]')[0]}:{pos(SITES, 'beta]')[1]}: site 'beta' is not configured"


def test_locate_falls_back_to_the_top_of_a_file_it_cannot_read(tmp_path: Path) -> None:
    problem = locate(tmp_path / "gone.yaml", ("sites", 0), "whatever")
    assert (problem.line, problem.col) == (1, 1)


def test_a_workflow_error_is_raised_for_a_bad_site_in_load_dir(tmp_path: Path) -> None:
    write(tmp_path, broken(SITES, "[acme, beta]", "[Acme]"))
    with pytest.raises(WorkflowError, match="'Acme' is not a valid site name"):
        load_dir(tmp_path)


def test_a_workflow_read_back_from_its_own_dump_is_the_same(tmp_path: Path) -> None:
    wf = load_file(write(tmp_path, VALID))
    assert type(wf).model_validate(wf.model_dump(by_alias=True)) == wf
