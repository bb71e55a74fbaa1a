"""The attachment policy on plain data: which files a customer is told about (and loses),
which pass, whose are not judged, and what cannot be read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.engine import (
    Actor,
    CommentAction,
    Decision,
    Event,
    Kind,
    Need,
    RemoveAttachmentAction,
    Role,
    Rule,
    Ticket,
    Verdict,
    decide,
)
from bridge.workflows.model import Workflow
from tests.conftest import FIXTURES

MB = 1024 * 1024
CUSTOMER = Actor("qm:1", "Jana", Role.CUSTOMER)
AGENT = Actor("5b10", "Petr", Role.AGENT)


def crm(**policy: Any) -> Workflow:
    """DESO's CRM tickets with the policy its customer guide states; `policy` overrides it."""
    section = {"extensions": ["jpg", "png", "doc", "docx", "xls", "xlsx", "pdf", "zip", "rar"], "max_size": "2 MB"}
    return Workflow.model_validate(
        {
            "name": "deso-crm",
            "applies_to": {"issue_types": ["CRM"]},
            "statuses": {"open": "Open", "answered": "Answered", "in_progress": "In Progress"},
            "initial": "open",
            "flow": {"open": ["in_progress"], "in_progress": ["answered"], "answered": ["in_progress"]},
            "attachments": {**section, **policy},
        }
    )


CRM = crm()
REMOVING = crm(action="remove")


def attachment(ident: str, name: str | None, size: int | None, author: str = "qm:1") -> dict[str, Any]:
    """One entry of Jira's `fields.attachment`."""
    found: dict[str, Any] = {"id": ident, "mimeType": "application/octet-stream", "author": {"accountId": author}}
    if name is not None:
        found["filename"] = name
    if size is not None:
        found["size"] = size
    return found


def ticket(*attachments: dict[str, Any], field: bool = True) -> Ticket:
    return Ticket("CRM-7", "Answered", {"attachment": list(attachments)} if field else {}, ())


def attached(*ids: str, actor: Actor = CUSTOMER, shown: Ticket | None = None, kind: Kind = Kind.UPDATED) -> Event:
    """A change that added the attachments `ids`, as the delivery showed the ticket."""
    return Event("jira", kind, "CRM-7", actor, "CRM", "CRM", None, None, "Answered",
                 snapshot=shown, attached=ids)  # fmt: skip


def created(shown: Ticket, actor: Actor = CUSTOMER) -> Event:
    return Event("jira", Kind.CREATED, "CRM-7", actor, "CRM", "CRM", None, None, "Open", snapshot=shown)


def texts(decision: Decision) -> list[tuple[str, bool]]:
    return [(a.body, a.public) for a in decision.actions if isinstance(a, CommentAction)]


# -- what a customer is told --------------------------------------------------------------------
def test_a_type_not_accepted_gets_one_public_comment_naming_the_file_and_the_rule():
    now = ticket(attachment("10001", "virus.exe", 40_000))
    decision = decide(attached("10001", shown=now), CRM, now)
    assert (decision.verdict, decision.rule) == (Verdict.REJECTED, Rule.ATTACHMENT_REJECTED)
    ((text, public),) = texts(decision)
    assert public and "virus.exe" in text and "files of type .exe are not accepted" in text
    assert "jpg, png, doc, docx, xls, xlsx, pdf, zip, rar" in text and "2 MB" in text
    assert not any(isinstance(a, RemoveAttachmentAction) for a in decision.actions), "action: comment keeps it"


def test_a_file_over_the_limit_is_named_with_its_size():
    now = ticket(attachment("10002", "scan.pdf", 3 * MB + 200_000))
    ((text, _),) = texts(decide(attached("10002", shown=now), CRM, now))
    assert "scan.pdf" in text and "it is 3.2 MB, more than 2 MB" in text


def test_a_file_breaking_both_rules_is_told_both_in_one_comment():
    now = ticket(attachment("10003", "movie.mov", 50 * MB))
    ((text, _),) = texts(decide(attached("10003", shown=now), CRM, now))
    assert "files of type .mov are not accepted; it is 50 MB, more than 2 MB" in text


