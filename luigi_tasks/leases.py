"""Leases: which processes work on a run now, so that commands on one run do not undo each other.

A command that prepares a run leaves an empty file ``<runs_dir>/<run>/workers/<host>-<pid>``
while it lives (a killed one leaves it, but its pid is gone). ``runs delete`` and
``invalidate`` refuse a run another live process of this host works on; a node that finds
its outputs saved meanwhile waits for the process that saved them to record its end.
Processes of other hosts cannot be asked: only their "running" records count.
"""

from __future__ import annotations

import atexit
import os
import posixpath
import socket
import time
from contextlib import suppress
from datetime import datetime

from luigi_tasks.datasets import filesystem
from luigi_tasks.errors import NodeError
from luigi_tasks.node_records import COMPLETE, NodeRecord, records_by_others
from luigi_tasks.processes import exited_here
from luigi_tasks.project import Project
from luigi_tasks.run_info import run_dir
from luigi_tasks.storage import list_names

#: Where a command that prepared a run says, by an empty file named ``<host>-<pid>``, that it
#: works on the run; it removes the file when it exits (a killed one leaves it: its pid is gone).
WORKERS_DIR = "workers"


def take_lease(project: Project, run_id: str) -> None:
    """Say that this process works on run ``run_id`` until it exits (local runs folders only)."""
    fs, path = filesystem.resolve(posixpath.join(run_dir(project, run_id), WORKERS_DIR))
    if not filesystem.is_local(fs):
        return  # object stores: other hosts' workers cannot be asked anyway
    lease = posixpath.join(path, f"{socket.gethostname()}-{os.getpid()}")
    try:
        os.makedirs(path, exist_ok=True)
        with open(lease, "a"):
            pass
    except OSError:  # the run's records will say why they cannot be written; the lease is a courtesy
        return
    atexit.register(_drop_lease, lease, os.getpid())


def _drop_lease(lease: str, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked worker that inherited the hook
        with suppress(OSError):
            os.unlink(lease)


def live_writers(project: Project, run_id: str) -> list[int]:
    """The pids of the other processes on this host that work on run ``run_id`` now (that
    prepared it, and have not exited). Those of other hosts cannot be asked, and are not listed."""
    here = socket.gethostname()
    found = set()
    for name in list_names(posixpath.join(run_dir(project, run_id), WORKERS_DIR)):
        host, _, pid = name.rpartition("-")
        if host == here and pid.isdigit() and int(pid) != os.getpid() and not exited_here(host, int(pid)):
            found.add(int(pid))
    return sorted(found)


def running_elsewhere(project: Project, run_id: str, node: str) -> list[NodeRecord]:
    """Records of ``node`` running in run ``run_id`` in other processes of this host that are
    alive (a node records that it runs once it has run for a second)."""
    here = socket.gethostname()
    return [
        r for r in records_by_others(project, run_id, node)
        if r.status == "running" and r.host == here and not exited_here(r.host, r.pid)
    ]


def wait_for_other_worker(
    project: Project, run_id: str, node: str, since: float, timeout: float = 30.0
) -> NodeRecord | None:
    """Another process may have saved ``node``'s outputs in run ``run_id`` (after ``since``,
    ``time.time()``) while this one ran it: wait for it to record the node's end (it saves,
    then records). The latest such record if it completed the node; ``None`` if it failed, or
    if no process that could still finish it is alive (a killed attempt's outputs).

    Each writing process's own latest record is looked at, not only the run's latest: this
    process's "running" record, written later, must not hide another's.

    Raises:
        NodeError: another process working on the run, alive, has not recorded the node's end
            within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        others = records_by_others(project, run_id, node)
        if (last := _last_end(others, since)) is not None:
            return last if last.status in COMPLETE else None
        running = [r for r in others if r.status == "running" and not exited_here(r.host, r.pid)]
        if not running and not live_writers(project, run_id):
            return None  # nobody alive to finish it: a killed attempt's outputs
        if time.monotonic() >= deadline:
            raise NodeError(
                f"{node}: another process saved its outputs in run {run_id} while this one ran it, and has not "
                f"recorded its end within {timeout:.0f} s. Two commands on one run with --local-scheduler do not "
                "coordinate: let one finish, then run the other; or run both through luigid."
            )
        time.sleep(0.05)


def completed_elsewhere(project: Project, run_id: str, node: str, since: float) -> NodeRecord | None:
    """The latest record of another process that ended ``node`` in run ``run_id`` after
    ``since`` (``time.time()``), if it completed it; ``None`` if none did (no waiting)."""
    last = _last_end(records_by_others(project, run_id, node), since)
    return last if last is not None and last.status in COMPLETE else None


def _last_end(records: list[NodeRecord], since: float) -> NodeRecord | None:
    """The latest of ``records`` that ended after ``since`` (``time.time()``), if any."""
    ended = [r for r in records if r.ended and datetime.fromisoformat(r.ended).timestamp() >= since]
    return max(ended, key=lambda r: r.ended or "", default=None)
