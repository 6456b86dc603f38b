"""The same trivial pipeline hand-written on bare Luigi (shape and size from the environment).

One ``luigi.Task`` class per node, as luigi-tasks makes, reading its inputs' JSON files and
writing its output atomically at the same versioned path:
``BENCH_SHAPE=chain BENCH_NODES=1000 luigi --module benchmarks.nodes_bare Pipeline
--local-scheduler --run-id R``.
"""

from __future__ import annotations

import json
from typing import ClassVar

import luigi

from benchmarks.trivial import FUNCTIONS, NAMESPACE, TrivialNode, filepath, from_env


def _path(name: str, run_id: str) -> str:
    return f"{filepath(name)}/{run_id}/{name}.json"


class TrivialTask(luigi.Task):
    """One node: reads its inputs, calls its function, writes its output."""

    run_id = luigi.Parameter()
    spec: ClassVar[TrivialNode]

    def requires(self) -> list[luigi.Task]:
        return [PRODUCERS[name](run_id=self.run_id) for name in self.spec.inputs]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(_path(self.spec.output, self.run_id))

    def run(self) -> None:
        values = []
        for name in self.spec.inputs:
            with open(_path(name, self.run_id), encoding="utf-8") as f:
                values.append(json.load(f))
        result = FUNCTIONS[self.spec.function](*values)
        with self.output().open("w") as f:  # atomic: Luigi writes a temporary file, then renames
            f.write(json.dumps(result))


NODES = [
    type(n.name.capitalize(), (TrivialTask,), {"spec": n, "task_namespace": NAMESPACE, "__module__": __name__})
    for n in from_env()
]
PRODUCERS: dict[str, type[TrivialTask]] = {cls.spec.output: cls for cls in NODES}


class Pipeline(luigi.WrapperTask):
    """Every node."""

    run_id = luigi.Parameter()

    def requires(self) -> list[luigi.Task]:
        return [cls(run_id=self.run_id) for cls in NODES]
