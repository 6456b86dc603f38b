"""The errors luigi-tasks raises.

Every message names the file, dataset or node concerned, what is wrong, and what to do,
so that a user can act on the last line of the output without reading a traceback.
"""

from __future__ import annotations


class LuigiTasksError(Exception):
    """Base class of every error raised by luigi-tasks on bad input or state."""


class ConfigError(LuigiTasksError):
    """A configuration file (catalog, parameters, credentials) is missing or malformed."""


class CatalogError(ConfigError):
    """A catalog entry is invalid, or a dataset name is not in the catalog."""


class DatasetError(LuigiTasksError):
    """A dataset could not be loaded or saved."""


class VersionExistsError(DatasetError):
    """A versioned dataset was saved under a run id that already holds it."""


class RunIdError(LuigiTasksError, ValueError):
    """A run id is not a valid name."""


class PipelineError(LuigiTasksError):
    """The nodes do not form a valid pipeline (duplicate producers, cycles, unknown inputs)."""


class NodeError(LuigiTasksError):
    """A node was declared wrongly, or its function returned something it did not declare."""


class RunError(LuigiTasksError):
    """A run id cannot be (re)run as asked: other parameters, stale nodes, unknown run."""
