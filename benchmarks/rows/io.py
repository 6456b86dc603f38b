"""I/O: save + load of a ``io_rows``-row frame through ``ParquetDataset`` vs pandas/pyarrow directly (<= 1.10x).

Both run in this process, interleaved; each round writes a new file (a new version for
the dataset, as a run does) and reads it back, and the file is deleted after, untimed.
"""

from __future__ import annotations

import shutil

import pandas as pd

from benchmarks.context import Context
from benchmarks.generate import synthetic_houses
from benchmarks.measure import Sample, interleave, time_call
from benchmarks.results import Finding, Goal, Series, paired


def io(ctx: Context) -> list[Finding]:
    """The I/O row."""
    from luigi_tasks.datasets import (
        ParquetDataset,  # late: the other rows run luigi-tasks in children
    )

    rows = ctx.settings.io_rows
    frame = synthetic_houses(rows)
    frame = frame.assign(**{c: (frame[c] == "yes").astype("int8") for c in frame.columns if frame[c].dtype == object})
    folder = ctx.folder("io")

    def dataset(tag: str) -> Sample:
        ds = ParquetDataset((folder / "dataset.parquet").as_posix(), version=tag)
        sample = time_call(lambda: (ds.save(frame), ds.load()))
        shutil.rmtree(folder / "dataset.parquet")
        return sample

    def direct(tag: str) -> Sample:
        path = folder / f"pandas-{tag}.parquet"
        sample = time_call(lambda: (frame.to_parquet(path, engine="pyarrow"), pd.read_parquet(path, engine="pyarrow")))
        path.unlink()
        return sample

    runs = interleave({"dataset": dataset, "pandas": direct}, ctx.settings.rounds, warmup=ctx.settings.warmup)
    return [
        paired(
            "I/O",
            f"{rows:,} rows save+load: ParquetDataset / pandas+pyarrow",
            Series("ParquetDataset", runs["dataset"]),
            Series("pandas", runs["pandas"]),
            goal=Goal(1.10, "x"),
        )
    ]
