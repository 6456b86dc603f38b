"""pandas DataFrames as CSV and Parquet files (Kedro's ``pandas.CSVDataset`` and
``pandas.ParquetDataset``)."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

from luigi_tasks.datasets.base import AbstractDataset, Source


class CSVDataset(AbstractDataset[pd.DataFrame]):
    """A DataFrame in a CSV file; ``load_args``/``save_args`` go to ``read_csv``/``to_csv``.

    Example (catalog.yml):
        houses:
          type: pandas.CSVDataset
          filepath: data/01_raw/house.csv
    """

    data_type = pd.DataFrame
    default_save_args: ClassVar[dict[str, Any]] = {"index": False}

    def _load_from(self, src: Source) -> pd.DataFrame:
        return pd.read_csv(src, **self.load_args)

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        if isinstance(dst, str):
            data.to_csv(dst, **self.save_args)
        else:
            data.to_csv(dst, mode="wb", **self.save_args)


class ParquetDataset(AbstractDataset[pd.DataFrame]):
    """A DataFrame in a Parquet file, through pyarrow.

    Example (catalog.yml):
        train_x:
          type: pandas.ParquetDataset
          filepath: data/05_model_input/train_x.parquet
          versioned: true
    """

    data_type = pd.DataFrame
    default_load_args: ClassVar[dict[str, Any]] = {"engine": "pyarrow"}
    default_save_args: ClassVar[dict[str, Any]] = {"engine": "pyarrow"}

    def _load_from(self, src: Source) -> pd.DataFrame:
        return pd.read_parquet(src, **self.load_args)

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        data.to_parquet(dst, **self.save_args)
