"""No-op rerun: the chain of ``noop_nodes`` nodes, complete, run again (<= 0.1 s beyond process start).

"Process start" is measured, in the same rounds, as ``python -c "import luigi.cmdline,
luigi_tasks"``: starting the interpreter and importing what the ``luigi`` command imports
before it does anything (for bare Luigi: ``import luigi.cmdline``). The result is the
rerun's wall time minus that, round by round: reading luigi.cfg, building the node classes,
resolving the graph and catalog, checking every output, scheduling, and exiting.
"""

from __future__ import annotations

from benchmarks.context import PYTHON, Context, process
from benchmarks.measure import interleave, run_tag
from benchmarks.results import Finding, Goal, Series, paired
from benchmarks.rows.many import contenders, projects


def noop_rerun(ctx: Context) -> list[Finding]:
    """The no-op rerun row."""
    n = ctx.settings.noop_nodes
    lt, bare = projects(ctx, "chain", n, "noop")
    run_id = run_tag("complete")
    first = contenders(lt, bare, "chain", n, "--local-scheduler", keep=True)
    for run in first.values():
        run(run_id)
    again = contenders(lt, bare, "chain", n, "--local-scheduler", keep=True)
    runs = interleave(
        {
            "lt": lambda _: again["lt"](run_id),
            "ltstart": process(lambda _: [PYTHON, "-c", "import luigi.cmdline, luigi_tasks"], lt, keep=True),
            "bare": lambda _: again["bare"](run_id),
            "barestart": process(lambda _: [PYTHON, "-c", "import luigi.cmdline"], bare, keep=True),
        },
        ctx.settings.rounds,
        warmup=ctx.settings.warmup,
    )
    rerun, bare_rerun = Series("rerun", runs["lt"]), Series("bare rerun", runs["bare"])

    def line(what: str, subject: Series, reference: Series, goal: Goal | None = None) -> Finding:
        return paired("no-op rerun", f"chain of {n}, complete: {what}", subject, reference, goal=goal, how="minus")

    return [
        line("luigi-tasks rerun - process start", rerun, Series("start", runs["ltstart"]), Goal(0.1, " s")),
        line("bare Luigi rerun - process start", bare_rerun, Series("start", runs["barestart"])),
        line("luigi-tasks rerun - bare Luigi rerun (what luigi-tasks adds)", rerun, bare_rerun),
    ]
