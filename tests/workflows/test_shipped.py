"""The workflows shipped in `workflows/` validate and say what the customers agreed to."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bridge.workflows import Workflow, WorkflowSet, check_paths, load_dir, load_file
from bridge.workflows.model import CustomerTransition, Messages

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
NAMES = ["deso-crm", "easy-helpdesk", "service-sheet", "targito-support", "warranticon"]


@pytest.fixture(scope="module")
def shipped() -> WorkflowSet:
    return load_dir(SHIPPED)


def by_name(workflows: WorkflowSet, name: str) -> Workflow:
    return next(wf for wf in workflows if wf.name == name)


def customer_move(wf: Workflow, src: str, dst: str) -> CustomerTransition | None:
    """The customer move between two tracker status names, if there is one."""
    a, b = wf.status_id(src), wf.status_id(dst)
    assert a is not None and b is not None, f"unknown status {src!r} or {dst!r}"
    return wf.customer_move(a, b)


def tracker_move(wf: Workflow, src: str, dst: str) -> bool:
    return customer_move(wf, src, dst) is not None


@pytest.mark.parametrize("name", NAMES)
def test_each_file_validates_on_its_own(name: str) -> None:
    wf = load_file(SHIPPED / f"{name}.yaml")
    assert wf.name == name
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", sid) for sid in wf.statuses)


def test_the_folder_is_one_valid_set(shipped: WorkflowSet) -> None:
    assert sorted(shipped.names) == NAMES
    assert check_paths([SHIPPED])[1] == []
    for wf in shipped:
        assert shipped.source[wf.name].name == f"{wf.name}.yaml"


@pytest.mark.parametrize(
    ("issue_type", "request_type", "expected"),
    [
        ("Servis", None, "service-sheet"),
        ("Service Request", "Něco mi nefunguje", "targito-support"),
        (None, "Potřebuji podporu", "targito-support"),
        (None, "Mám námět na novou funkci", "targito-support"),
        ("CRM", None, "deso-crm"),
        ("Zgłoszenie", None, "warranticon"),
        ("HelpDesk", None, "easy-helpdesk"),
        ("Bug", None, None),
        (None, "Bug", None),
    ],
)
def test_for_ticket(
    shipped: WorkflowSet, issue_type: str | None, request_type: str | None, expected: str | None
) -> None:
    found = shipped.for_ticket("ANY", issue_type, request_type)
    assert (found.name if found else None) == expected


def test_service_sheet(shipped: WorkflowSet) -> None:
    wf = by_name(shipped, "service-sheet")
    assert wf.language == "cs" and wf.applies_to.issue_types == ["Servis"]
    assert list(wf.statuses.values()) == [
        "Nový", "Přiřazeno", "Realizace", "Na vývoji", "Testování", "Na klientovi",
        "Ke schválení", "Vráceno klientem", "Schváleno", "Hotovo", "Zrušeno",
    ]  # fmt: skip
    assert wf.statuses[wf.initial] == "Nový"
    assert tracker_move(wf, "Na klientovi", "Vráceno klientem")
    assert tracker_move(wf, "Ke schválení", "Schváleno")
    assert tracker_move(wf, "Ke schválení", "Vráceno klientem")
    assert sum(len(m.to) for m in wf.customer_transitions) == 3
    assert not tracker_move(wf, "Na klientovi", "Hotovo")
    dev, cancelled = wf.status_id("Na vývoji"), wf.status_id("Zrušeno")
    assert dev and cancelled
    assert wf.entry_requirements(dev).fields == {"customfield_10050": "Číslo PBI"}
    assert wf.entry_requirements(cancelled).comment
    done = wf.status_id("Hotovo")
    open_ids = [sid for sid in wf.statuses if sid not in (done, cancelled)]
    assert all(cancelled in wf.flow[sid] for sid in open_ids), "cancel from any open status"


def test_targito_support(shipped: WorkflowSet) -> None:
    wf = by_name(shipped, "targito-support")
    assert wf.language == "en" and not wf.applies_to.issue_types
    assert list(wf.statuses.values()) == [
        "Open", "Received", "Waiting for customer", "Waiting for PM", "Waiting for development",
        "Waiting for support", "Waiting for approval", "Done", "Re-open",
    ]  # fmt: skip
    assert tracker_move(wf, "Waiting for customer", "Waiting for support")
    approve = customer_move(wf, "Waiting for approval", "Done")
    decline = customer_move(wf, "Waiting for approval", "Waiting for support")
    assert approve and approve.name == "approve" and not approve.requires
    assert decline and decline.name == "decline" and decline.requires.comment
    assert sum(len(m.to) for m in wf.customer_transitions) == 3


def test_deso_crm(shipped: WorkflowSet) -> None:
    wf = by_name(shipped, "deso-crm")
    assert wf.language == "en" and wf.applies_to.issue_types == ["CRM"]
    assert set(wf.statuses.values()) == {
        "Open", "In Progress", "Answered", "In dev", "On hold", "Closed", "Waiting for approval",
    }  # fmt: skip
    moves = {
        (wf.statuses[m.from_], wf.statuses[dst], m.name)
        for m in wf.customer_transitions
        for dst in m.to
    }
    assert moves == {
        ("Answered", "In Progress", "answer"),
        ("Waiting for approval", "In Progress", "accept quote"),
    }
    assert not wf.on_enter and wf.required_fields() == {"attachment", "priority"}
    policy = wf.attachments  # the CRM's rules for attachments, as its customer guide states them
    assert policy is not None and policy.action == "comment" and policy.max_bytes == 2 * 1024 * 1024
    assert policy.extensions == ["jpg", "png", "doc", "docx", "xls", "xlsx", "pdf", "zip", "rar"]


def billing_names(wf: Workflow) -> tuple[list[str], list[str], str | None]:
    """The billing section in the tracker's status names, as finance and the process say it."""
    assert wf.billing is not None, f"{wf.name} bills nothing"
    names = lambda ids: [wf.statuses[sid] for sid in ids]  # noqa: E731
    approval = wf.statuses[wf.billing.approval] if wf.billing.approval else None
    return names(wf.billing.billable), names(wf.billing.never), approval


