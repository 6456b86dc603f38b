"""``luigi-tasks runs compare A B``: two runs side by side, from their records alone.

What differs in how they were made (parameters, code version, libraries), what each node
did in each (as recorded: a node is not judged stale here, ``runs show`` does that), and the
numbers their JSON outputs hold (the metrics, in the example project), with the change from
``A`` to ``B``.

Example::

    $ luigi-tasks runs compare exp1 exp2
    ...
    Parameters that differ:
      model.init_args.fit_intercept: (absent) -> False
    ...
    number          exp1    exp2    change
    metrics.r2      0.6213  0.6018  -0.0195
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any

from luigi_tasks import node_records, run_info, run_outputs, runs
from luigi_tasks.cli_support import MODULE_HELP, guard, load_project, number_cell, table
from luigi_tasks.fingerprint import Fingerprint
from luigi_tasks.graph import current_graph
from luigi_tasks.node_records import COMPLETE
from luigi_tasks.pipeline import pipeline_nodes
from luigi_tasks.project import Project
from luigi_tasks.run_commands import explain, state_note

Number = run_outputs.Number


@dataclass(frozen=True)
class RunComparison:
    """Runs ``a`` and ``b``: their ``run.json``, differences, node states and numbers."""

    a: str
    b: str
    infos: tuple[dict[str, Any], dict[str, Any]]
    #: ``key: old -> new`` lines (:func:`luigi_tasks.run_info.parameter_diff`).
    parameters: list[str]
    libraries: list[str]
    #: (task family, note in ``a``, note in ``b``), upstream first.
    nodes: list[tuple[str, str, str]]
    #: (``dataset.key``, value in ``a``, value in ``b``); ``None`` where a run has none.
    numbers: list[tuple[str, Number | None, Number | None]]
    #: ``node: why`` for each node completed in both runs whose fingerprints differ.
    differ: list[str] = field(default_factory=list)
    #: Why a run's saved numbers are not shown (a dataset moved or deleted since).
    unread: list[str] = field(default_factory=list)


def compare_runs(project: Project, a: str, b: str) -> RunComparison:
    """Compare runs ``a`` and ``b`` of ``project``.

    The numbers are those of every versioned JSON dataset (nested keys joined with dots),
    from the version each run's record points at (:func:`luigi_tasks.run_outputs.output_version`:
    another run's, if reused).

    Raises:
        RunError: either run does not exist.
    """
    info_a, info_b = runs.require_run(project, a), runs.require_run(project, b)
    rows_a, rows_b = explain(project, a, staleness=False), explain(project, b, staleness=False)
    # A node added between the runs is in b's rows only: "-" for a.
    by_a, by_b = {row[0]: row for row in rows_a}, {row[0]: row for row in rows_b}
    nodes = [
        (family, state_note(*by_a[family][1:])[1] if family in by_a else "-",
         state_note(*by_b[family][1:])[1] if family in by_b else "-")
        for family in (task.get_task_family() for task in pipeline_nodes())
        if family in by_a or family in by_b
    ]
    unread: list[str] = []
    records_a, records_b = node_records.read_node_records(project, a), node_records.read_node_records(project, b)
    stored = run_info.storage(project)
    values_a = run_outputs.run_numbers(project, info_a, records_a, unread, stored)
    values_b = run_outputs.run_numbers(project, info_b, records_b, unread, stored)
    numbers = [(key, values_a.get(key), values_b.get(key)) for key in dict.fromkeys([*values_a, *values_b])]
    return RunComparison(
        a=a,
        b=b,
        infos=(info_a, info_b),
        parameters=run_info.parameter_diff(info_a.get("parameters") or {}, info_b.get("parameters") or {}),
        libraries=run_info.parameter_diff(info_a.get("libraries") or {}, info_b.get("libraries") or {}),
        nodes=nodes,
        numbers=numbers,
        differ=_differ(records_a, records_b, [family for family, *_ in nodes]),
        unread=unread,
    )


def _differ(
    records_a: dict[str, node_records.NodeRecord], records_b: dict[str, node_records.NodeRecord], families: list[str]
) -> list[str]:
    """Why each node completed in both runs made other results in ``b`` than in ``a``, from
    their recorded fingerprints (code, parameters, catalog options, inputs)."""
    names = {task.get_task_family(): task.node.func_name for task in current_graph().upstream}
    lines = []
    for family in families:
        ra, rb = records_a.get(family), records_b.get(family)
        if not (ra and rb and ra.fingerprint and rb.fingerprint and ra.status in COMPLETE and rb.status in COMPLETE):
            continue
        old, new = Fingerprint.from_dict(ra.fingerprint), Fingerprint.from_dict(rb.fingerprint)
        why = new.explain_change(old, names.get(family, family))
        if why:
            lines.append(f"{family}: {why}")
    return lines


def _change(old: Number | None, new: Number | None) -> str:
    if old is None or new is None or not (math.isfinite(old) and math.isfinite(new)):
        return "-"
    return f"{new - old:+.6g}"


def render(c: RunComparison) -> list[str]:
    """The lines ``luigi-tasks runs compare`` prints."""
    (info_a, info_b) = c.infos
    lines = table([
        ("", c.a, c.b),
        ("created", str(info_a.get("created", "-")), str(info_b.get("created", "-"))),
        ("code", info_a.get("code_version") or "unknown", info_b.get("code_version") or "unknown"),
        ("reuse from", info_a.get("reuse_from") or "-", info_b.get("reuse_from") or "-"),
    ])
    for title, diff in (("Parameters", c.parameters), ("Libraries", c.libraries)):
        lines += ["", f"{title} that differ:" if diff else f"{title}: the same."]
        lines += [f"  {line}" for line in diff]
    lines += ["", *table([("node", c.a, c.b), *c.nodes])]
    if c.differ:
        lines += ["", f"Why nodes made other results in {c.b}:", *(f"  {line}" for line in c.differ)]
    if c.numbers:
        lines += ["", *table([("number", c.a, c.b, "change"),
                               *((key, number_cell(x), number_cell(y), _change(x, y)) for key, x, y in c.numbers)])]
    elif not c.unread:
        lines += ["", "No numbers to compare: neither run has a versioned JSON output holding numbers."]
    if c.unread:
        lines += ["", "Numbers not shown:", *(f"  {line}" for line in c.unread)]
    return lines


def cmd_compare(args: argparse.Namespace) -> int:
    """Print :func:`render` of runs ``args.a`` and ``args.b``."""
    project = load_project(args.module)
    a, b = (runs.named_run(project, r) for r in (args.a, args.b))
    print("\n".join(render(compare_runs(project, a, b))))
    return 0


def add_cli(runs_commands: Any) -> None:
    """Add ``runs compare`` to the ``luigi-tasks runs`` sub-commands."""
    compare = runs_commands.add_parser(
        "compare", help="two runs side by side: parameters, code, each node, the numbers of their JSON outputs"
    )
    compare.add_argument("a", metavar="RUN_A", help="a run id (or latest), e.g. the earlier run")
    compare.add_argument("b", metavar="RUN_B", help="another run id (or latest); each change is B's value minus A's")
    compare.add_argument("--module", help=MODULE_HELP)
    compare.set_defaults(func=guard(cmd_compare))
