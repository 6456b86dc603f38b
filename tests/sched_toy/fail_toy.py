"""A node that fails after reporting what it does, for the scheduler tests.

Imported only by ``luigi --module fail_toy`` in a toy project (see ``sched_toy.py``). Its
``on_failure`` is ``NodeTask.on_failure`` (which records the failure) returning
:func:`luigi_tasks.report.node_failure`'s text instead of its own: the one-line change that
wires it into ``NodeTask`` itself.
"""

from __future__ import annotations

import os
import time

from luigi_tasks import NodeTask, PipelineTask, node
from luigi_tasks.report import node_failure


def explode() -> int:
    """Busy long enough for its "running" status to reach luigid, then fails."""
    time.sleep(float(os.environ.get("TOY_SLOW_SECONDS") or 2.5))
    raise RuntimeError("explode failed on purpose")


Explode = node(explode, inputs=None, outputs="a")


def _on_failure(self: NodeTask, exception: BaseException) -> str:
    NodeTask.on_failure(self, exception)  # records the failure, as today
    return node_failure(self, exception)


Explode.on_failure = _on_failure  # type: ignore[method-assign]


class Exploding(PipelineTask):
    """The node as a pipeline's part: a pipeline takes --reuse-from, so a new run can reuse."""

    parts = (Explode,)
