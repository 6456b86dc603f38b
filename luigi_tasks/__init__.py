"""luigi-tasks: Kedro's way of building ML projects, run by Luigi.

Declare datasets once in ``config/catalog.yml``, write nodes as plain functions, and let
:func:`node` make each a Luigi Task versioned by ``--run-id``::

    from luigi_tasks import node, PipelineTask

    TrainModel = node(train_model, inputs=["train_x", "train_y", "params:model"], outputs="model")

    class DataSciencePipeline(PipelineTask):
        parts = (TrainModel,)
"""

from __future__ import annotations

__version__ = "0.1.0"

import warnings

from luigi.parameter import UnconsumedParameterWarning

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import AbstractDataset
from luigi_tasks.errors import (
    CatalogError,
    ConfigError,
    DatasetError,
    LuigiTasksError,
    NodeError,
    PipelineError,
    RunError,
    RunIdError,
    VersionExistsError,
)
from luigi_tasks.logs import install_excepthook
from luigi_tasks.node import NodeTask, RawData, node
from luigi_tasks.pipeline import PipelineTask
from luigi_tasks.project import Project, current_project
from luigi_tasks.run_outputs import load_output
from luigi_tasks.versioning import RunIdParameter, generate_run_id, validate_run_id

# luigi.cfg sets [core] rpc-retry-attempts/rpc-retry-wait, which Luigi's RPC client reads
# directly from the config; Luigi's `core` Config does not declare them and warns each run.
warnings.filterwarnings("ignore", message=r".*'rpc[-_]retry[-_](attempts|wait)'", category=UnconsumedParameterWarning)

__all__ = [
    "AbstractDataset",
    "CatalogError",
    "ConfigError",
    "DataCatalog",
    "DatasetError",
    "LuigiTasksError",
    "NodeError",
    "NodeTask",
    "PipelineError",
    "PipelineTask",
    "Project",
    "RawData",
    "RunError",
    "RunIdError",
    "RunIdParameter",
    "VersionExistsError",
    "__version__",
    "current_project",
    "generate_run_id",
    "load_output",
    "node",
    "validate_run_id",
]

# `luigi --module` reads the command line before it sets up logging: show an unknown task
# name or a luigi-tasks error there as its message, not under a traceback.
install_excepthook()
