"""A generated pipeline of trivial luigi-tasks nodes (shape and size from the environment).

``BENCH_SHAPE=chain BENCH_NODES=1000 luigi --module benchmarks.nodes_luigi_tasks Pipeline
--local-scheduler --run-id R`` in a project whose catalog declares the datasets
(:func:`benchmarks.trivial.catalog`).
"""

from __future__ import annotations

from benchmarks.trivial import FUNCTIONS, NAMESPACE, from_env
from luigi_tasks import PipelineTask, node

NODES = tuple(
    node(FUNCTIONS[n.function], inputs=list(n.inputs), outputs=n.output, name=n.name, namespace=NAMESPACE)
    for n in from_env()
)


class Pipeline(PipelineTask):
    """Every node."""

    parts = NODES
