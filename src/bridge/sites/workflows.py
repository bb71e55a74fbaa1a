"""Sites against workflows: what a site lists, and what the workflows say of the sites.

Neither can be checked until both are loaded, and both can change (the workflows reload
while the service runs), so these checks run on the loaded sets, and `workflow_loader`
makes them part of every load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from bridge.sites.model import SiteConfig, did_you_mean
from bridge.workflows.loader import WorkflowSet, load_dir, locate
from bridge.workflows.problems import Problem, WorkflowError


def unknown_workflows(sites: Iterable[SiteConfig], workflow_names: Iterable[str]) -> list[str]:
    """A line for each workflow a site lists that is not among `workflow_names`."""
    return [str(p) for p in _unknown_listed(tuple(sites), frozenset(workflow_names))]


def site_problems(sites: Iterable[SiteConfig], workflows: WorkflowSet) -> list[Problem]:
    """What the sites and the loaded workflows say of each other that cannot both hold: a
    site lists a workflow there is none of, or one whose own `sites` leave that site out;
    a workflow names a site that is not configured (checked only when some site is, so a
    deployment without trackers can still load workflows written for others)."""
    sites = tuple(sites)
    found = _unknown_listed(sites, frozenset(workflows.names))
    by_name = {wf.name: wf for wf in workflows}
    for site in sites:
        for i, name in enumerate(site.workflows or ()):
            wf = by_name.get(name)
            if wf is not None and not wf.serves(site.name):
                where = f" ({workflows.source[name]})" if name in workflows.source else ""
                message = f"site {site.name} lists workflow '{name}', whose 'sites' leave it out"
                found.append(_at_listed(site, i, message + where))
    configured = [site.name for site in sites]
    if configured:
        for wf in workflows:
            for i, name in enumerate(wf.sites or ()):
                if name in configured:
                    continue
                hint = did_you_mean(name, configured) or f" (the sites are {', '.join(configured)})"
                message = f"site '{name}' is not configured{hint}"
                source = workflows.source.get(wf.name)
                found.append(
                    locate(source, ("sites", i), message)
                    if source
                    else Problem(f"workflow {wf.name}", 1, 1, message)
                )
    return found


def workflow_loader(sites: Iterable[SiteConfig]) -> Callable[[Path], WorkflowSet]:
    """`load_dir` that also refuses workflows the sites contradict (`site_problems`), for
    `WorkflowRegistry(folder, load=...)`: start-up fails on them and a reload that brings
    them in is refused, like any other invalid change."""
    sites = tuple(sites)

    def load(folder: Path) -> WorkflowSet:
        found = load_dir(folder)
        problems = site_problems(sites, found)
        if problems:
            raise WorkflowError(problems)
        return found

    return load


def _unknown_listed(sites: tuple[SiteConfig, ...], names: frozenset[str]) -> list[Problem]:
    found = []
    for site in sites:
        for i, name in enumerate(site.workflows or ()):
            if name in names:
                continue
            known = ", ".join(sorted(names))
            hint = did_you_mean(name, sorted(names)) or (
                f" (the workflows are {known})" if names else " (no workflows are loaded)"
            )
            message = f"site {site.name} lists workflow '{name}', which does not exist{hint}"
            found.append(_at_listed(site, i, message))
    return found


def _at_listed(site: SiteConfig, index: int, message: str) -> Problem:
    """A problem at the `index`th of the site's `workflows` in its file, or naming the site."""
    origin = site.origin
    if origin is None:
        return Problem(f"site {site.name}", 1, 1, message)
    listed = origin.workflows
    line, col = listed[index] if index < len(listed) else (origin.line, origin.col)
    return Problem(origin.path, line, col, message)
