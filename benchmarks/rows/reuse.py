"""Reuse: a new run that changes one model parameter and reuses the previous run (<= 40% of the full run).

Needs ``--reuse-from`` (the runs issue), which is looked for in ``FullPipeline --help``.
"""

from __future__ import annotations

import subprocess

from benchmarks.context import LUIGI, Context, env
from benchmarks.generate import luigi_tasks_project
from benchmarks.results import Finding, Goal

FLAG = "--reuse-from"


def has_reuse_from(ctx: Context) -> bool:
    """Whether ``luigi --module luigi_tasks.pipelines FullPipeline --help`` offers ``--reuse-from``."""
    project = luigi_tasks_project(ctx.work / "reuse")
    out = subprocess.run(
        [LUIGI, "--module", "luigi_tasks.pipelines", "FullPipeline", "--help"],
        cwd=project, env=env(), capture_output=True, text=True, timeout=120,
    )
    return FLAG in out.stdout + out.stderr


def reuse(ctx: Context) -> list[Finding]:
    """The reuse row (pending until luigi-tasks has ``--reuse-from``)."""
    comparison = f"{ctx.settings.large_rows:,} rows, one model parameter changed: reuse run / full run"
    if not has_reuse_from(ctx):
        # TODO(issue 6): once `FullPipeline --help` lists --reuse-from, time per round
        # (interleaved): a full run R_i, then, with config/local/parameters.yml changing
        # one model parameter (model.init_args.fit_intercept: false), the run
        # `FullPipeline --run-id R_i-reuse --reuse-from R_i`; report reuse / full
        # (goal <= 0.40x) as in recovery.py.
        return [Finding("reuse", comparison, None, None, [], "x", Goal(0.40, "x"), pending="pending: needs --reuse-from")]
    return [
        Finding(
            "reuse", comparison, None, None, [], "x", Goal(0.40, "x"),
            pending="pending: --reuse-from exists now; its measurement is not written yet (see TODO in rows/reuse.py)",
        )
    ]
