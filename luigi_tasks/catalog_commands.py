"""``luigi-tasks catalog list``: every dataset in the catalog, and the nodes that make and read it.

Like ``kedro catalog list``, it also names what the catalog declares but no node uses (often
a typo on one side).

Example (two of the example project's rows)::

    $ luigi-tasks catalog list
    dataset  type                  versioned  filepath                  made by                  read by
    houses   pandas.CSVDataset     -          data/01_raw/house.csv     (raw)                    data_engineering.Pre...
    model    pickle.PickleDataset  yes        data/06_models/model.pkl  data_science.TrainModel  data_science.Predict
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from luigi_tasks.catalog import DatasetEntry
from luigi_tasks.cli_support import MODULE_HELP, guard, load_project, table
from luigi_tasks.datasets import BUILTIN_TYPES
from luigi_tasks.graph import NodeGraph, current_graph
from luigi_tasks.project import Project, is_parameter


@dataclass(frozen=True)
class CatalogRow:
    """One dataset of the catalog as ``luigi-tasks catalog list`` shows it."""

    dataset: str
    type: str
    versioned: bool
    filepath: str
    #: The task family of the node that saves it; ``None`` for a raw input or an unused dataset.
    made_by: str | None
    read_by: tuple[str, ...]

    @property
    def used(self) -> bool:
        return self.made_by is not None or bool(self.read_by)


def catalog_rows(project: Project, graph: NodeGraph) -> list[CatalogRow]:
    """Every dataset of ``project``'s catalog, in catalog order, with the nodes of ``graph``
    that save and load it."""
    readers: dict[str, list[str]] = {}
    for task in graph.upstream:
        for ref in task.node.inputs:
            if not is_parameter(ref):
                readers.setdefault(ref, []).append(task.get_task_family())
    rows = []
    for name in project.catalog:
        entry = project.catalog.entry(name)
        producer = graph.producer(name)
        rows.append(
            CatalogRow(
                dataset=name,
                type=type_name(entry),
                versioned=entry.versioned,
                filepath=_shown_path(entry.filepath, project),
                made_by=producer.get_task_family() if producer is not None else None,
                read_by=tuple(sorted(readers.get(name, ()))),
            )
        )
    return rows


def type_name(entry: DatasetEntry) -> str:
    """The dataset type as the catalog spells a built-in one (``pandas.CSVDataset``), else
    the class's dotted path."""
    ref = entry.type_ref
    if isinstance(ref, str):
        return next((name for name, target in BUILTIN_TYPES.items() if target == ref), ref)
    builtin = f"{ref.__module__}:{ref.__qualname__}"
    return next((name for name, target in BUILTIN_TYPES.items() if target == builtin), builtin.replace(":", "."))


def _shown_path(filepath: str, project: Project) -> str:
    if "://" in filepath:
        return filepath
    relative = os.path.relpath(filepath, project.root)
    return filepath if relative.startswith("..") else relative


def cmd_catalog_list(args: argparse.Namespace) -> int:
    """Print :func:`catalog_rows` as a table, then the datasets no node uses."""
    rows = catalog_rows(load_project(args.module), current_graph())
    lines = [("dataset", "type", "versioned", "filepath", "made by", "read by")]
    for row in rows:
        made_by = row.made_by or ("(raw)" if row.read_by else "-")
        versioned = "yes" if row.versioned else "-"
        lines.append((row.dataset, row.type, versioned, row.filepath, made_by, ", ".join(row.read_by) or "-"))
    print("\n".join(table(lines)))
    unused = [row.dataset for row in rows if not row.used]
    if unused:
        print(f"\nDeclared in the catalog, used by no node: {', '.join(unused)}.")
    return 0


def add_cli(commands: Any) -> None:
    """Add ``catalog list`` to the ``luigi-tasks`` parser."""
    catalog_parser = commands.add_parser("catalog", help="the datasets of the catalog, and the nodes using them")
    catalog_sub = catalog_parser.add_subparsers(title="catalog commands", metavar="ACTION", required=True)
    list_parser = catalog_sub.add_parser("list", help="every dataset: type, path, versioned, made by, read by")
    list_parser.add_argument("--module", help=MODULE_HELP)
    list_parser.set_defaults(func=guard(cmd_catalog_list))
