"""A toy pipeline for scheduler tests: real nodes that leave evidence of every execution.

Imported only by ``luigi --module sched_toy`` in a temporary project whose
``PYTHONPATH`` holds this folder (never by the pytest process: its nodes would join the
example project's graph). Environment variables steer it:

- ``TOY_LOG``: each node function appends ``<name> <pid>`` to this file when it starts;
- ``TOY_FAIL``: the name of a node that raises instead of returning;
- ``TOY_BARRIER``: the sources wait until that many sources have started (up to 60 s), so
  they must run at the same time in different processes;
- ``TOY_SLOW``: the name of a node that takes ``TOY_SLOW_SECONDS`` (default 4) to run.

Shape: three independent sources ``make_a``, ``make_b``, ``make_c`` -> ``combine`` ->
``summarize``; ``SchedToyPipeline`` wraps them all.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from luigi_tasks import PipelineTask, node

SOURCES = ("make_a", "make_b", "make_c")
NODES = (*SOURCES, "combine", "summarize")


def _started(name: str) -> None:
    log = Path(os.environ["TOY_LOG"])
    with log.open("a", encoding="utf-8") as f:  # one short append: atomic between processes
        f.write(f"{name} {os.getpid()}\n")
    if os.environ.get("TOY_FAIL") == name:
        raise RuntimeError(f"toy node {name} failed on purpose")
    if os.environ.get("TOY_SLOW") == name:
        time.sleep(float(os.environ.get("TOY_SLOW_SECONDS") or 4))
    wanted = int(os.environ.get("TOY_BARRIER") or 0)
    if name in SOURCES and wanted:
        deadline = time.monotonic() + 60
        while sum(line.split()[0] in SOURCES for line in log.read_text().splitlines()) < wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: fewer than {wanted} sources ran at the same time")
            time.sleep(0.05)


def make_a() -> int:
    _started("make_a")
    return 1


def make_b() -> int:
    _started("make_b")
    return 2


def make_c() -> int:
    _started("make_c")
    return 3


def combine(a: int, b: int, c: int) -> dict[str, int]:
    _started("combine")
    return {"total": a + b + c}


def summarize(combined: dict[str, int]) -> dict[str, int]:
    _started("summarize")
    return {"total": combined["total"], "doubled": 2 * combined["total"]}


MakeA = node(make_a, inputs=None, outputs="a")
MakeB = node(make_b, inputs=None, outputs="b")
MakeC = node(make_c, inputs=None, outputs="c")
Combine = node(combine, inputs=["a", "b", "c"], outputs="combined")
Summarize = node(summarize, inputs="combined", outputs="summary")


class SchedToyPipeline(PipelineTask):
    """Every toy node, for one run id."""

    parts = (MakeA, MakeB, MakeC, Combine, Summarize)
