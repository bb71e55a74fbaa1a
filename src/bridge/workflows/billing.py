"""What a workflow bills, as an admin writes it.

```yaml
billing:
  billable: [done]           # a ticket is billed once it first reaches one of these
  never: [cancelled]         # never billed, whatever work is logged on it
  approval: approved         # who moved the ticket here says whether the customer approved
  rounding: 15 minutes       # each ticket's total in an export, rounded up to this
```

Statuses are named by the workflow's ids, so renaming a status in the tracker changes one
line under `statuses`. Rounding applies to exports only: worklogs in the tracker keep the
time people logged, which is the evidence a bill can be checked against.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from bridge.workflows.calendar import Duration
from bridge.workflows.problems import undeclared_status

_StatusId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Loc = tuple[str | int, ...]
_ROUNDING_EXAMPLES = "such as '15 minutes' or '1 hour'"


def _rounding(text: str) -> str:
    """Worked time is elapsed time: a step in business or calendar days would mean nothing."""
    try:
        step = Duration.parse(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a rounding step: write a whole number of minutes or hours, "
            f"{_ROUNDING_EXAMPLES}"
        ) from None
    if step.business:
        raise ValueError(
            f"'{text}': worked time is rounded in plain minutes or hours, not business time, "
            f"{_ROUNDING_EXAMPLES}"
        )
    if step.in_days:
        raise ValueError(f"'{text}': round worked time to minutes or hours, {_ROUNDING_EXAMPLES}")
    return text


class Billing(BaseModel):
    """Which tickets are billed, when, and how their time is rounded in an export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    billable: list[_StatusId] = Field(
        min_length=1,
        description="Statuses in which a ticket is billed; it is billed in the period in "
        "which it first reached one of them.",
    )
    never: list[_StatusId] = Field(
        default_factory=list,
        description="Statuses in which a ticket is never billed, even with work logged on it.",
    )
    approval: _StatusId | None = Field(
        None,
        description="The status a customer approves into; who moved the ticket there says "
        "whether the approval was the customer's, the bridge's timer's or the team's.",
    )
    rounding: Annotated[str, AfterValidator(_rounding)] | None = Field(
        None,
        description="Each ticket's total in an export is rounded up to a multiple of this, "
        "e.g. '15 minutes'; worklogs in the tracker never change.",
    )

    @cached_property
    def rounding_seconds(self) -> int | None:
        """The rounding step in seconds, or None when totals are billed as logged."""
        if self.rounding is None:
            return None
        return int(Duration.parse(self.rounding).span.total_seconds())

    def problems(self, statuses: Mapping[str, str]) -> Iterator[tuple[_Loc, str]]:
        """(location, message) for every status not declared under `statuses`, and for a
        status both billable and never billable, which would leave its tickets undecided."""
        for field in ("billable", "never"):
            for i, sid in enumerate(getattr(self, field)):
                if sid not in statuses:
                    yield ("billing", field, i), undeclared_status(sid, statuses)
        if self.approval is not None and self.approval not in statuses:
            yield ("billing", "approval"), undeclared_status(self.approval, statuses)
        for i, sid in enumerate(self.never):
            if sid in self.billable:
                yield ("billing", "never", i), f"status '{sid}' is also under 'billable'"