def test_a_file_without_an_extension_is_not_accepted():
    now = ticket(attachment("10004", "README", 10))
    ((text, _),) = texts(decide(attached("10004", shown=now), CRM, now))
    assert "files without an extension are not accepted" in text


def test_remove_deletes_the_file_after_its_comment():
    now = ticket(attachment("10001", "virus.exe", 40_000))
    decision = decide(attached("10001", shown=now), REMOVING, now)
    comment, removal = decision.actions
    assert isinstance(comment, CommentAction) and comment.public
    assert "virus.exe" in comment.body and comment.body.endswith("It has been removed from the ticket.")
    assert removal == RemoveAttachmentAction("CRM-7", "10001", "virus.exe")


def test_each_bad_file_of_a_change_is_named_once_and_the_good_one_not():
    now = ticket(attachment("1", "a.exe", 10), attachment("2", "photo.JPG", MB), attachment("3", "b.bat", 10))
    decision = decide(attached("1", "2", "3", shown=now), REMOVING, now)
    bodies = [body for body, _ in texts(decision)]
    assert len(bodies) == 2 and "a.exe" in bodies[0] and "b.bat" in bodies[1]
    assert [a.attachment for a in decision.actions if isinstance(a, RemoveAttachmentAction)] == ["1", "3"]


def test_the_workflows_own_texts_are_used():
    wf = crm(messages={"comment": "Příloha {file} nebyla přijata: {problem}.", "extension": "typ .{extension} nepřijímáme"})
    now = ticket(attachment("10001", "virus.exe", 10))
    assert texts(decide(attached("10001", shown=now), wf, now)) == [("Příloha virus.exe nebyla přijata: typ .exe nepřijímáme.", True)]


# -- what passes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,size", [("scan.pdf", MB), ("Photo.JPG", 2 * MB), ("logs.zip", 0)])
def test_files_within_the_policy_pass_without_reading_the_ticket(name: str, size: int):
    shown = ticket(attachment("10005", name, size))
    decision = decide(attached("10005", shown=shown), CRM)  # no ticket read: the delivery suffices
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.ALLOWED, Rule.ATTACHMENTS_ACCEPTED, ())
    assert name in decision.reason


def test_an_agents_attachment_is_not_judged():
    now = ticket(attachment("10001", "dump.exe", 50 * MB, author="5b10"))
    decision = decide(attached("10001", actor=AGENT, shown=now), REMOVING, now)
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.IGNORED, Rule.NO_RULE, ())


def test_a_workflow_without_a_policy_judges_no_attachment():
    wf = CRM.model_copy(update={"attachments": None})
    now = ticket(attachment("10001", "virus.exe", 10))
    assert decide(attached("10001", shown=now), wf, now).rule is Rule.NO_RULE


# -- reading what is needed ------------------------------------------------------------------------
def test_a_file_the_delivery_would_complain_about_is_judged_on_the_ticket_as_it_is_now():
    shown = ticket(attachment("10001", "virus.exe", 10))
    assert decide(attached("10001", shown=shown), CRM).needs == {Need.TICKET}
    gone = decide(attached("10001", shown=shown), CRM, ticket())  # an agent removed it meanwhile
    assert (gone.verdict, gone.actions) == (Verdict.STALE, ())
    assert "no longer on the ticket" in gone.reason


def test_a_delivery_without_the_attachments_asks_for_the_ticket():
    assert decide(attached("10001", shown=ticket(field=False)), CRM).needs == {Need.TICKET}
    assert decide(attached("10001"), CRM).needs == {Need.TICKET}


def test_an_actor_of_unknown_role_is_asked_about_first():
    data_center = Actor("jana", "Jana", Role.UNKNOWN)
    now = ticket(attachment("10001", "virus.exe", 10))
    assert decide(attached("10001", actor=data_center, shown=now), CRM, now).needs == {Need.ROLE}


