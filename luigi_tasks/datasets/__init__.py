"""Typed datasets: each is a Luigi Target with ``exists()``, ``load() -> T`` and ``save(T)``.

The catalog names them as Kedro does (``pandas.CSVDataset``); :data:`BUILTIN_TYPES` maps
those names to the classes' import paths. Any other type is given by a dotted path to an
:class:`AbstractDataset` subclass.

A dataset module is imported when first used (by the catalog, or as an attribute of this
package), so a pipeline without tables does not pay for importing pandas. The catalog
imports the light ones (:data:`IMPORTED_WHEN_USED` aside) as it reads an entry, to check the
entry against the class's own rules (its keys, whether it can be versioned).
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
    from luigi_tasks.datasets.sql import SQLQueryDataset, SQLTableDataset
    from luigi_tasks.datasets.text import TextDataset

#: Catalog type name -> ``module:class`` of the built-in dataset.
BUILTIN_TYPES: dict[str, str] = {
    "pandas.CSVDataset": "luigi_tasks.datasets.pandas:CSVDataset",
    "pandas.ParquetDataset": "luigi_tasks.datasets.pandas:ParquetDataset",
    "pickle.PickleDataset": "luigi_tasks.datasets.pickle:PickleDataset",
    "json.JSONDataset": "luigi_tasks.datasets.json:JSONDataset",
    "text.TextDataset": "luigi_tasks.datasets.text:TextDataset",
    "pandas.SQLTableDataset": "luigi_tasks.datasets.sql:SQLTableDataset",
    "pandas.SQLQueryDataset": "luigi_tasks.datasets.sql:SQLQueryDataset",
}

#: Modules of built-in types that the catalog imports only when a dataset is first built
#: (pandas takes a good part of a second to import). Their classes follow the common catalog
#: rules: a ``filepath``, no keys of their own, versioning allowed.
IMPORTED_WHEN_USED = frozenset({"luigi_tasks.datasets.pandas"})

_LAZY = {
    "CSVDataset": "luigi_tasks.datasets.pandas",
    "ParquetDataset": "luigi_tasks.datasets.pandas",
    "TableDataset": "luigi_tasks.datasets.pandas",
    "PickleDataset": "luigi_tasks.datasets.pickle",
    "JSONDataset": "luigi_tasks.datasets.json",
    "Schema": "luigi_tasks.datasets.schema",
    "TextDataset": "luigi_tasks.datasets.text",
    "SQLTableDataset": "luigi_tasks.datasets.sql",
    "SQLQueryDataset": "luigi_tasks.datasets.sql",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_TYPES",
    "IMPORTED_WHEN_USED",
    "AbstractDataset",
    "CSVDataset",
    "JSONDataset",
    "ParquetDataset",
    "PickleDataset",
    "SQLQueryDataset",
    "SQLTableDataset",
    "Schema",
    "TableDataset",
    "TextDataset",
]
