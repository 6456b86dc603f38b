"""Table schemas: the columns a DataFrame must have, with their dtypes.

A catalog entry of a table dataset (``pandas.CSVDataset``, ``pandas.ParquetDataset``) may
declare the columns its nodes rely on; they are checked on every load and every save, so
a raw file missing a column, or holding text where numbers belong, fails with the dataset,
the column, the expected and the found dtype, instead of deep inside a node::

    houses:
      type: pandas.CSVDataset
      filepath: data/01_raw/house.csv
      schema:
        price: number      # kinds: int, float, number, bool, str, datetime, category
        lotsize: int64     # or any pandas dtype name: int64, float64, Int64, string, ...
        airco: str

Columns not listed are allowed. A dtype is either one of the kinds above (any integer
width matches ``int``) or a pandas dtype name, matched exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.api import types as pdt

from luigi_tasks.errors import DatasetError


def _is_str(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.StringDtype):
        return True
    return series.dtype == object and all(isinstance(v, str) for v in series.dropna())


_KINDS: dict[str, Callable[[pd.Series], bool]] = {
    "int": lambda s: pdt.is_integer_dtype(s.dtype) and not pdt.is_bool_dtype(s.dtype),
    "float": lambda s: pdt.is_float_dtype(s.dtype),
    "number": lambda s: pdt.is_numeric_dtype(s.dtype) and not pdt.is_bool_dtype(s.dtype),
    "bool": lambda s: pdt.is_bool_dtype(s.dtype),
    "str": _is_str,
    "datetime": lambda s: pdt.is_datetime64_any_dtype(s.dtype),
    "category": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
}
_ALIASES = {"integer": "int", "numeric": "number", "boolean": "bool"}
_NUMERIC_KINDS = {"int", "float", "number"}


@dataclass(frozen=True)
class Column:
    """One column of a schema: its name and the dtype (kind or pandas name) it must have."""

    name: str
    dtype: str

    def matches(self, series: pd.Series) -> bool:
        """Whether ``series`` has this column's dtype."""
        kind = _ALIASES.get(self.dtype, self.dtype)
        if kind in _KINDS:
            return _KINDS[kind](series)
        return bool(series.dtype == pdt.pandas_dtype(self.dtype))


@dataclass(frozen=True)
class Schema:
    """The columns a table must have. Build it with :meth:`parse`; check with :meth:`check`."""

    columns: tuple[Column, ...]

    @classmethod
    def parse(cls, raw: Any) -> Schema:
        """A schema from the catalog's ``schema:`` mapping of column name -> dtype.

        Raises:
            ValueError: ``raw`` is not such a mapping, or a dtype is unknown (the catalog
                turns this into a CatalogError naming the file and dataset).
        """
        if not isinstance(raw, Mapping) or not raw:
            raise ValueError("'schema' must be a mapping of column name -> dtype, e.g. {price: number}")
        columns = []
        for name, dtype in raw.items():
            if not isinstance(dtype, str) or not dtype:
                raise ValueError(f"'schema' column '{name}': the dtype must be a string such as int64 or str")
            if _ALIASES.get(dtype, dtype) not in _KINDS:
                try:
                    pdt.pandas_dtype(dtype)
                except TypeError:
                    raise ValueError(
                        f"'schema' column '{name}': unknown dtype '{dtype}'. Use a kind "
                        f"({', '.join(_KINDS)}) or a pandas dtype name (int64, float64, string, ...)"
                    ) from None
            columns.append(Column(str(name), dtype))
        return cls(tuple(columns))

    def check(self, frame: pd.DataFrame, *, where: str, fix: str) -> None:
        """Raise :class:`DatasetError` naming the first missing or mistyped column.

        Args:
            frame: The table being loaded or saved.
            where: Which dataset and path, e.g. ``"Dataset 'houses' (CSVDataset) at x.csv"``.
            fix: What the user should do, appended to the message.
        """
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            present = ", ".join(map(str, frame.columns[:20]))
            raise DatasetError(
                f"{where}: column(s) {', '.join(map(repr, missing))} required by the catalog "
                f"schema are missing (columns present: {present or 'none'}). {fix}"
            )
        for column in self.columns:
            series = frame[column.name]
            if not column.matches(series):
                raise DatasetError(
                    f"{where}: column '{column.name}' should be {column.dtype} (catalog schema), "
                    f"but it is {series.dtype}{_example(series, column)}. {fix}"
                )


def _example(series: pd.Series, column: Column) -> str:
    """A value showing why a column of text is not numeric, e.g. `` (e.g. 'abc' at index 3)``."""
    if _ALIASES.get(column.dtype, column.dtype) not in _NUMERIC_KINDS or pdt.is_numeric_dtype(series.dtype):
        return ""
    bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
    if bad.empty:
        return ""
    return f" (e.g. {str(bad.iloc[0])[:40]!r} at index {bad.index[0]})"
