"""Which attachments customers may add, as an admin writes it in a workflow.

```yaml
attachments:
  extensions: [jpg, png, pdf, zip]   # the file types accepted (case does not matter)
  max_size: 2 MB                     # each; also 2MB, 2048 KiB, 500 kB, 3145728 (bytes)
  action: comment                    # or remove: the file is deleted after the comment
  messages:
    comment: Příloha {file} nebyla přijata: {problem}.
```

A customer's attachment that breaks the policy is answered with a comment the customer sees,
naming the file and what is wrong with it. Agents attach what they need and are not judged.
Sizes count in powers of 1024, as upload limits and Jira itself count them: `2 MB` and
`2048 KiB` are the same limit, 2 097 152 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bridge.workflows.problems import kind_of, placeholder_problems

_Loc = tuple[str | int, ...]
# The tracker field listing a ticket's attachments (Jira's id; each with its id, filename,
# size and author): the ticket is read with it when a delivery does not show it.
ATTACHMENT_FIELD = "attachment"
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|bytes?|[kmg]i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_MOST = 1024**4  # no tracker takes a single attachment of a terabyte
# An extension as people write it: `pdf`, `.PDF`, `tar.gz`; no spaces, slashes or empty parts.
_EXTENSION = re.compile(r"\.?([^\s./\\]+(?:\.[^\s./\\]+)*)")

# Placeholders each text may use (see bridge.engine.attachments).
_FILE = frozenset({"ticket", "file"})
MESSAGE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "comment": _FILE | {"problem", "allowed", "max_size"},
    "removed": _FILE,
    "extension": _FILE | {"extension", "allowed"},
    "no_extension": _FILE | {"allowed"},
    "too_large": _FILE | {"size", "max_size"},
    "unreadable": _FILE | {"missing"},
}


def size_in_bytes(text: str) -> int:
    """The size `text` names, in bytes; ValueError in words an admin can act on."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(
            f"'{text}' is not a size: write a number and a unit, such as '2 MB', '2MB', "
            "'500 KB' or '2048 KiB'"
        )
    amount, unit = float(found[1]), (found[2] or "").lower()
    factor = _UNITS.get(unit) or _UNITS[unit[0]]
    size = int(amount * factor)
    if size <= 0:
        raise ValueError(f"'{text}' is no size at all: the limit must be above zero")
    if size > _MOST:
        raise ValueError(f"'{text}' is larger than any attachment a tracker takes")
    return size


def shown_size(size: int) -> str:
    """A size as people read it: `3.1 MB`, `640 KB`, `12 bytes`."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _size(value: object) -> object:
    """A size as text; a whole number of bytes is taken as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{kind_of(value)} is not a size: write a number and a unit, such as '2 MB'")
    size_in_bytes(value)  # a ValueError is the loader's problem at this line
    return value


def _extensions(values: list[str]) -> list[str]:
    """Extensions without their dot, compared without regard to case."""
    cleaned = []
    for value in values:
        found = _EXTENSION.fullmatch(value.strip())
        if found is None:
            raise ValueError(f"'{value}' is not a file extension: write it as pdf, .pdf or tar.gz")
        cleaned.append(found[1].casefold())
    return list(dict.fromkeys(cleaned))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttachmentMessages(_Strict):
    """Texts about attachments. `comment` is what the customer reads, `{problem}` one or two
    of the next four; `unreadable` is an internal note for agents."""

    comment: str = Field(
        "The attachment '{file}' cannot be accepted: {problem}. Please attach only {allowed} "
        "files of at most {max_size} each.",
        description="Customer-visible. Placeholders: {ticket} {file} {problem} {allowed} {max_size}.",
    )
    removed: str = Field(
        "It has been removed from the ticket.",
        description="Added to the comment when `action: remove`. Placeholders: {ticket} {file}.",
    )
    extension: str = Field(
        "files of type .{extension} are not accepted",
        description="Used in {problem}. Placeholders: {ticket} {file} {extension} {allowed}.",
    )
    no_extension: str = Field(
        "files without an extension are not accepted",
        description="Used in {problem}. Placeholders: {ticket} {file} {allowed}.",
    )
    too_large: str = Field(
        "it is {size}, more than {max_size}",
        description="Used in {problem}. Placeholders: {ticket} {file} {size} {max_size}.",
    )
    unreadable: str = Field(
        "ticket-bridge: the attachment '{file}' could not be checked against the rules for "
        "attachments: its {missing} cannot be read. Please check it by hand.",
        description="Internal note. Placeholders: {ticket} {file} {missing}.",
    )


class Attachments(_Strict):
    """The file types and the size customers' attachments may have, and what the bridge
    does about one that breaks them."""

    extensions: Annotated[list[str], Field(min_length=1), AfterValidator(_extensions)] = Field(
        description="File extensions accepted, e.g. [jpg, png, pdf]; case does not matter."
    )
    max_size: Annotated[str, BeforeValidator(_size, json_schema_input_type=str | int)] = Field(
        description="The largest attachment accepted: '2 MB', '2MB', '2048 KiB', or a number "
        "of bytes. KB, MB and GB count in powers of 1024, as KiB, MiB and GiB do."
    )
    action: Literal["comment", "remove"] = Field(
        "comment",
        description="comment: the customer is told; remove: told, and the attachment deleted.",
    )
    messages: AttachmentMessages = Field(default_factory=AttachmentMessages)

    @cached_property
    def max_bytes(self) -> int:
        return size_in_bytes(self.max_size)

    @property
    def shown_max(self) -> str:
        """The limit as messages show it: as written, or `3 MB` for a number of bytes."""
        text = self.max_size.strip()
        return shown_size(self.max_bytes) if text.isdigit() else text

    def extension_of(self, filename: str) -> str | None:
        """The accepted extension `filename` ends in, or None."""
        name = filename.casefold()
        return next((ext for ext in self.extensions if name.endswith("." + ext)), None)

    def problems(self) -> Iterator[tuple[_Loc, str]]:
        """(location, message) for texts the bridge cannot fill."""
        for key, allowed in MESSAGE_PLACEHOLDERS.items():
            text = getattr(self.messages, key)
            yield from placeholder_problems(("attachments", "messages", key), text, allowed)
