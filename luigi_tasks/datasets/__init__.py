"""Typed datasets: each is a Luigi Target with ``exists()``, ``load() -> T`` and ``save(T)``.

The catalog names them as Kedro does (``pandas.CSVDataset``); :data:`BUILTIN_TYPES` maps
those names to classes. Any other type is given by a dotted path to an
:class:`AbstractDataset` subclass.
"""

from __future__ import annotations

from luigi_tasks.datasets.base import AbstractDataset
from luigi_tasks.datasets.json import JSONDataset
from luigi_tasks.datasets.pandas import CSVDataset, ParquetDataset, TableDataset
from luigi_tasks.datasets.pickle import PickleDataset
from luigi_tasks.datasets.schema import Schema

BUILTIN_TYPES: dict[str, type[AbstractDataset]] = {
    "pandas.CSVDataset": CSVDataset,
    "pandas.ParquetDataset": ParquetDataset,
    "pickle.PickleDataset": PickleDataset,
    "json.JSONDataset": JSONDataset,
}

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
