"""A node that fails after reporting what it does, for the scheduler tests.

Imported only by ``luigi --module fail_toy`` in a toy project (see ``sched_toy.py``). A
plain node: what luigid shows of its failure is ``NodeTask.on_failure``'s.
"""

from __future__ import annotations

import os
import time

from luigi_tasks import PipelineTask, node


def explode() -> int:
    """Busy long enough for its "running" status to reach luigid, then fails."""
    time.sleep(float(os.environ.get("TOY_SLOW_SECONDS") or 2.5))
    raise RuntimeError("explode failed on purpose")


Explode = node(explode, inputs=None, outputs="a")


class Exploding(PipelineTask):
    """The node as a pipeline's part: a pipeline takes --reuse-from, so a new run can reuse."""

    parts = (Explode,)
