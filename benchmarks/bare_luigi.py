"""The house pipeline hand-written on bare Luigi: the second reference of the small row.

``luigi --module benchmarks.bare_luigi FullPipeline --local-scheduler --run-id R`` runs
the example's node functions as five ``luigi.Task`` classes with ``LocalTarget`` outputs
at the catalog's versioned paths, written atomically (``temporary_path``), as a Luigi
user would write it without luigi-tasks.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

import luigi

from benchmarks.house import dataset_paths, node_functions, parameters, read, write


@functools.cache
def _functions() -> Any:
    return node_functions()


@functools.cache
def _paths(run_id: str) -> dict[str, str]:
    return dataset_paths(Path.cwd(), run_id)


class HouseTask(luigi.Task):
    """A step: reads ``inputs``, calls the node function, writes ``outputs`` atomically."""

    run_id = luigi.Parameter()
    function: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]]
    outputs: ClassVar[tuple[str, ...]]
    upstream: ClassVar[tuple[type[HouseTask], ...]] = ()

    def requires(self) -> list[luigi.Task]:
        return [up(run_id=self.run_id) for up in self.upstream]

    def output(self) -> dict[str, luigi.LocalTarget]:
        return {name: luigi.LocalTarget(_paths(self.run_id)[name]) for name in self.outputs}

    def run(self) -> None:
        params = parameters(Path.cwd())
        args = [params[ref[7:]] if ref.startswith("params:") else read(_paths(self.run_id)[ref]) for ref in self.inputs]
        result = getattr(_functions(), self.function)(*args)
        values = result if len(self.outputs) > 1 else (result,)
        targets = self.output()
        for name, value in zip(self.outputs, values, strict=True):
            with targets[name].temporary_path() as tmp:
                write(tmp, value, like=targets[name].path)


class Houses(luigi.ExternalTask):
    """The raw table."""

    run_id = luigi.Parameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(_paths(self.run_id)["houses"])


class PreprocessHouses(HouseTask):
    function, inputs, outputs = "preprocess_houses", ("houses",), ("preprocessed_houses",)
    upstream = (Houses,)  # type: ignore[assignment]


class SplitData(HouseTask):
    function, inputs = "split_data", ("preprocessed_houses", "params:split")
    outputs, upstream = ("train_x", "test_x", "train_y", "test_y"), (PreprocessHouses,)


class TrainModel(HouseTask):
    function, inputs, outputs = "train_model", ("train_x", "train_y", "params:model"), ("model",)
    upstream = (SplitData,)


class Predict(HouseTask):
    function, inputs, outputs, upstream = "predict", ("model", "test_x"), ("predictions",), (TrainModel, SplitData)


class EvaluateModel(HouseTask):
    function, inputs, outputs = "evaluate_model", ("predictions", "test_y"), ("metrics",)
    upstream = (Predict, SplitData)


class FullPipeline(luigi.WrapperTask):
    """Every step for one run id."""

    run_id = luigi.Parameter()

    def requires(self) -> list[luigi.Task]:
        return [t(run_id=self.run_id) for t in (PreprocessHouses, SplitData, TrainModel, Predict, EvaluateModel)]
