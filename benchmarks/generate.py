"""Work folders for the benchmark: project copies, generated catalogs and synthetic data.

Everything is made under the work folder (``benchmarks/.work/`` by default, git-ignored),
never in the repository's own ``data/``.
"""

from __future__ import annotations

import configparser
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from luigi_tasks.storage import SETTLE_NS

REPO = Path(__file__).resolve().parents[1]
RAW = Path("data/01_raw/house.csv")
DEFAULT_WORK = REPO / "benchmarks" / ".work"
_last_made = 0.0  # time.monotonic() when the latest project was made
YES_NO = ("driveway", "recroom", "fullbase", "gashw", "airco", "prefarea")


def luigi_tasks_project(dest: Path, *, raw: Path | None = None, catalog: dict[str, Any] | None = None,
                        overlay: dict[str, Any] | None = None) -> Path:
    """A fresh copy of the example project at ``dest`` (config/, luigi.cfg, raw data).

    Args:
        raw: The raw table to use instead of the shipped one (hard-linked when possible).
        catalog: Entries added to ``config/catalog.yml``.
        overlay: ``config/local/catalog.yml`` (per-machine overrides).
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "config", dest / "config", ignore=shutil.ignore_patterns("local"))
    (dest / "config" / "local").mkdir()
    shutil.copy2(REPO / "luigi.cfg", dest / "luigi.cfg")
    _link(raw or REPO / RAW, dest / RAW)
    if catalog:
        with open(dest / "config" / "catalog.yml", "a", encoding="utf-8") as f:
            f.write("\n" + yaml.safe_dump(catalog, sort_keys=True))
    if overlay:
        (dest / "config" / "local" / "catalog.yml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    global _last_made
    _last_made = time.monotonic()
    return dest


def settle() -> None:
    """Wait until the projects made so far are as a project is when it runs: its config and
    raw data not changed in the last second, the age at which luigi-tasks caches a file's
    parse or hash (``storage.settled``). A real wait: a file's ctime cannot be set back."""
    time.sleep(max(0.0, _last_made + SETTLE_NS / 1e9 + 0.05 - time.monotonic()))


def bare_project(dest: Path, *, raw: Path | None = None) -> Path:
    """The same project for bare Luigi and the plain script.

    Its ``luigi.cfg`` is the example's without what belongs to luigi-tasks (its logging
    configuration and ``[luigi_tasks]``) and logs at INFO, as luigi-tasks' console does.
    """
    luigi_tasks_project(dest, raw=raw)
    cfg = configparser.ConfigParser()
    cfg.read(dest / "luigi.cfg")
    cfg.remove_option("core", "logging_conf_file")
    cfg.remove_section("luigi_tasks")
    cfg.set("core", "log_level", "INFO")
    with open(dest / "luigi.cfg", "w", encoding="utf-8") as f:
        cfg.write(f)
    return dest


def synthetic_houses(rows: int, *, seed: int = 42) -> pd.DataFrame:
    """``rows`` houses with the shipped table's schema: its rows resampled, numbers jittered."""
    real = pd.read_csv(REPO / RAW)
    rng = np.random.default_rng(seed)
    frame = real.iloc[rng.integers(0, len(real), size=rows)].reset_index(drop=True)
    for column, scale in (("price", 0.05), ("lotsize", 0.05)):
        jitter = rng.normal(1.0, scale, size=rows)
        frame[column] = np.maximum(1, (frame[column] * jitter).round()).astype("int64")
    return frame


def synthetic_csv(work: Path, rows: int, *, seed: int = 42) -> Path:
    """The synthetic raw table as CSV, made once per size and seed under ``work/cache``."""
    path = work / "cache" / f"house-{rows}-seed{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        synthetic_houses(rows, seed=seed).to_csv(tmp, index=False)
        os.replace(tmp, path)
    return path


def remove_run(root: Path, run_id: str) -> None:
    """Delete every folder named ``run_id`` under ``root/data`` (a run's versions and record)."""
    for folder in sorted((root / "data").rglob(run_id), reverse=True):
        if folder.is_dir() and folder.name == run_id:
            shutil.rmtree(folder)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
