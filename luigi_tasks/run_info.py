"""``run.json``: what a run was started with, written once when it is created.

It holds the effective parameters, where and how each dataset is stored, the code
version (git commit), library versions, the run it reuses from and the command. A later
process of the same run id is checked against it: one run is one experiment (the same
parameters) kept in one place (the same catalog entries).

Example:
    >>> info = create_or_check_run(project, "exp1", None, read_run_info(project, "exp1"))
    >>> parameter_diff(info["parameters"], project.parameters)   # [] for the same experiment
"""

from __future__ import annotations

import os
import platform
import posixpath
import subprocess
import sys
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime, timezone
from typing import Any

from luigi_tasks.datasets import filesystem
from luigi_tasks.errors import RunError, VersionExistsError
from luigi_tasks.project import Project
from luigi_tasks.run_params import RECORD_KEY
from luigi_tasks.storage import list_names, local_cache_path, read_cached, read_json, write_cached, write_json
from luigi_tasks.versioning import LATEST, RUN_ID_RE, validate_run_id

RUN_FILE = "run.json"


def now() -> str:
    """The current UTC time as the records write it (ISO 8601, milliseconds)."""
    return datetime.now(tz=timezone.utc).isoformat(timespec="milliseconds")


def run_dir(project: Project, run_id: str) -> str:
    """The folder holding run ``run_id``'s record."""
    return posixpath.join(project.runs_dir, validate_run_id(run_id))


def read_run_info(project: Project, run_id: str) -> dict[str, Any] | None:
    """The run's ``run.json``, or ``None`` if the run was never started."""
    return read_json(posixpath.join(run_dir(project, run_id), RUN_FILE))


def remove_record(project: Project, run_id: str, *, dry_run: bool = False) -> str:
    """Delete run ``run_id``'s record folder (``run.json`` and its node records); return it."""
    folder = run_dir(project, run_id)
    if not dry_run:
        fs, path = filesystem.resolve(folder)
        fs.rm(path, recursive=True)
    return folder


def list_runs(project: Project) -> list[dict[str, Any]]:
    """Every run's ``run.json``, oldest first."""
    names = [n for n in list_names(project.runs_dir) if RUN_ID_RE.fullmatch(n) and n.lower() != LATEST]
    infos = [read_run_info(project, n) for n in names]
    return sorted((i for i in infos if i), key=lambda i: (i.get("created", ""), i["run_id"]))


def _code_version(project: Project) -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project.root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=project.root, capture_output=True, text=True, timeout=10,
        )
        # Edited tracked files, and new Python files (a helper module not committed yet: the
        # commit alone would not run the pipeline). Other new files (notes, outputs) do not count.
        changed = [line for line in status.stdout.splitlines() if not line.startswith("??") or line.endswith(".py")]
        return commit.stdout.strip() + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _libraries(project: Project) -> dict[str, str]:
    """The versions of Python and the core libraries; cached while no import folder changes
    (an install or upgrade changes its folder's mtime), as looking them up costs ~10 ms."""
    key = {"python": sys.executable, "version": sys.version, "path": [[p, _mtime_ns(p)] for p in sys.path]}
    cache = local_cache_path(project.runs_dir, "libraries.json")
    if cache and isinstance(cached := read_cached(cache, key), dict):
        return cached
    from importlib import metadata  # not at the top: importing it costs every command 6 ms

    out = {"python": platform.python_version()}
    for name in ("luigi-tasks", "luigi", "pandas", "pyarrow", "scikit-learn", "fsspec"):
        with suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    if cache:
        write_cached(cache, key, out)
    return out


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b": value}``."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data} if prefix else {}


