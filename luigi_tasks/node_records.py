"""Node records: what each node did in a run, kept beside the data.

A node's record is written when the node ends (``done``, ``failed``, ``reused``,
``invalidated``), and also as ``running`` once it has been busy for ``status.INTERVAL`` (or
when Ctrl-C stops it sooner: a ``running`` record whose process has exited reads as
interrupted). The
records of run ``R`` live in ``<runs_dir>/R/`` (``data/09_runs`` by default), stored by
:mod:`luigi_tasks.journal`: one append-only file per process, so concurrent workers never
lose an update. A record holds the node's status, start, end and duration, the versions of
its outputs (another run's when reused), its fingerprint, and why it ran.

Example:
    >>> rec = NodeRecord.start("data_science.TrainModel", "r1", reason="missing")
    >>> write_node_record(project, rec.finish("done", versions={"regressor": "r1"}))
    >>> read_node_records(project, "r1")["data_science.TrainModel"].status
    'done'
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from luigi_tasks import journal
from luigi_tasks.errors import RunError
from luigi_tasks.project import Project
from luigi_tasks.run_info import now, run_dir

#: Statuses whose outputs count as this run's results.
COMPLETE = ("done", "reused")


@dataclass(frozen=True)
class NodeRecord:
    """One node's latest state in one run."""

    node: str
    run_id: str
    status: str  # running | done | failed | reused | invalidated
    started: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    #: Output dataset -> the run id whose version it is (another run's when reused).
    versions: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    #: Unversioned output -> its file's stamp when the node saved it (see ``AbstractDataset.stamp``).
    stamps: dict[str, str] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    reused_from: str | None = None
    #: The task family whose record this is, taken over by the node when it was renamed.
    renamed_from: str | None = None
    reason: str | None = None
    error: str | None = None
    #: How many times the node started in this run (1 for the first attempt).
    attempt: int = 0
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def start(cls, node: str, run_id: str, reason: str | None = None, attempt: int = 1) -> NodeRecord:
        return cls(node=node, run_id=run_id, status="running", started=now(), reason=reason, attempt=attempt)

    def finish(self, status: str, **changes: Any) -> NodeRecord:
        ended = datetime.now(tz=timezone.utc)
        started = datetime.fromisoformat(self.started) if self.started else ended
        return replace(
            self,
            status=status,
            ended=ended.isoformat(timespec="milliseconds"),
            duration_s=round((ended - started).total_seconds(), 3),
            host=socket.gethostname(),
            pid=os.getpid(),
            **changes,
        )


_RECORD_FIELDS = frozenset(NodeRecord.__dataclass_fields__)


#: What this process last read of each run's records (by run folder), kept up to date with
#: its own writes.
_known: dict[str, dict[str, NodeRecord]] = {}
#: The run's journal signature when :func:`current_node_record` last read it.
_signatures: dict[str, tuple[tuple[str, str, int, int], ...] | None] = {}


def write_node_record(project: Project, record: NodeRecord) -> None:
    """Make ``record`` the node's latest in its run."""
    folder = run_dir(project, record.run_id)
    try:
        journal.append(folder, {f: getattr(record, f) for f in _RECORD_FIELDS})
    except OSError as exc:
        raise RunError(
            f"The record of {record.node} in run '{record.run_id}' cannot be written in {folder}: "
            f"{exc.strerror or exc}. Make it a folder you can write to (permissions, free disk), then rerun."
        ) from None
    known = _known.get(folder)
    if known is not None:
        known[record.node] = record


def read_node_record(project: Project, run_id: str, node: str) -> NodeRecord | None:
    """The node's record in run ``run_id``, or ``None`` if it never ran there.

    As this process last read the run (with its own writes since), so that a node's start
    costs no read: a record another process wrote since then is not seen. A node's start
    uses it only to tell why it runs and which attempt this is.
    """
    folder = run_dir(project, run_id)
    if folder not in _known:
        read_node_records(project, run_id)
    return _known[folder].get(node)


def current_node_record(project: Project, run_id: str, node: str) -> NodeRecord | None:
    """The node's record in run ``run_id`` as any process wrote it last: the run is read
    again only if a record was written to it since this process last read it."""
    folder = run_dir(project, run_id)
    seen = journal.signature(folder)  # before the read: a record written meanwhile changes it
    if seen is None or folder not in _known or _signatures.get(folder) != seen:
        read_node_records(project, run_id)
        _signatures[folder] = seen
    return _known[folder].get(node)


def read_node_records(project: Project, run_id: str) -> dict[str, NodeRecord]:
    """Every node record of run ``run_id``, by task family (read afresh)."""
    folder = run_dir(project, run_id)
    records = {node: _parse(data) for node, data in journal.read_latest(folder).items()}
    _known[folder] = dict(records)
    return records


def _parse(data: dict[str, Any]) -> NodeRecord:
    return NodeRecord(**{k: v for k, v in data.items() if k in _RECORD_FIELDS})


def reason_to_run(previous: NodeRecord | None) -> str:
    """Why a node runs, judging by its previous record in the run."""
    if previous is None:
        return "missing"
    if previous.status == "failed":
        return f"failed before: {previous.error}"
    if previous.status == "running":
        return "an earlier attempt did not finish"
    if previous.status in COMPLETE:
        return f"its outputs are gone since it {'ran' if previous.status == 'done' else 'was reused'}"
    return previous.status


def records_by_others(project: Project, run_id: str, node: str) -> list[NodeRecord]:
    """``node``'s latest record by each other process (host and pid) that wrote one in run ``run_id``."""
    here = (socket.gethostname(), os.getpid())
    entries = journal.entries_of(run_dir(project, run_id), node)
    return [_parse(e) for e in entries if (e.get("host"), e.get("pid")) != here]
