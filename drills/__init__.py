"""Fault drills: the real `bridge serve` and the Jira stand-in as processes, driven through a
bad day (crashes, outages, hostile input, a tracker that answers late, database trouble).

Each drill is a function `drill(size, ...) -> Row`: `size="long"` is the version `make drills`
runs (`python -m drills`, the figures the README quotes); `size="short"` is the same drill with
small numbers, run by `tests/drills/` in `make test`. A drill never asserts: it measures and
says whether what must hold held, so that the long run prints a whole table even when one
drill fails.
"""

from drills.table import Row

__all__ = ["Row"]
