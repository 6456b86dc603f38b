"""What every row needs: sizes and repetitions, the work folder, and how to run a contender."""

from __future__ import annotations

import compileall
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.generate import REPO, remove_run
from benchmarks.measure import Contender, Sample, run_process

BIN = Path(sys.executable).parent
PYTHON = sys.executable
LUIGI = str(BIN / "luigi")


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds. :data:`FULL` is the suite (10-15 minutes on 2 shared cores), :data:`QUICK` a toy run."""

    rounds: int  # rounds of the cheap rows (small, I/O, no-op, scheduler)
    heavy_rounds: int  # rounds of the 2M-row rows (large, recovery)
    large_rows: int
    io_rows: int
    node_counts: tuple[int, ...]
    #: Rounds of the many-nodes row per size (Luigi's local scheduler is quadratic).
    node_rounds: dict[int, int] = field(default_factory=dict)
    noop_nodes: int = 1000
    scheduler_nodes: int = 500
    scheduler_rounds: int = 5
    warmup: bool = True


FULL = Settings(
    rounds=9, heavy_rounds=5, large_rows=2_000_000, io_rows=2_000_000,
    node_counts=(100, 500, 1000, 2000), node_rounds={100: 9, 500: 5, 1000: 5, 2000: 5},
)
QUICK = Settings(
    rounds=1, heavy_rounds=1, large_rows=20_000, io_rows=20_000, node_counts=(10, 20),
    noop_nodes=20, scheduler_nodes=10, scheduler_rounds=1, warmup=False,
)


@dataclass(frozen=True)
class Context:
    """The settings and the work folder of one invocation."""

    settings: Settings
    work: Path

    def folder(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def rounds_for(self, nodes: int) -> int:
        return self.settings.node_rounds.get(nodes, self.settings.rounds)


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, with the repository importable (for ``benchmarks.*`` modules).

    Without ``PYTHONDONTWRITEBYTECODE``: an installed package runs from bytecode compiled
    once (pip compiles it at install); with it, every command would compile the
    repository's modules again (~20 ms for luigi-tasks' two dozen, ~1 ms for the bare contenders').
    """
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**inherited, "PYTHONPATH": path, **(extra or {})}


def compile_bytecode() -> None:
    """Compile the repository's packages, as ``pip install`` compiles an installed package."""
    for package in ("luigi_tasks", "benchmarks"):
        compileall.compile_dir(REPO / package, quiet=1)


def luigi(module: str, task: str, *extra: str) -> Callable[[str], list[str]]:
    """The ``luigi --module`` command of a run, given its run id."""
    return lambda run_id: [LUIGI, "--module", module, task, "--run-id", run_id, *extra]


def python(*args: str) -> Callable[[str], list[str]]:
    """A ``python -m ...`` command taking ``--run-id``."""
    return lambda run_id: [PYTHON, *args, "--run-id", run_id]


def process(command: Callable[[str], Sequence[str]], cwd: Path, extra_env: dict[str, str] | None = None,
            *, keep: bool = False) -> Contender:
    """A contender running ``command(run_id)`` in ``cwd``; its outputs are removed after, untimed."""
    environment = env(extra_env)

    def run(run_id: str) -> Sample:
        sample = run_process(command(run_id), cwd=cwd, env=environment)
        if not keep:
            remove_run(cwd, run_id)
        return sample

    return run
