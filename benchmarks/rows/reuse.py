"""Reuse: a new run that changes one model parameter and reuses the previous run (<= 40% of the full run).

Each round times a full run ``full-<i>`` of the ``large_rows``-row project, then (with
``config/local/parameters.yml`` changing one model parameter, ``fit_intercept: false``)
``FullPipeline --run-id reuse-<i> --reuse-from full-<i>``, which should run only the
data-science nodes. The full run must come first, so this row's order does not rotate.
Needs ``--reuse-from`` (looked for in ``FullPipeline --help``); pending without it.
"""

from __future__ import annotations

import copy
import subprocess

import yaml

from benchmarks.context import LUIGI, PYTHON, Context, env
from benchmarks.generate import REPO, luigi_tasks_project, remove_run, settle, synthetic_csv
from benchmarks.measure import Sample, run_process, run_tag
from benchmarks.results import Finding, Goal, Series, paired
from benchmarks.rows.house import LUIGI_TASKS

FLAG = "--reuse-from"
#: A process that only imports what the rerun nodes (train, predict, evaluate) need.
FLOOR = [PYTHON, "-c", "import luigi.cmdline, luigi_tasks, pandas, pyarrow.parquet, sklearn.linear_model"]


def has_reuse_from(ctx: Context) -> bool:
    """Whether ``luigi --module luigi_tasks.pipelines FullPipeline --help`` offers ``--reuse-from``."""
    project = luigi_tasks_project(ctx.work / "reuse-probe")
    out = subprocess.run(
        [LUIGI, "--module", "luigi_tasks.pipelines", "FullPipeline", "--help"],
        cwd=project, env=env(), capture_output=True, text=True, timeout=120, check=False,
    )
    return FLAG in out.stdout + out.stderr


def changed_model_parameters() -> dict[str, object]:
    """``config/local/parameters.yml`` changing one model parameter of the shipped ones."""
    model = copy.deepcopy(yaml.safe_load((REPO / "config" / "parameters.yml").read_text())["model"])
    model["init_args"] = {**(model.get("init_args") or {}), "fit_intercept": False}
    return {"model": model}


def reuse(ctx: Context) -> list[Finding]:
    """The reuse row."""
    rows = ctx.settings.large_rows
    comparison = f"{rows:,} rows, one model parameter changed: reuse run / full run"
    if not has_reuse_from(ctx):
        pending = "pending: needs --reuse-from"
        return [Finding("reuse", comparison, None, None, [], "x", Goal(0.40, "x"), pending=pending)]
    project = luigi_tasks_project(ctx.work / "reuse", raw=synthetic_csv(ctx.work, rows))
    overlay = project / "config" / "local" / "parameters.yml"
    full: list[Sample] = []
    reused: list[Sample] = []
    floor: list[Sample] = []
    settle()
    for r in range(ctx.settings.heavy_rounds):
        floor.append(run_process(FLOOR, cwd=project, env=env()))
        first, second = run_tag("full", r), run_tag("reuse", r)
        overlay.unlink(missing_ok=True)
        full.append(run_process(LUIGI_TASKS(first), cwd=project, env=env()))
        overlay.write_text(yaml.safe_dump(changed_model_parameters()), encoding="utf-8")
        reused.append(run_process([*LUIGI_TASKS(second), FLAG, first], cwd=project, env=env()))
        overlay.unlink()
        remove_run(project, second)
        remove_run(project, first)
    return [
        paired("reuse", comparison, Series("reuse run", reused), Series("full run", full), goal=Goal(0.40, "x")),
        paired(
            "reuse",
            f"{rows:,} rows: imports the rerun nodes need / full run (the floor of any such run)",
            Series("imports", floor),
            Series("full run", full),
        ),
    ]