def test_what_each_workflow_bills(shipped: WorkflowSet) -> None:
    service = by_name(shipped, "service-sheet")
    assert billing_names(service) == (["Hotovo"], ["Zrušeno"], "Schváleno")
    assert billing_names(by_name(shipped, "targito-support")) == (["Done"], [], "Done")
    assert billing_names(by_name(shipped, "deso-crm")) == (["Closed"], [], None)
    assert by_name(shipped, "warranticon").billing is None
    assert all(wf.billing is None or wf.billing.rounding is None for wf in shipped), "rounding is opt-in"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_czech_messages_use_the_english_placeholders_and_format(shipped: WorkflowSet) -> None:
    czech = by_name(shipped, "service-sheet").messages
    english = Messages()
    values = {
        "ticket": "SERVIS-1", "from_status": "Na klientovi", "to_status": "Hotovo",
        "allowed": "Vráceno klientem", "missing": "komentář s důvodem", "actor": "Jana",
        "label": "Číslo PBI", "status": "Ke schválení", "entered": "13.11.2026 10:00",
        "after": "5 days", "deadline": "18.11.2026 10:00", "next": "Schváleno", "left": "",
    }  # fmt: skip
    for field in Messages.model_fields:
        cs, en = getattr(czech, field), getattr(english, field)
        assert cs != en, f"{field} is not translated"
        assert placeholders(cs) == placeholders(en), field
        text = cs.format_map(values)  # no KeyError, no stray braces
        assert "{" not in text and "}" not in text
    assert re.search(r"[ěščřžýáíéůú]", czech.forbidden)


def test_english_messages_format(shipped: WorkflowSet) -> None:
    values = dict.fromkeys(
        ["ticket", "from_status", "to_status", "allowed", "missing", "actor", "label", "status",
         "entered", "after", "deadline", "next", "left"], "x"
    )
    for wf in shipped:
        for field in Messages.model_fields:
            getattr(wf.messages, field).format_map(values)


def development_names(wf: Workflow) -> tuple[str, str, str, str]:
    """The development section as the process says it: provider, field, where a ticket
    waits and where it goes on, by the tracker's names."""
    dev = wf.development
    assert dev is not None, f"{wf.name} hands nothing to development"
    return dev.provider, dev.field, wf.statuses[dev.status], wf.statuses[dev.then]


def test_what_each_workflow_hands_to_development(shipped: WorkflowSet) -> None:
    service = by_name(shipped, "service-sheet")
    assert development_names(service) == ("azure-devops", "customfield_10050", "Na vývoji", "Testování")
    assert service.development and service.development.done == ["Done"]
    assert service.development.field in service.entry_requirements("in_development").fields
    targito = by_name(shipped, "targito-support")
    provider, field, waits, then = development_names(targito)
    assert (provider, waits, then) == ("jira", "Waiting for development", "Waiting for support")
    assert field.startswith("customfield_") and field in targito.required_fields()
    assert by_name(shipped, "deso-crm").development is None


