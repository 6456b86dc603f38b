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


def grow_toy(project: Path, folder: Path) -> Path:
    """The toy pipeline grown by a node ``toy.StepE`` (``c`` -> ``e``, a JSON dataset added to
    ``project``'s catalog), written to ``folder`` (put it on PYTHONPATH instead of TOY_DIR)."""
    with open(project / "config" / "catalog.yml", "a", encoding="utf-8") as f:
        f.write("e: {type: json.JSONDataset, filepath: data/03/e.json, versioned: true}\n")
    folder.mkdir(parents=True, exist_ok=True)
    text = (TOY_DIR / "toy_pipeline.py").read_text(encoding="utf-8").replace("parts = (C, D)", "parts = (C, D, E)")
    (folder / "toy_pipeline.py").write_text(text.replace(
        "\n\nclass ToyPipeline",
        '\n\ndef step_e(c: dict) -> dict:\n    return {"e": c["total"]}\n\n\nE = node(step_e, "c", "e", namespace="toy")\n'
        "\n\nclass ToyPipeline",
    ), encoding="utf-8")
    return folder