def parameter_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines like ``split.test_size: 0.2 -> 0.3`` for every parameter that differs.

    An empty mapping that the other side fills in (``init_args: {}`` against
    ``init_args: {alpha: 0.5}``) is not a line of its own: the keys under it say it all.
    """
    a, b = flatten(old), flatten(new)
    keys = sorted(set(a) | set(b))
    missing = object()

    def filled_in(key: str) -> bool:
        return {} in (a.get(key), b.get(key)) and any(k.startswith(key + ".") for k in keys)

    return [
        f"{key}: {_show(a.get(key, missing), missing)} -> {_show(b.get(key, missing), missing)}"
        for key in keys
        if a.get(key, missing) != b.get(key, missing) and not filled_in(key)
    ]


def _show(value: Any, missing: object) -> str:
    return "(absent)" if value is missing else repr(value) if isinstance(value, str) else str(value)


def create_or_check_run(
    project: Project,
    run_id: str,
    reuse_from: str | None,
    info: dict[str, Any] | None,
    parameters: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create run ``run_id``'s ``run.json``, or check that the existing one, ``info`` (as the
    caller read it), has our parameters and catalog. ``parameters`` are the run's (the
    project's by default), ``params`` the ``--params`` that set some of them.

    Raises:
        RunError: the run exists with other parameters or catalog entries (the message lists
            each difference).
    """
    parameters = project.parameters if parameters is None else parameters
    if info is None:
        info = {
            "run_id": run_id,
            "created": now(),
            "parameters": parameters,
            RECORD_KEY: params or {},
            "catalog": storage(project),
            "code_version": _code_version(project),
            "libraries": _libraries(project),
            "reuse_from": reuse_from,
            "command": " ".join(sys.argv),
        }
        try:
            write_json(posixpath.join(run_dir(project, run_id), RUN_FILE), info, overwrite=False)
        except VersionExistsError:  # another worker created it first: check against theirs
            info = read_run_info(project, run_id) or info
        except OSError as exc:
            raise RunError(
                f"Run '{run_id}' cannot be recorded in {run_dir(project, run_id)}: {exc.strerror or exc}. "
                f"Make {project.runs_dir} a folder you can write to (permissions, free disk); nothing ran."
            ) from None
    diff = parameter_diff(info.get("parameters") or {}, parameters)
    if diff:
        raise RunError(
            f"Run '{run_id}' was started with other parameters; one run is one experiment, "
            "so it cannot continue with these:\n  " + "\n  ".join(diff) + "\nStart a new run "
            f"instead: --run-id <new id> (add --reuse-from {run_id} to reuse what did not change)."
        )
    check_catalog(project, info, "it cannot continue with these")
    return info


def check_catalog(project: Project, info: dict[str, Any], consequence: str, names: Iterable[str] | None = None) -> None:
    """Refuse when the catalog now stores a dataset of run ``info`` (any, or one of ``names``)
    elsewhere or otherwise than when the run was created; ``consequence`` says what is refused.

    Raises:
        RunError: naming each such dataset, where it was and where it now points.
    """
    moved = moved_datasets(project, info, names)
    if moved:
        raise RunError(
            f"Run '{info['run_id']}' was started with other catalog entries for these datasets; its "
            f"outputs must stay where and as it saved them, so {consequence}:\n  "
            + "\n  ".join(f"{n}: was {was}, now {now}" for n, (was, now) in moved.items())
            + "\nRestore those entries (config/catalog.yml, "
            f"config/{project.env}/catalog.yml), or start a new run: --run-id <new id>."
        )


def moved_datasets(
    project: Project, info: dict[str, Any], names: Iterable[str] | None = None
) -> dict[str, tuple[str, str]]:
    """The datasets of run ``info`` (any, or those of ``names``) that the catalog now stores
    elsewhere or otherwise than when the run was created: name -> (then, now), by name."""
    recorded = info.get("catalog") or {}  # runs made before it was recorded: nothing to check
    wanted = recorded if names is None else [n for n in names if n in recorded]
    now = {n: _storage_of(project, n) for n in wanted if n in project.catalog}
    return {n: (recorded[n], now[n]) for n in sorted(now) if now[n] != recorded[n]}


def storage(project: Project) -> dict[str, str]:
    """Per dataset, where and how it is stored, as :func:`check_catalog` shows it: its type,
    its filepath (relative to the project root, so a moved checkout keeps its runs) and
    whether it is versioned (``PickleDataset at data/06_models/model.pkl, versioned``)."""
    return {name: _storage_of(project, name) for name in project.catalog}


def recorded_filepath(project: Project, where: str) -> str | None:
    """The filepath of a versioned dataset as :func:`storage` recorded it (``where``), made
    absolute again; ``None`` for an unversioned one."""
    if not where.endswith(", versioned"):
        return None
    path = where.partition(" at ")[2].removesuffix(", versioned")
    return path if "://" in path or posixpath.isabs(path) else posixpath.join(project.root.as_posix(), path)


def _storage_of(project: Project, name: str) -> str:
    entry = project.catalog.entry(name)
    cls = entry.type_ref  # a built-in's "module:Class", or a user's class
    kind = cls.rpartition(":")[2] if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    path = entry.filepath.removeprefix(project.root.as_posix() + "/")
    return f"{kind} at {path}{', versioned' if entry.versioned else ''}"
