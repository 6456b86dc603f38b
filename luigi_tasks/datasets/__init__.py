"""Typed datasets: each is a Luigi Target with ``exists()``, ``load() -> T`` and ``save(T)``.

The catalog names them as Kedro does (``pandas.CSVDataset``); :data:`BUILTIN_TYPES` maps
those names to the classes' import paths. Any other type is given by a dotted path to an
:class:`AbstractDataset` subclass.

A dataset module is imported when first used (by the catalog, or as an attribute of this
package), so a pipeline without tables does not pay for importing pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from luigi_tasks.datasets.base import AbstractDataset

if TYPE_CHECKING:
    from luigi_tasks.datasets.json import JSONDataset
    from luigi_tasks.datasets.pandas import CSVDataset, ParquetDataset, TableDataset
    from luigi_tasks.datasets.pickle import PickleDataset
    from luigi_tasks.datasets.schema import Schema

#: Catalog type name -> ``module:class`` of the built-in dataset.
BUILTIN_TYPES: dict[str, str] = {
    "pandas.CSVDataset": "luigi_tasks.datasets.pandas:CSVDataset",
    "pandas.ParquetDataset": "luigi_tasks.datasets.pandas:ParquetDataset",
    "pickle.PickleDataset": "luigi_tasks.datasets.pickle:PickleDataset",
    "json.JSONDataset": "luigi_tasks.datasets.json:JSONDataset",
}

_LAZY = {
    "CSVDataset": "luigi_tasks.datasets.pandas",
    "ParquetDataset": "luigi_tasks.datasets.pandas",
    "TableDataset": "luigi_tasks.datasets.pandas",
    "PickleDataset": "luigi_tasks.datasets.pickle",
    "JSONDataset": "luigi_tasks.datasets.json",
    "Schema": "luigi_tasks.datasets.schema",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_TYPES",
    "AbstractDataset",
    "CSVDataset",
    "JSONDataset",
    "ParquetDataset",
    "PickleDataset",
    "Schema",
    "TableDataset",
]
