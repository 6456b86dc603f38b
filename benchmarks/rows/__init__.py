"""The rows of the results table, in order; each takes a :class:`~benchmarks.context.Context`."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.context import Context
from benchmarks.results import Finding
from benchmarks.rows import house, io, many, noop, recovery, reuse, scheduler

Row = Callable[[Context], list[Finding]]

ROWS: dict[str, Row] = {
    "small": house.small,
    "large": house.large,
    "many": many.many_nodes,
    "noop": noop.noop_rerun,
    "recovery": recovery.recovery,
    "reuse": reuse.reuse,
    "scheduler": scheduler.scheduler,
    "io": io.io,
}
