"""The example project's pipelines: ``luigi --module luigi_tasks.pipelines FullPipeline``.

Node tasks live in namespaces named after their module (``data_engineering.SplitData``,
``data_science.TrainModel``); the wrapper tasks below have none.
"""

from __future__ import annotations

from luigi_tasks.pipeline import PipelineTask
from luigi_tasks.pipelines import data_engineering, data_science


class DataEngineeringPipeline(PipelineTask):
    """Raw houses -> clean table -> train/test model input."""

    parts = data_engineering.NODES


class DataSciencePipeline(PipelineTask):
    """Model input -> model -> predictions -> metrics (runs what it needs upstream)."""

    parts = data_science.NODES


class FullPipeline(PipelineTask):
    """Both pipelines, for one run id."""

    parts = (DataEngineeringPipeline, DataSciencePipeline)


__all__ = ["DataEngineeringPipeline", "DataSciencePipeline", "FullPipeline"]
