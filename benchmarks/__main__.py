"""``python -m benchmarks``: run the suite, print the table, write ``benchmarks/RESULTS.md``.

Run from the repository root with the package installed (``pip install -e .``)::

    python -m benchmarks                 # the full suite, 10-15 minutes on 2 shared cores
    python -m benchmarks --quick         # toy sizes, one round: a minute
    python -m benchmarks --only small --only io --rounds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import machine
from benchmarks.context import FULL, QUICK, Context, Settings, compile_bytecode
from benchmarks.generate import DEFAULT_WORK, REPO
from benchmarks.measure import BenchmarkError
from benchmarks.results import Finding, cpu_table, memory_table, table
from benchmarks.rows import ROWS

DEFAULT_OUT = REPO / "benchmarks" / "RESULTS.md"
#: Where a toy or partial run writes: the committed RESULTS.md holds full runs only.
PARTIAL_OUT = DEFAULT_WORK / "RESULTS-partial.md"
ANALYSIS = REPO / "benchmarks" / "ANALYSIS.md"
MEMORY_ROWS = ("small", "large")
CPU_ROWS = ("small", "large", "many nodes", "scheduler")

HOW_TO_READ = """\
- Every cell is the median of the rounds, with (min-max). A row's contenders run in the
  same invocation, interleaved: one run of each per round, the order rotated every round
  (A B C, B C A, ...), so slow periods of the shared machine hit all alike.
- "result" is computed per round (subject / reference, or subject - reference for the
  no-op row) and then summarised, so it is a ratio of paired runs, never of absolute
  times taken at different moments. A goal is met when the median is within it.
- Whole-process rows (small, large, many nodes, no-op, recovery, scheduler) time the
  command from start to exit, as a user waits for it; I/O runs in one process.
- small/large: `luigi --module luigi_tasks.pipelines FullPipeline --local-scheduler` vs
  `python -m benchmarks.plain_script` (the same node functions, reads and writes, no
  Luigi) vs `luigi --module benchmarks.bare_luigi FullPipeline` (hand-written Luigi
  tasks, same files) vs `plain_script --minimal` (persists only model inputs, model,
  predictions, metrics). The large table is synthetic: the shipped rows resampled with a
  fixed seed, prices and lot sizes jittered.
- many nodes: `benchmarks/nodes_luigi_tasks.py` vs `benchmarks/nodes_bare.py`: one task
  class per node, each reading its inputs' JSON and writing one JSON output.
- no-op rerun: the complete chain run again, minus process start (`python -c "import
  luigi.cmdline, luigi_tasks"` in the same rounds; `import luigi.cmdline` for bare Luigi).
  The third no-op line is the luigi-tasks rerun minus the bare Luigi rerun: what
  luigi-tasks adds to Luigi's own no-op (its command-line parsing and scheduling).
- recovery: the second line times a process that only imports what the resumed node
  needs (`import luigi.cmdline, luigi_tasks, pandas, pyarrow.parquet`): no resume can
  take less. Likewise reuse's second line imports what training, predicting and
  evaluating need (the same, and `sklearn.linear_model`).
- Peak RSS is the child process's `ru_maxrss`, CPU time its `ru_utime + ru_stime`
  (`os.wait4`).
- Every contender runs from compiled bytecode, as an installed package does: the suite
  compiles the repository's packages first and removes `PYTHONDONTWRITEBYTECODE` (set on
  this machine) from the contenders' environment; with it, each luigi-tasks command would
  recompile its two dozen modules (~20 ms)."""


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes and one round (seconds per row)")
    parser.add_argument("--only", action="append", choices=list(ROWS), metavar="ROW",
                        help=f"run only this row (repeatable): {', '.join(ROWS)}")
    parser.add_argument("--rounds", type=int, help="rounds for every row (overrides the defaults)")
    parser.add_argument(
        "--out", type=Path,
        help=f"markdown file to write (default: {DEFAULT_OUT.relative_to(REPO)} for the full suite; "
        f"{PARTIAL_OUT.relative_to(REPO)}, git-ignored, with --quick, --only or --rounds)",
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK,
                        help="where projects and data are made (default: %(default)s, git-ignored)")
    return parser.parse_args(argv)


def settings_for(args: argparse.Namespace) -> Settings:
    settings = QUICK if args.quick else FULL
    if args.rounds:
        settings = dataclasses.replace(
            settings, rounds=args.rounds, heavy_rounds=args.rounds, scheduler_rounds=args.rounds, node_rounds={}
        )
    return settings


def run_rows(ctx: Context, names: Sequence[str]) -> list[Finding]:
    """Run each row; a row that fails becomes an ``error`` line, and the others still run."""
    findings: list[Finding] = []
    for name in names:
        started = time.perf_counter()
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        try:
            found = ROWS[name](ctx)
        except (BenchmarkError, OSError) as exc:
            traceback.print_exc()
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            found = [Finding(name, "(failed)", None, None, [], "x", pending=f"error: {first}")]
        findings += found
        print(f"[benchmarks] {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return findings


def report(findings: Sequence[Finding], *, command: str, settings: Settings, started: datetime,
           minutes: float, load_before: str) -> str:
    """The whole of RESULTS.md."""
    parts = [
        "# luigi-tasks benchmarks",
        "",
        (
            f"Made by `{command}` on {started:%Y-%m-%d %H:%M} UTC in {minutes:.1f} minutes (rounds: "
            f"{settings.rounds} for cheap rows, {settings.heavy_rounds} for {settings.large_rows:,}-row rows, "
            f"per node count {settings.node_rounds or settings.rounds}, {settings.scheduler_rounds} through luigid)."
        ),
        "",
        table(findings),
        "",
        "## Peak memory (RSS)",
        "",
        memory_table(findings, MEMORY_ROWS),
        "",
        "## CPU time (user + system)",
        "",
        (
            "Of each contender's process, in the same rounds as the table above: where it is "
            "close to wall time, the process computed rather than waited. The goals are judged "
            "on wall time, as a user waits. Through luigid, the scheduler's own CPU is not counted."
        ),
        "",
        cpu_table(findings, CPU_ROWS),
        "",
        "## Machine",
        "",
        *machine.describe(),
        (
            f"- Load average (1/5/15 min) before: {load_before}; after: {machine.load()}. The machine is "
            "shared with other engineers' test runs: absolute times are noisy, and only the interleaved "
            "ratios are meant to be compared."
        ),
        "",
        "## How to read this",
        "",
        HOW_TO_READ,
    ]
    notes = [f"- {f.row}, {f.comparison}: {n}" for f in findings for n in f.notes]
    if notes:
        parts += ["", "## Notes from this run", "", *notes]
    if ANALYSIS.exists():
        parts += ["", ANALYSIS.read_text(encoding="utf-8").strip()]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    settings = settings_for(args)
    names = [n for n in ROWS if not args.only or n in args.only]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    started, load_before, t0 = datetime.now(tz=UTC), machine.load(), time.perf_counter()
    findings = run_rows(Context(settings, args.work_dir.resolve()), names)
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    text = report(findings, command=command, settings=settings, started=started,
                  minutes=(time.perf_counter() - t0) / 60, load_before=load_before)
    out = args.out or (PARTIAL_OUT if args.quick or args.only or args.rounds else DEFAULT_OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(table(findings))
    print(f"\nwritten: {out}", file=sys.stderr)
    return 1 if any(f.status.startswith("error") for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
