"""Timing: run contenders interleaved (A, B, A, B, ...) and keep wall time, CPU time and
peak RSS.

A child process is timed from ``Popen`` to its exit; its CPU time and peak resident memory
come from ``os.wait4`` (the ``getrusage`` record of that one child, so runs do not mix).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.generate import settle

#: Part of every run id of this invocation: Luigi's lock refuses a second process with the
#: same command line (whatever its folder), so concurrent invocations must differ.
INVOCATION = f"{os.getpid():x}"


def run_tag(*parts: object) -> str:
    """A run id unique to this invocation, e.g. ``lt-3-1a2b``."""
    return "-".join(map(str, (*parts, INVOCATION)))


class BenchmarkError(RuntimeError):
    """A contender failed: the benchmark would measure the wrong thing, so it stops."""


@dataclass(frozen=True)
class Sample:
    """One timed run."""

    wall: float
    #: Peak resident set size of the child process in MiB; ``None`` for in-process runs.
    peak_rss_mib: float | None = None
    #: User + system CPU seconds of the child process; ``None`` for in-process runs.
    cpu: float | None = None


def run_process(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    expect_failure: bool = False,
) -> Sample:
    """Run ``cmd`` in ``cwd`` with its output in ``log``; time it and read its CPU time and
    peak RSS.

    Raises:
        BenchmarkError: the exit code is not what was expected (0, or non-zero when
            ``expect_failure``); the message holds the end of the log.
    """
    log = log or cwd / "last-run.log"
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env or os.environ), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if (code != 0) != expect_failure:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchmarkError(f"`{shlex.join(cmd)}` in {cwd} exited with {code}. End of {log}:\n{tail}")
    return Sample(wall=wall, peak_rss_mib=usage.ru_maxrss / 1024, cpu=usage.ru_utime + usage.ru_stime)


def time_call(func: Callable[[], object]) -> Sample:
    """Time ``func()`` in this process (no RSS: it would be this process's history)."""
    started = time.perf_counter()
    func()
    return Sample(wall=time.perf_counter() - started)


Contender = Callable[[str], Sample]
"""Runs once and returns its sample; the argument is a unique tag for this run (e.g. a run id)."""


def interleave(
    contenders: Mapping[str, Contender], rounds: int, *, warmup: bool = False
) -> dict[str, list[Sample]]:
    """Run every contender once per round; the order rotates each round (AB, BA, ...).

    Rotating cancels a steady drift of the machine's load and the advantage of going
    first or last. Projects just made settle first (:func:`~benchmarks.generate.settle`).
    With ``warmup`` an extra untimed round comes first (caches, .pyc files).
    Each run's tag is ``<contender key>-<round>-<invocation>`` (round ``w``: the warm-up).
    """
    names = list(contenders)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    settle()
    for r in range(-1 if warmup else 0, rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            sample = contenders[name](run_tag(name, "w" if r < 0 else r))
            if r >= 0:
                samples[name].append(sample)
    return samples
