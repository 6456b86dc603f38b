"""The house pipeline, whole processes: luigi-tasks vs a plain script (and bare Luigi, a minimal script).

- small: the shipped 546-row table; luigi-tasks vs the plain script (<= 1.12x) and vs
  the same pipeline on bare Luigi (within 3%).
- large: a seeded synthetic table of ``large_rows`` rows; luigi-tasks vs the plain script
  (<= 1.05x), and vs a minimal script persisting only what a user keeps.
"""

from __future__ import annotations

from benchmarks.context import Context, luigi, process, python
from benchmarks.generate import bare_project, luigi_tasks_project, synthetic_csv
from benchmarks.measure import interleave
from benchmarks.results import Finding, Goal, Series, paired

LUIGI_TASKS = luigi("luigi_tasks.pipelines", "FullPipeline", "--local-scheduler")
BARE = luigi("benchmarks.bare_luigi", "FullPipeline", "--local-scheduler")
PLAIN = python("-m", "benchmarks.plain_script")
MINIMAL = python("-m", "benchmarks.plain_script", "--minimal")


def small(ctx: Context) -> list[Finding]:
    """The small row."""
    lt = luigi_tasks_project(ctx.work / "small" / "luigi-tasks")
    bare = bare_project(ctx.work / "small" / "bare")
    runs = interleave(
        {"lt": process(LUIGI_TASKS, lt), "bare": process(BARE, bare), "plain": process(PLAIN, bare)},
        ctx.settings.rounds,
        warmup=ctx.settings.warmup,
    )
    s_lt, s_bare, s_plain = (
        Series("luigi-tasks", runs["lt"]), Series("bare Luigi", runs["bare"]), Series("plain script", runs["plain"])
    )
    return [
        paired("small", "546 rows: luigi-tasks / plain script", s_lt, s_plain, goal=Goal(1.12, "x")),
        paired("small", "546 rows: luigi-tasks / bare Luigi", s_lt, s_bare, goal=Goal(1.03, "x")),
        paired("small", "546 rows: bare Luigi / plain script", s_bare, s_plain),
    ]


def large(ctx: Context) -> list[Finding]:
    """The large row."""
    rows = ctx.settings.large_rows
    raw = synthetic_csv(ctx.work, rows)
    lt = luigi_tasks_project(ctx.work / "large" / "luigi-tasks", raw=raw)
    plain = bare_project(ctx.work / "large" / "plain", raw=raw)
    runs = interleave(
        {"lt": process(LUIGI_TASKS, lt), "plain": process(PLAIN, plain), "minimal": process(MINIMAL, plain)},
        ctx.settings.heavy_rounds,
    )
    s_lt, s_plain, s_min = (
        Series("luigi-tasks", runs["lt"]),
        Series("plain script", runs["plain"]),
        Series("minimal script", runs["minimal"]),
    )
    what = f"{rows:,} rows"
    return [
        paired("large", f"{what}: luigi-tasks / plain script", s_lt, s_plain, goal=Goal(1.05, "x")),
        paired("large", f"{what}: luigi-tasks / minimal script", s_lt, s_min),
        paired("large", f"{what}: plain script / minimal script", s_plain, s_min),
    ]
