"""The journal: where a run's node records are stored, cheaply and without lost updates.

On a local disk each process appends its records, one JSON line each, to a file of its own
in the run's folder: ``<run>/journal/<host>-<pid>-<random>.jsonl``. An append is one
``write`` to an open file, where an atomically replaced file per record costs a file
creation, a rename and a dozen system calls: for trivial nodes, about a fifth of
luigi-tasks' own time per node (cProfile, line_profiler). No two processes write one file,
so concurrent workers never lose an update; a line cut short by a crash is skipped. A
process keeps at most :data:`MAX_OPEN` journals open and starts a new file for a run whose
file it closed.

Object stores cannot append: there each record replaces ``<run>/nodes/<node>.json``
atomically (as every record did before the journal, so those files are still read).

A node's latest record wins: within one file the later line, across files the later
``written_ns`` (the writer's wall clock when it wrote).

Example:
    >>> append("/data/09_runs/r1", {"node": "ns.Train", "status": "done"})
    >>> read_latest("/data/09_runs/r1")["ns.Train"]["status"]
    'done'
"""

from __future__ import annotations

import json
import os
import posixpath
import threading
import time
from collections import OrderedDict
from contextlib import suppress
from typing import Any

from luigi_tasks.datasets import filesystem
from luigi_tasks.datasets.atomic import HOST
from luigi_tasks.storage import list_json, list_names, read_json, write_json

JOURNAL_DIR = "journal"
NODES_DIR = "nodes"
WRITTEN = "written_ns"
_SUFFIX = ".jsonl"

#: Journal files one process keeps open; a long-lived process (a notebook, a scheduler of
#: many runs) closes the least recently used, and reopens a new file if that run goes on.
MAX_OPEN = 16

_lock = threading.Lock()
_open: OrderedDict[str, int] = OrderedDict()  # run folder -> this process's journal file, oldest use first


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a fork while another thread held it would leave it held forever
    for fd in _open.values():  # the parent's files: a forked worker writes a journal of its own
        with suppress(OSError):
            os.close(fd)
    _open.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def append(run_folder: str, entry: dict[str, Any]) -> None:
    """Store ``entry`` (a record with a ``node`` key) as that node's latest in the run."""
    entry = {**entry, WRITTEN: time.time_ns()}
    fs, path = filesystem.resolve(run_folder)
    if not filesystem.is_local(fs):
        write_json(posixpath.join(run_folder, NODES_DIR, f"{entry['node']}.json"), entry)
        return
    line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode("utf-8")
    with _lock:  # the status thread may record a long node's start while the worker goes on
        fd = _journal_fd(path)
        view = memoryview(line)
        while view:  # one write() in practice; a short write continues where it stopped
            view = view[os.write(fd, view) :]


def entries_of(run_folder: str, node: str) -> list[dict[str, Any]]:
    """``node``'s latest record in each journal file of the run: one per writing process."""
    return [entry for entry in _journal_entries(run_folder) if entry.get("node") == node]


def read_latest(run_folder: str) -> dict[str, dict[str, Any]]:
    """Every node's latest record in the run (journal lines and ``nodes/*.json`` files)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in _per_node_files(run_folder) + _journal_entries(run_folder):
        node = entry.get("node")
        if isinstance(node, str) and (node not in latest or _order(entry) >= _order(latest[node])):
            latest[node] = entry
    return latest


def signature(run_folder: str) -> tuple[tuple[str, str, int, int], ...] | None:
    """What changes whenever a record is written to the run: each journal and per-node
    file's name, size and mtime (local disk). ``None`` where it cannot be told cheaply."""
    fs, path = filesystem.resolve(run_folder)
    if not filesystem.is_local(fs):
        return None
    found = []
    for sub in (JOURNAL_DIR, NODES_DIR):
        with suppress(FileNotFoundError), os.scandir(posixpath.join(path, sub)) as entries:
            for entry in entries:
                with suppress(FileNotFoundError):
                    st = entry.stat()
                    found.append((sub, entry.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


def _journal_fd(folder: str) -> int:
    fd = _open.pop(folder, None)
    if fd is not None and os.fstat(fd).st_nlink == 0:  # deleted since (`luigi-tasks runs delete`): a new file
        os.close(fd)
        fd = None
    if fd is None:
        journal = posixpath.join(folder, JOURNAL_DIR)
        os.makedirs(journal, exist_ok=True)
        name = f"{HOST}-{os.getpid()}-{os.urandom(4).hex()}{_SUFFIX}"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(posixpath.join(journal, name), flags, 0o644)
        while len(_open) >= MAX_OPEN:
            os.close(_open.popitem(last=False)[1])
    _open[folder] = fd
    return fd


def _order(entry: dict[str, Any]) -> int:
    written = entry.get(WRITTEN)
    return written if isinstance(written, int) else 0  # files from before the journal: oldest


def _per_node_files(run_folder: str) -> list[dict[str, Any]]:
    entries = []
    for url in list_json(posixpath.join(run_folder, NODES_DIR)):
        try:
            data = read_json(url)
        except ValueError:  # damaged: as if never written
            continue
        if isinstance(data, dict):
            entries.append(data)
    return entries


def _journal_entries(run_folder: str) -> list[dict[str, Any]]:
    """Each journal file's last entry per node (its lines are in the order they were written)."""
    fs, path = filesystem.resolve(run_folder)
    if not filesystem.is_local(fs):
        return []
    folder = posixpath.join(path, JOURNAL_DIR)
    entries: list[dict[str, Any]] = []
    for name in list_names(folder):
        if not name.endswith(_SUFFIX):
            continue
        try:
            with open(posixpath.join(folder, name), "rb") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        last: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # cut short by a crash mid-write
                continue
            if isinstance(entry, dict) and isinstance(entry.get("node"), str):
                last[entry["node"]] = entry
        entries += last.values()
    return entries
