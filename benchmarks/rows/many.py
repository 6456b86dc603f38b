"""Many nodes: generated chain and fan-in pipelines, luigi-tasks vs bare Luigi (<= 1.10x), ms per node."""

from __future__ import annotations

from pathlib import Path

from benchmarks import trivial
from benchmarks.context import Context, luigi, process
from benchmarks.generate import bare_project, luigi_tasks_project
from benchmarks.measure import Contender, interleave
from benchmarks.results import Finding, Goal, Series, paired

LUIGI_TASKS = "benchmarks.nodes_luigi_tasks"
BARE = "benchmarks.nodes_bare"


def projects(ctx: Context, shape: str, n: int, row: str) -> tuple[Path, Path]:
    """The luigi-tasks project (catalog declaring the pipeline's datasets) and the bare one."""
    base = ctx.work / row / f"{shape}-{n}"
    lt = luigi_tasks_project(base / "luigi-tasks", catalog=trivial.catalog(shape, n))
    return lt, bare_project(base / "bare")


def contenders(lt: Path, bare: Path, shape: str, n: int, *extra: str, keep: bool = False) -> dict[str, Contender]:
    """Both implementations of the ``shape`` pipeline of ``n`` nodes."""
    env = trivial.env(shape, n)
    return {
        "lt": process(luigi(LUIGI_TASKS, "Pipeline", *extra), lt, env, keep=keep),
        "bare": process(luigi(BARE, "Pipeline", *extra), bare, env, keep=keep),
    }


def many_nodes(ctx: Context) -> list[Finding]:
    """The many-nodes row: every shape at every size."""
    findings = []
    for n in ctx.settings.node_counts:
        for shape in trivial.SHAPES:
            lt, bare = projects(ctx, shape, n, "many")
            runs = interleave(contenders(lt, bare, shape, n, "--local-scheduler"), ctx.rounds_for(n))
            findings.append(
                paired(
                    "many nodes",
                    f"{shape} of {n}: luigi-tasks / bare Luigi",
                    Series("luigi-tasks", runs["lt"], nodes=n),
                    Series("bare Luigi", runs["bare"], nodes=n),
                    goal=Goal(1.10, "x"),
                )
            )
    return findings
