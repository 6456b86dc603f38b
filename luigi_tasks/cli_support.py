"""What every ``luigi-tasks`` command shares: the ``--module`` option, loading the project
through it, and printing a luigi-tasks error as one line.

Example::

    parser.add_argument("--module", help=MODULE_HELP)
    parser.set_defaults(func=guard(cmd_show))   # cmd_show calls load_project(args.module)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import luigi

from luigi_tasks import graph
from luigi_tasks.config import require_own_code
from luigi_tasks.errors import ConfigError, LuigiTasksError
from luigi_tasks.project import Project, current_project

DEFAULT_MODULE = "luigi_tasks.pipelines"
MODULE_HELP = f"the module defining the pipelines (default: luigi.cfg [core] module, else {DEFAULT_MODULE})"


def guard(func: Any) -> Any:
    """``func`` as a command: a luigi-tasks error is printed as one line, exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except LuigiTasksError as exc:
            print(f"luigi-tasks: error: {exc}", file=sys.stderr)
            return 2

    return run


def load_project(module: str | None) -> Project:
    """Import the pipelines ``module`` (default: luigi.cfg ``[core] module``); the current project.

    Raises:
        ConfigError: the module cannot be found, or no node was made by importing it.
    """
    project = current_project()  # first: from a subfolder, it reads the project's luigi.cfg ([core] module)
    name = module or luigi.configuration.get_config().get("core", "module", DEFAULT_MODULE)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
            raise  # the module exists; something it imports is missing: the traceback tells what
        raise ConfigError(
            f"No module named '{name}' (from --module, else luigi.cfg [core] module). Give the module "
            "defining the pipelines; it must be importable (installed, or its folder on PYTHONPATH)."
        ) from None
    if not graph.registered():  # a command would print an empty table or diagram
        raise ConfigError(
            f"Module '{name}' (from --module, else luigi.cfg [core] module) defines no nodes. Give the "
            f"module defining the pipelines, the one you run with `luigi --module` ({DEFAULT_MODULE} "
            "in the example project)."
        )
    require_own_code(project.root, name)
    if module is None and name == DEFAULT_MODULE and not _inside(sys.modules[name], project.root):
        try:
            graph.current_graph()
        except LuigiTasksError as exc:  # nearly always: the example's nodes in another project
            raise type(exc)(
                f"{exc} (The nodes are the example's, {DEFAULT_MODULE}: with no --module and no luigi.cfg "
                "[core] module, the luigi-tasks commands read those. Give --module <your pipelines module>, "
                "or set module = <it> under [core] in luigi.cfg.)"
            ) from None
    return project


def _inside(module: types.ModuleType, root: Path) -> bool:
    """Whether ``module`` was loaded from a file under ``root`` (the project's own nodes)."""
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().is_relative_to(root.resolve())


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """``rows`` as text lines, columns two spaces apart and padded to their widest cell; the
    last column is not padded (no trailing blanks)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows]


def number_cell(value: float | None) -> str:
    """A number as a table shows it: six significant digits, ``-`` for none."""
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
