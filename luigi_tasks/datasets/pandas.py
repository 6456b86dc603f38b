"""pandas DataFrames as CSV and Parquet files (Kedro's ``pandas.CSVDataset`` and
``pandas.ParquetDataset``).

Both accept two optional catalog keys besides Kedro's:

- ``schema``: column name -> dtype, checked on every load and save
  (see :mod:`luigi_tasks.datasets.schema`);
- ``allow_empty``: a table with no rows is refused on load unless this is ``true``,
  because a node given zero rows fails later with an obscure error, or worse, saves an
  empty model or report as if all were well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import pandas as pd

from luigi_tasks.datasets.base import TEXT_OPEN_ARGS, WHOLE_TABLE, AbstractDataset, Source, text
from luigi_tasks.datasets.schema import Schema
from luigi_tasks.errors import DatasetError


class TableDataset(AbstractDataset[pd.DataFrame]):
    """A DataFrame dataset that checks an optional schema and refuses empty tables on load.

    Args:
        filepath: See :class:`AbstractDataset`.
        schema: Column name -> dtype (a kind such as ``number`` or a pandas dtype name).
        allow_empty: Accept a table with zero rows on load.
        **kwargs: See :class:`AbstractDataset`.
    """

    data_type = pd.DataFrame
    #: The catalog may give this class ``schema`` and ``allow_empty``.
    accepts_schema: ClassVar[bool] = True

    def __init__(
        self,
        filepath: str,
        *,
        schema: Mapping[str, str] | Schema | None = None,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(filepath, **kwargs)
        self.schema = schema if isinstance(schema, Schema) or schema is None else Schema.parse(schema)
        self.allow_empty = allow_empty

    def _validate_loaded(self, data: pd.DataFrame) -> None:
        if len(data) == 0 and not self.allow_empty:
            raise self._empty_error(f"has {len(data.columns)} column(s) but no rows")
        if self.schema is not None:
            self.schema.check(
                data,
                where=f"{self._describe()} at {self.path}",
                fix=f"Fix the file, or the schema of '{self.name}' in {self._declared()}.",
            )

    def _validate_saving(self, data: pd.DataFrame) -> None:
        if self.schema is not None:
            self.schema.check(
                data,
                where=f"{self._describe()}, saving to {self.path}",
                fix=f"Make the node return these columns, or change the schema of '{self.name}' "
                f"in {self._declared()}. Nothing was written.",
            )

    def _empty_error(self, what: str) -> DatasetError:
        return DatasetError(
            f"{self._describe()} at {self.path} {what}: a node cannot work on an empty table. "
            "Check the file (an export cut short? the wrong file?) or the step that wrote it; "
            f"if an empty table is valid here, set 'allow_empty: true' on '{self.name}' in "
            f"{self._declared()}."
        )


class CSVDataset(TableDataset):
    """A DataFrame in a CSV file; ``load_args``/``save_args`` go to ``read_csv``/``to_csv``,
    and ``fs_args: {open_args_load: {encoding: latin-1}}`` (or ``open_args_save``) to the
    file's open, as in Kedro.

    Example (catalog.yml):
        houses:
          type: pandas.CSVDataset
          filepath: data/01_raw/house.csv
          schema: {price: number, airco: str}   # optional, checked on load and save
          fs_args: {open_args_load: {encoding: latin-1}}   # optional
    """

    default_save_args: ClassVar[dict[str, Any]] = {"index": False}
    refused_args: ClassVar[Mapping[str, str]] = {"load_args.chunksize": WHOLE_TABLE, "load_args.iterator": WHOLE_TABLE}
    open_args_keys = TEXT_OPEN_ARGS

    def _load_from(self, src: Source) -> pd.DataFrame:
        # read_csv gives a DataFrame: refused_args keeps out chunksize and iterator.
        try:
            if self._open_args_load:
                with text(src, "r", self._open_args_load) as f:
                    return cast(pd.DataFrame, pd.read_csv(f, **self.load_args))
            return cast(pd.DataFrame, pd.read_csv(src, **self.load_args))
        except pd.errors.EmptyDataError:
            if self.allow_empty:
                return cast(pd.DataFrame, pd.DataFrame())  # Any with pandas-stubs 3 under python_version 3.10
            raise self._empty_error("is an empty file (not even a header)") from None

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        if self._open_args_save:
            with text(dst, "w", self._open_args_save) as f:
                data.to_csv(f, **self.save_args)
        elif isinstance(dst, str):
            data.to_csv(dst, **self.save_args)
        else:
            data.to_csv(dst, mode="wb", **self.save_args)


class ParquetDataset(TableDataset):
    """A DataFrame in a Parquet file, through pyarrow.

    Example (catalog.yml):
        train_x:
          type: pandas.ParquetDataset
          filepath: data/05_model_input/train_x.parquet
          versioned: true
    """

    default_load_args: ClassVar[dict[str, Any]] = {"engine": "pyarrow"}
    default_save_args: ClassVar[dict[str, Any]] = {"engine": "pyarrow"}
    open_args_hint = "give pyarrow's options in load_args and save_args (pandas' read_parquet, to_parquet)"
    refused_args: ClassVar[Mapping[str, str]] = {
        "save_args.partition_cols": (
            "it makes a folder of files, which a save cannot write atomically or version. Leave it out: "
            "the dataset is one Parquet file"
        ),
    }

    def _load_from(self, src: Source) -> pd.DataFrame:
        return pd.read_parquet(src, **self.load_args)

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        data.to_parquet(dst, **self.save_args)
