"""The house pipeline without luigi-tasks: its node functions, dataset paths and file I/O.

Shared by the plain script and the bare-Luigi pipeline, which must do the same reads,
work and writes as the example project but pay for neither luigi-tasks nor (for the
plain script) Luigi. So the example's node functions are loaded from their files with a
stand-in ``luigi_tasks`` module whose ``node()`` does nothing: the work is the same code.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import posixpath
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

PIPELINE_MODULES = ("data_engineering", "data_science")


def node_functions() -> types.SimpleNamespace:
    """The functions of ``luigi_tasks/pipelines/{data_engineering,data_science}.py``.

    Loaded without importing ``luigi_tasks`` (nor Luigi): the modules only need
    ``luigi_tasks.node``, stubbed for the time of the load.
    """
    spec = importlib.util.find_spec("luigi_tasks")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("luigi_tasks is not installed: pip install -e . from the repository root")
    folder = Path(next(iter(spec.submodule_search_locations))) / "pipelines"
    real = sys.modules.get("luigi_tasks")
    stub = types.ModuleType("luigi_tasks")
    stub.node = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    sys.modules["luigi_tasks"] = real or stub
    functions: dict[str, Any] = {}
    try:
        for name in PIPELINE_MODULES:
            mod_spec = importlib.util.spec_from_file_location(f"_bench_{name}", folder / f"{name}.py")
            assert mod_spec and mod_spec.loader
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
            functions.update(vars(module))
    finally:
        if real is None:
            del sys.modules["luigi_tasks"]
    return types.SimpleNamespace(**functions)


def dataset_paths(root: Path, run_id: str) -> dict[str, str]:
    """Where each dataset of ``config/catalog.yml`` lives for ``run_id`` (Kedro's layout)."""
    catalog = yaml.safe_load((root / "config" / "catalog.yml").read_text())
    paths = {}
    for name, entry in catalog.items():
        path = (root / entry["filepath"]).as_posix()
        paths[name] = versioned(path, run_id) if entry.get("versioned") else path
    return paths


def parameters(root: Path) -> dict[str, Any]:
    """``config/parameters.yml``."""
    return yaml.safe_load((root / "config" / "parameters.yml").read_text()) or {}


def versioned(filepath: str, run_id: str) -> str:
    """``<filepath>/<run_id>/<basename>``, as the catalog stores a versioned dataset."""
    return posixpath.join(filepath, run_id, posixpath.basename(filepath))


def read(path: str) -> Any:
    """Read a CSV, Parquet, pickle or JSON file as the example's catalog does."""
    if path.endswith(".csv"):
        return pd.read_csv(path)
    if path.endswith(".parquet"):
        return pd.read_parquet(path, engine="pyarrow")
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 - the model this script saved itself


def write(path: str, value: Any, *, like: str | None = None) -> None:
    """Write ``value`` to ``path``, in the format of the suffix of ``like`` (default ``path``)."""
    kind = like or path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if kind.endswith(".parquet"):
        value.to_parquet(path, engine="pyarrow")
    elif kind.endswith(".json"):
        Path(path).write_text(json.dumps(value, indent=2, sort_keys=True), encoding="utf-8")
    else:
        Path(path).write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
