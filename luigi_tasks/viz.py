"""``luigi-tasks viz``: the pipeline as a diagram of nodes and the datasets between them.

It prints Mermaid, which GitHub and GitLab draw inside markdown, or Graphviz DOT
(``dot -Tsvg``). Nodes are grouped by their Luigi namespace (their pipeline), each dataset
sits in the group of the node that makes it, and raw inputs stand outside. Parameters are
left out, as in Kedro-Viz. With ``--run-id`` each node is coloured and labelled with its
state in that run, in the words of ``luigi-tasks runs show``.

Example::

    $ luigi-tasks viz
    flowchart LR
      d0[("houses")]
      subgraph g1 ["data_engineering"]
        n0["PreprocessHouses"]
      ...
      d0 --> n0
    $ luigi-tasks viz --run-id exp1 --format dot | dot -Tsvg > exp1.svg
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import luigi
from luigi.task_register import Register, TaskClassException

from luigi_tasks import runs
from luigi_tasks.cli_support import MODULE_HELP, guard, load_project
from luigi_tasks.errors import PipelineError
from luigi_tasks.graph import NodeGraph, current_graph
from luigi_tasks.node import NodeTask
from luigi_tasks.pipeline import PipelineTask, node_classes
from luigi_tasks.project import Project, is_parameter
from luigi_tasks.run_commands import explain, state_note

#: Fill and border colour of a node by its state in a run (``None``: no run asked for).
COLOURS: dict[str | None, tuple[str, str]] = {
    None: ("#ffffff", "#555555"),
    "ran": ("#c8e6c9", "#2e7d32"),
    "reused": ("#bbdefb", "#1565c0"),
    "running": ("#fff9c4", "#f9a825"),
    "stale": ("#ffe0b2", "#ef6c00"),
    "outputs gone": ("#ffe0b2", "#ef6c00"),
    "stored elsewhere": ("#ffe0b2", "#ef6c00"),
    "failed": ("#ffcdd2", "#c62828"),
    "interrupted": ("#ffcdd2", "#c62828"),
    "not run": ("#eeeeee", "#9e9e9e"),
    "invalidated": ("#eeeeee", "#9e9e9e"),
}
_DATASET_COLOURS = ("#f5f5f5", "#9e9e9e")


@dataclass(frozen=True)
class DiagramNode:
    """One node as drawn: its task family, group, datasets and (with a run) its state."""

    family: str
    group: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: A key of :data:`COLOURS`.
    state: str | None = None
    #: A second line under the name: the state, and how long it ran, where it was reused
    #: from, or why it failed or is stale.
    note: str = ""

    @property
    def label(self) -> str:
        return self.family.rpartition(".")[2]


@dataclass(frozen=True)
class Diagram:
    """Nodes upstream first; every dataset they read or write is in :attr:`group_of`."""

    nodes: tuple[DiagramNode, ...]
    #: Dataset -> the group of the node that makes it; ``""`` for a raw input.
    group_of: dict[str, str] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return list(self.group_of)


def diagram(project: Project, graph: NodeGraph, *, pipeline: str | None = None, run_id: str | None = None) -> Diagram:
    """The nodes of ``graph`` (those ``pipeline`` needs, if given) as a :class:`Diagram`,
    in the states of run ``run_id`` if given.

    Raises:
        PipelineError: ``pipeline`` is neither a pipeline nor a node task.
        RunError: run ``run_id`` does not exist.
    """
    tasks = graph.closure_of(node_classes(_task_class(pipeline)) if pipeline else list(graph.upstream))
    states = {row[0]: row[1:] for row in explain(project, run_id)} if run_id else {}
    nodes = []
    group_of: dict[str, str] = {}
    for task in tasks:
        family = task.get_task_family()
        group = task.get_task_namespace() or ""
        # A transcoded input (x@arrow) is drawn as the dataset its producer saves (x@pandas).
        inputs = tuple(dict.fromkeys(graph.made_as(ref) for ref in task.node.inputs if not is_parameter(ref)))
        for ref in inputs:
            group_of.setdefault(ref, "")  # a raw input: a made one was set by its (earlier) maker
        for ref in task.node.outputs:
            group_of[ref] = group
        state, note = state_note(*states[family]) if family in states else (None, "")
        nodes.append(DiagramNode(family, group, inputs, tuple(task.node.outputs), state, note))
    return Diagram(tuple(nodes), group_of)


def _task_class(name: str) -> type[luigi.Task]:
    try:
        task_class: type[luigi.Task] | None = Register.get_task_cls(name)
    except TaskClassException:
        task_class = None
    if task_class is None or not issubclass(task_class, (PipelineTask, NodeTask)):
        problem = f"No pipeline or node task called '{name}'."
    elif not node_classes(task_class):  # PipelineTask itself, or a pipeline with empty parts
        problem = f"Pipeline '{name}' has no nodes."
    else:
        return task_class
    known = [n for n in Register.task_names() if _is_pipeline(n)]
    raise PipelineError(
        f"{problem} Pipelines: {', '.join(known) or 'none'}; or give a node's task family "
        "(data_science.TrainModel)."
    )


def _is_pipeline(name: str) -> bool:
    try:
        task_class = Register.get_task_cls(name)
    except TaskClassException:  # a name two classes share
        return False
    return issubclass(task_class, PipelineTask) and bool(task_class.parts)


def to_mermaid(d: Diagram) -> str:
    """``d`` as a Mermaid flowchart, left to right."""
    ids = _ids(d)
    lines = ["flowchart LR"]
    for number, group in enumerate(_groups(d)):
        inner = "    " if group else "  "
        if group:
            lines.append(f'  subgraph g{number} ["{_mermaid_text(group)}"]')
        for n in d.nodes:
            if n.group == group:
                text = _mermaid_text(n.label) + (f"<br/>{_mermaid_text(n.note)}" if n.note else "")
                lines.append(f'{inner}{ids[n.family]}["{text}"]')
        for name in d.datasets:
            if d.group_of[name] == group:
                lines.append(f'{inner}{ids[name]}[("{_mermaid_text(name)}")]')
        if group:
            lines.append("  end")
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in _edges(d)]
    used = {n.state for n in d.nodes}
    for state, (fill, stroke) in COLOURS.items():
        if state in used:
            lines.append(f"  classDef {_class(state)} fill:{fill},stroke:{stroke},color:#000")
    lines.append(f"  classDef dataset fill:{_DATASET_COLOURS[0]},stroke:{_DATASET_COLOURS[1]},color:#000")
    for state in COLOURS:
        members = [ids[n.family] for n in d.nodes if n.state == state]
        if members:
            lines.append(f"  class {','.join(members)} {_class(state)}")
    if d.datasets:
        lines.append(f"  class {','.join(ids[name] for name in d.datasets)} dataset")
    return "\n".join(lines) + "\n"


def to_dot(d: Diagram) -> str:
    """``d`` as a Graphviz digraph, left to right."""
    ids = _ids(d)
    lines = ["digraph pipeline {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    for number, group in enumerate(_groups(d)):
        inner = "    " if group else "  "
        if group:
            lines.append(f'  subgraph "cluster_{number}" {{')
            lines.append(f'    label={_dot_text(group)}; style="rounded"; color="#9e9e9e";')
        for n in d.nodes:
            if n.group == group:
                fill, stroke = COLOURS.get(n.state, COLOURS[None])
                label = n.label + (f"\n{n.note}" if n.note else "")
                lines.append(
                    f'{inner}"{ids[n.family]}" [label={_dot_text(label)}, tooltip={_dot_text(n.family)}, '
                    f'shape=box, style="rounded,filled", fillcolor="{fill}", color="{stroke}"];'
                )
        for name in d.datasets:
            if d.group_of[name] == group:
                fill, stroke = _DATASET_COLOURS
                lines.append(
                    f'{inner}"{ids[name]}" [label={_dot_text(name)}, shape=cylinder, style=filled, '
                    f'fillcolor="{fill}", color="{stroke}"];'
                )
        if group:
            lines.append("  }")
    lines += [f'  "{ids[a]}" -> "{ids[b]}";' for a, b in _edges(d)]
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Diagram], str]] = {"mermaid": to_mermaid, "dot": to_dot}


def _ids(d: Diagram) -> dict[str, str]:
    """Short identifiers: dataset and node names may hold characters neither format allows."""
    ids = {n.family: f"n{i}" for i, n in enumerate(d.nodes)}
    ids.update((name, f"d{i}") for i, name in enumerate(d.datasets))
    return ids


def _groups(d: Diagram) -> list[str]:
    """Raw inputs (group ``""``) first, then each namespace in node order."""
    return ["", *dict.fromkeys(n.group for n in d.nodes if n.group)]


def _edges(d: Diagram) -> list[tuple[str, str]]:
    edges = []
    for n in d.nodes:
        edges += [(name, n.family) for name in n.inputs]
        edges += [(n.family, name) for name in n.outputs]
    return edges


def _class(state: str | None) -> str:
    return (state or "task").replace(" ", "_")


def _mermaid_text(text: str) -> str:
    # Mermaid reads entity codes inside quoted labels; '#' first, as it starts them.
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def cmd_viz(args: argparse.Namespace) -> int:
    """Print the diagram of ``--pipeline`` (default: every node) in ``--format``."""
    project = load_project(args.module)
    run_id = runs.named_run(project, args.run_id) if args.run_id else None
    d = diagram(project, current_graph(), pipeline=args.pipeline, run_id=run_id)
    print(FORMATS[args.format](d), end="")
    return 0


def add_cli(commands: Any) -> None:
    """Add ``viz`` to the ``luigi-tasks`` parser."""
    parser = commands.add_parser("viz", help="the pipeline as a Mermaid or Graphviz diagram (optionally of one run)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="mermaid",
                        help="mermaid (drawn by GitHub and GitLab markdown) or dot (Graphviz); default mermaid")
    parser.add_argument("--pipeline", metavar="TASK",
                        help="only the nodes this pipeline (FullPipeline) or node task (data_science.TrainModel) needs")
    parser.add_argument("--run-id", help="colour each node by its state in this run (latest: the newest run)")
    parser.add_argument("--module", help=MODULE_HELP)
    parser.set_defaults(func=guard(cmd_viz))

