"""Scheduler: the chain of ``scheduler_nodes`` nodes through a real luigid on loopback,
luigi-tasks vs bare Luigi through the same luigid (<= 1.10x).

luigid runs on 127.0.0.1 on a free port, with its own folder for state and logs, and is
stopped by its pid at the end. Every round uses fresh run ids (new task ids), so luigid's
``stable_done_cooldown_secs`` (10 s by default: it ignores a worker's claim that a task is
PENDING for 10 s after marking it DONE) never applies; done tasks of earlier rounds stay
in its state (pruned 60 s after a worker leaves, then ``remove_delay``, 600 s), for both
contenders alike.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.context import BIN, Context, env
from benchmarks.measure import BenchmarkError, interleave
from benchmarks.results import Finding, Goal, Series, paired
from benchmarks.rows.many import contenders, projects


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def luigid(folder: Path, *, timeout: float = 30.0) -> Iterator[str]:
    """A luigid on 127.0.0.1 for the block; yields its URL and stops it by pid after."""
    port = free_port()
    cmd = [str(BIN / "luigid"), "--address", "127.0.0.1", "--port", str(port), "--pidfile", str(folder / "pid"),
           "--logdir", str(folder), "--state-path", str(folder / "state.pickle")]
    with open(folder / "luigid.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=folder, env=env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkError(f"luigid did not start; see {folder / 'luigid.log'}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()  # by pid: the process started above, nothing else
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scheduler(ctx: Context) -> list[Finding]:
    """The scheduler row."""
    n = ctx.settings.scheduler_nodes
    lt, bare = projects(ctx, "chain", n, "scheduler")
    with luigid(ctx.folder("scheduler", "luigid")) as url:
        runs = interleave(
            contenders(lt, bare, "chain", n, "--scheduler-url", url),
            ctx.settings.scheduler_rounds,
            warmup=ctx.settings.warmup,
        )
    return [
        paired(
            "scheduler",
            f"chain of {n} through luigid: luigi-tasks / bare Luigi",
            Series("luigi-tasks", runs["lt"], nodes=n),
            Series("bare Luigi", runs["bare"], nodes=n),
            goal=Goal(1.10, "x"),
        )
    ]
