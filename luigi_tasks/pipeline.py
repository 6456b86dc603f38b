"""Pipeline tasks: Luigi wrapper tasks that chain nodes (or other pipelines) for one run.

Example:
    >>> class DataSciencePipeline(PipelineTask):
    ...     '''Model input -> model -> predictions -> metrics.'''
    ...     parts = (TrainModel, Predict, EvaluateModel)
    >>> class FullPipeline(PipelineTask):
    ...     parts = (DataEngineeringPipeline, DataSciencePipeline)

``luigi --module <module> FullPipeline --run-id R`` then runs every part, and what they
need, under run ``R``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import luigi

from luigi_tasks import graph, run_plan
from luigi_tasks.node import NodeTask, output_targets, set_up_run
from luigi_tasks.project import current_project
from luigi_tasks.report import report
from luigi_tasks.run_params import ParamsParameter
from luigi_tasks.task_params import FixedParams
from luigi_tasks.versioning import RunIdParameter


class PipelineTask(FixedParams, luigi.WrapperTask):
    """A wrapper task requiring each of :attr:`parts` with the same ``run_id``.

    Example:
        >>> class DataSciencePipeline(PipelineTask):
        ...     parts = (TrainModel, Predict, EvaluateModel)     # node task classes
        >>> class FullPipeline(PipelineTask):
        ...     parts = (DataEngineeringPipeline, DataSciencePipeline)   # or pipelines
        >>> luigi.build([FullPipeline(run_id="exp1")], local_scheduler=True)

    Run from the shell: ``luigi --module my_project.pipelines FullPipeline --run-id exp1``.
    """

    run_id = RunIdParameter()
    reuse_from = run_plan.ReuseFromParameter()
    params = ParamsParameter()
    #: Node task classes and/or other PipelineTask classes.
    parts: ClassVar[Sequence[type[luigi.Task]]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_up_run(self)

    def requires(self) -> list[luigi.Task]:
        return [part(run_id=self.run_id) for part in self.parts]

    def complete(self) -> bool:
        """Whether every node of :attr:`parts` is complete for this run, as
        :meth:`NodeTask.complete <luigi_tasks.node.NodeTask.complete>` would say.

        Checked on the catalog's datasets directly, without making a task per node: on a
        complete run Luigi then never builds the node tasks (a fast no-op rerun).
        """
        project, nodes = current_project(), node_classes(type(self))
        return all(run_plan.may_be_complete(project, self.run_id, task.get_task_family()) for task in nodes) and all(
            target.exists() for task in nodes for target in output_targets(task, self.run_id).values()
        )


def node_classes(task_class: type[luigi.Task]) -> list[type[NodeTask]]:
    """The node task classes among a pipeline's parts and its sub-pipelines' parts (a node
    task class alone if given one)."""
    found: dict[type[NodeTask], None] = {}
    pending: list[type[luigi.Task]] = [task_class]
    while pending:
        cls = pending.pop()
        if issubclass(cls, NodeTask):
            found[cls] = None
        elif issubclass(cls, PipelineTask):
            pending.extend(reversed(cls.parts))
    return list(found)


def pipeline_classes() -> list[type[PipelineTask]]:
    """Every pipeline task class defined (subclasses of :class:`PipelineTask`)."""
    found: list[type[PipelineTask]] = []
    pending = list(PipelineTask.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def pipeline_nodes() -> list[type[NodeTask]]:
    """The nodes of the pipeline tasks, upstream first; every node if there is no pipeline
    task. A node left out of every pipeline's ``parts`` (Kedro's way to take one out) is not
    counted in a run's state."""
    resolved = graph.current_graph()
    starts = [task for cls in pipeline_classes() for task in node_classes(cls) if task in resolved.upstream]
    return resolved.closure_of(starts or list(resolved.upstream))


report.connect(PipelineTask)
