"""Recovery: ``large_rows`` rows, the last node fails, then the resume command (<= 10% of the full run).

The last node (``EvaluateModel``) is made to fail without touching the library or the
run's parameters: ``config/local/catalog.yml`` points ``metrics`` at
:class:`benchmarks.failswitch.FailSwitchJSONDataset` (for every run of this row), and
the failing run sets ``BENCH_FAIL_SAVE=metrics``. Each round times a full run, and the
resume command the failed run printed (same ``--run-id``), after an untimed failing run.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from benchmarks.context import LUIGI, PYTHON, Context, env, process
from benchmarks.failswitch import FAIL_ENV
from benchmarks.generate import REPO, luigi_tasks_project, remove_run, synthetic_csv
from benchmarks.measure import Sample, interleave, run_process
from benchmarks.results import Finding, Goal, Series, paired
from benchmarks.rows.house import LUIGI_TASKS

FAILING = "metrics"
#: A process that only imports what resuming the last node needs: Luigi, luigi-tasks, and
#: pandas/pyarrow to read its inputs (the example's pipeline modules import pandas).
FLOOR = [PYTHON, "-c", "import luigi.cmdline, luigi_tasks, pandas, pyarrow.parquet"]
RESUME_MARK = "resume with: "


def resume_command(log: Path) -> list[str] | None:
    """The resume command a failed ``luigi`` run printed, with the full path of ``luigi``."""
    for line in log.read_text(errors="replace").splitlines():
        if RESUME_MARK in line:
            cmd = shlex.split(line.split(RESUME_MARK, 1)[1])
            return [LUIGI if cmd[0] == "luigi" else cmd[0], *cmd[1:]]
    return None


def recovery(ctx: Context) -> list[Finding]:
    """The recovery row."""
    entry = yaml.safe_load((REPO / "config" / "catalog.yml").read_text())[FAILING]
    overlay = {FAILING: {**entry, "type": "benchmarks.failswitch.FailSwitchJSONDataset"}}
    rows = ctx.settings.large_rows
    lt = luigi_tasks_project(ctx.work / "recovery", raw=synthetic_csv(ctx.work, rows), overlay=overlay)
    notes: list[str] = []

    def resume(run_id: str) -> Sample:
        log = lt / "failed-run.log"
        run_process(LUIGI_TASKS(run_id), cwd=lt, env=env({FAIL_ENV: FAILING}), log=log, expect_failure=True)
        cmd = resume_command(log)
        if cmd is None:
            notes.append("the failed run printed no resume command: reran the same command")
            cmd = LUIGI_TASKS(run_id)
        sample = run_process(cmd, cwd=lt, env=env())
        remove_run(lt, run_id)
        return sample

    runs = interleave(
        {"full": process(LUIGI_TASKS, lt), "resume": resume, "floor": process(lambda _: FLOOR, lt, keep=True)},
        ctx.settings.heavy_rounds,
    )
    finding = paired(
        "recovery",
        f"{rows:,} rows, last node failed: resume / full run",
        Series("resume", runs["resume"]),
        Series("full run", runs["full"]),
        goal=Goal(0.10, "x"),
    )
    finding.notes.extend(dict.fromkeys(notes))
    floor = paired(
        "recovery",
        f"{rows:,} rows: imports the resumed node needs / full run (the floor of any resume)",
        Series("imports", runs["floor"]),
        Series("full run", runs["full"]),
    )
    return [finding, floor]