def test_the_names_a_delivery_gives_instead_of_ids_are_found_on_the_ticket():
    now = ticket(attachment("10001", "test.json", 10), attachment("10002", "test.gif", 10))
    ((text, _),) = texts(decide(attached("test.gif", shown=now), CRM, now))
    assert "test.gif" in text


# -- what cannot be read -------------------------------------------------------------------------
@pytest.mark.parametrize("entry,missing", [
    (attachment("10001", None, 10), "name"),
    (attachment("10001", "scan.pdf", None), "size"),
    ({"id": "10001", "filename": "scan.pdf", "size": "big"}, "size"),
    (attachment("10001", "  ", None), "name and size"),
])  # fmt: skip
def test_an_attachment_whose_metadata_cannot_be_read_alerts_agents_and_crashes_nothing(entry, missing):
    now = ticket(entry)
    decision = decide(attached("10001", shown=now), REMOVING, now)
    assert (decision.verdict, decision.rule) == (Verdict.NEEDS_ATTENTION, Rule.ATTACHMENT_UNREADABLE)
    ((text, public),) = texts(decision)
    assert not public and f"its {missing} cannot be read" in text
    assert not any(isinstance(a, RemoveAttachmentAction) for a in decision.actions), "nothing is deleted on a guess"


@pytest.mark.parametrize("field", [None, "not a list", [None, 42]])
def test_a_ticket_whose_attachment_list_is_not_one_needs_attention(field: object):
    now = Ticket("CRM-7", "Answered", {"attachment": field} if field is not None else {}, ())
    decision = decide(attached("10001", shown=now), CRM, now)
    assert (decision.verdict, decision.rule) == (Verdict.NEEDS_ATTENTION, Rule.ATTACHMENT_UNREADABLE)
    ((text, public),) = texts(decision)
    assert not public and "'#10001'" in text and "its name and size cannot be read" in text


# -- on creation ---------------------------------------------------------------------------------
def test_attachments_a_customer_creates_a_ticket_with_are_judged():
    shown = Ticket("CRM-7", "Open", {"attachment": [attachment("1", "invoice.pdf", MB), attachment("2", "x.exe", 10)]}, ())
    assert decide(created(shown), CRM).needs == {Need.TICKET}
    decision = decide(created(shown), CRM, shown)
    ((text, _),) = texts(decision)
    assert "x.exe" in text and "invoice.pdf" not in text


def test_a_ticket_created_without_attachments_costs_nothing():
    shown = Ticket("CRM-7", "Open", {"attachment": []}, ())
    decision = decide(created(shown, Actor("jana", None, Role.UNKNOWN)), CRM)
    assert (decision.verdict, decision.rule) == (Verdict.IGNORED, Rule.NO_RULE)


def test_on_creation_only_the_creators_attachments_are_judged():
    now = Ticket("CRM-7", "Open", {"attachment": [attachment("2", "tool.exe", 10, author="5b10")]}, ())
    assert decide(created(now), CRM, now).actions == ()


# -- real metadata ---------------------------------------------------------------------------------
def real(name: str) -> Any:
    return json.loads((FIXTURES / "jira" / "real" / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name,path", [
    ("cloud_attachment_created.json", ("attachment",)),  # a webhook's attachment (id as text)
    ("rest/cloud_attachment_metadata.json", ()),  # a REST answer (id as a number)
])  # fmt: skip
def test_metadata_as_jira_sends_it_is_read(name: str, path: tuple[str, ...]):
    entry = real(name)
    for key in path:
        entry = entry[key]
    now = ticket(entry)
    ident, filename = str(entry["id"]), entry["filename"]
    allowed = decide(attached(ident, shown=now), crm(extensions=[filename.rsplit(".", 1)[1]]), now)
    assert allowed.rule is Rule.ATTACHMENTS_ACCEPTED and filename in allowed.reason
    refused = decide(attached(ident, shown=now), crm(extensions=["pdf"], action="remove"), now)
    assert RemoveAttachmentAction("CRM-7", ident, filename) in refused.actions
