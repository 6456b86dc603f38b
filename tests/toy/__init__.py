"""A toy project for tests: :func:`make_toy_project` lays out its config and raw data."""

from __future__ import annotations

import shutil
from pathlib import Path

TOY_DIR = Path(__file__).resolve().parent
CATALOG = """
raw: {type: pandas.CSVDataset, filepath: data/01_raw/raw.csv}
a: {type: pandas.ParquetDataset, filepath: data/02/a.parquet, versioned: true}
b: {type: pandas.ParquetDataset, filepath: data/02/b.parquet, versioned: true}
c: {type: json.JSONDataset, filepath: data/03/c.json, versioned: true}
d: {type: pandas.ParquetDataset, filepath: data/03/d.parquet, versioned: true}
"""


def make_toy_project(dest: Path, repo: Path) -> Path:
    """A project folder using ``toy_pipeline`` (put :data:`TOY_DIR` on PYTHONPATH)."""
    (dest / "config" / "local").mkdir(parents=True)
    (dest / "config" / "catalog.yml").write_text(CATALOG, encoding="utf-8")
    (dest / "config" / "parameters.yml").write_text("{}\n", encoding="utf-8")
    shutil.copy2(repo / "config" / "logging.ini", dest / "config" / "logging.ini")
    shutil.copy2(repo / "luigi.cfg", dest / "luigi.cfg")
    (dest / "data" / "01_raw").mkdir(parents=True)
    (dest / "data" / "01_raw" / "raw.csv").write_text("x\n1\n2\n3\n", encoding="utf-8")
    return dest
