"""Faults a stand-in injects into its REST answers: failures for a number of calls, outages
for a while, slow or late answers. Shared by the Jira and the Azure DevOps stand-ins, which
each answer a fault in their own service's error shape."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """The next `times` calls matching method and path answer `status` (after `delay_ms`);
    for `seconds` from now, every matching call does (an outage). Without a status the call
    is served; `late_ms` then holds the answer back after the change is made, as a tracker
    does whose answer arrives after the client gave up."""

    path_regex: str
    status: int | None = None
    method: str | None = None
    times: int = 1
    retry_after: int | None = None
    delay_ms: int = 0
    late_ms: int = 0
    seconds: float | None = None
    until: float | None = None


def new_fault(data: dict[str, Any]) -> Fault:
    """A fault as a control call or a seed describes it (TypeError for unknown keys)."""
    fault = Fault(**data)
    fault.method = fault.method.upper() if fault.method else None
    if fault.seconds is not None:
        fault.until = time.monotonic() + fault.seconds
    return fault


def take_fault(faults: list[Fault], method: str, path: str) -> Fault | None:
    """The fault that applies to this call, counted as used; outages that ended are dropped
    from `faults`, and so are faults used up."""
    clock = time.monotonic()
    faults[:] = [f for f in faults if f.until is None or f.until > clock]
    for fault in faults:
        if fault.method in (None, method) and re.search(fault.path_regex, path):
            if fault.until is not None:  # an outage: every call until it ends
                return fault
            fault.times -= 1
            if fault.times <= 0:
                faults.remove(fault)
            return fault
    return None