def test_development_texts_are_translated_and_format(shipped: WorkflowSet) -> None:
    from bridge.workflows.development import DevelopmentMessages

    values = dict.fromkeys(
        ["ticket", "label", "from_status", "to_status", "number", "value", "reason", "items",
         "states", "status", "next"], "x"
    )  # fmt: skip
    czech = by_name(shipped, "service-sheet").development
    english = by_name(shipped, "targito-support").development
    assert czech and english
    for field in DevelopmentMessages.model_fields:
        cs = getattr(czech.messages, field)
        assert cs != getattr(DevelopmentMessages(), field), f"{field} is not translated"
        assert "{" not in cs.format_map(values)
        getattr(english.messages, field).format_map(values)
    for wf in (czech, english):  # each says which number was wrong, and what the field held
        assert "{number}" in wf.messages.not_found and "{number}" in wf.messages.removed
        assert "{value}" in wf.messages.garbage and "{reason}" in wf.messages.unreachable
    assert re.search(r"[ěščřžýáíéůú]", czech.comment) and czech.comment.format_map(values)


def test_the_rules_on_creation_each_process_states(shipped: WorkflowSet) -> None:
    """DESO: an e-mailed ticket's priority is always Medium. Targito: customers choose the
    priority only on the bug request type, and a bug report must say what does not work."""
    deso = by_name(shipped, "deso-crm").on_create
    assert deso is not None and [(r.channel, r.values()) for r in deso.by_channel] == [
        ("email", {"priority": {"name": "Medium"}})
    ]
    targito = by_name(shipped, "targito-support").on_create
    assert targito is not None and not targito.by_channel
    (priority,) = targito.customer_fields
    assert (priority.field, priority.allowed_request_types, priority.value()) == (
        "priority", ["Něco mi nefunguje"], {"name": "Medium"}
    )
    (bug,) = targito.required
    assert bug.request_types == ["Něco mi nefunguje"] and list(bug.fields) == ["description"] and bug.public


def test_warranticon_closes_a_ticket_only_once_its_tasks_are_done(shipped: WorkflowSet) -> None:
    wf = by_name(shipped, "warranticon")
    assert wf.language == "pl" and wf.applies_to.issue_types == ["Zgłoszenie"]
    assert list(wf.statuses.values()) == ["Nowe", "Zaakceptowane", "W toku", "Zamknięte"]
    assert wf.statuses[wf.initial] == "Nowe" and not wf.customer_transitions
    way = [wf.status_id(name) for name in ("Nowe", "Zaakceptowane", "W toku", "Zamknięte")]
    assert all(b in wf.flow[a] for a, b in zip(way, way[1:])), "the process runs along flow"
    rules = wf.subtasks
    assert rules is not None and [wf.statuses[sid] for sid in rules.closing] == ["Zamknięte"]
    assert rules.then is None, "moving the ticket on by itself is documented, not shipped"
    assert wf.required_fields() == {"subtasks"}


def test_easy_helpdesk_clients_move_nothing_and_their_answers_go_back_to_the_team(shipped: WorkflowSet) -> None:
    wf = by_name(shipped, "easy-helpdesk")
    assert wf.language == "cs" and wf.applies_to.issue_types == ["HelpDesk"]
    assert not wf.customer_transitions, "clients change no status (Easy Project's advice)"
    assert {wf.statuses[a]: wf.statuses[b] for a, b in wf.replies.items()} == {"Čeká na klienta": "Řeší se"}
    for field in type(Messages()).model_fields:
        text = getattr(wf.messages, field)
        assert text != getattr(Messages(), field), f"{field} is not translated"
    assert re.search(r"[ěščřžýáíéů]", wf.messages.forbidden)


def test_polish_texts_are_translated_and_format(shipped: WorkflowSet) -> None:
    from bridge.workflows.subtasks import SubtaskMessages

    wf = by_name(shipped, "warranticon")
    assert wf.subtasks is not None
    values = dict.fromkeys(
        ["ticket", "from_status", "to_status", "allowed", "missing", "actor", "label", "status",
         "entered", "after", "deadline", "next", "left", "tasks", "count", "key", "summary"], "x"
    )  # fmt: skip
    for owner, defaults in ((wf.messages, Messages()), (wf.subtasks.messages, SubtaskMessages())):
        for field in type(defaults).model_fields:
            text = getattr(owner, field)
            assert text != getattr(defaults, field), f"{field} is not translated"
            assert "{" not in text.format_map(values), field
    assert re.search(r"[ąćęłńóśźż]", wf.subtasks.messages.open_tasks)
    assert "{tasks}" in wf.subtasks.messages.open_tasks, "the comment names the open tasks"
