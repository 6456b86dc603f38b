"""Run records: what happened to each node of a run, kept beside the data.

Each node writes its own small JSON file, ``<runs_dir>/<run_id>/nodes/<task family>.json``
(atomically replaced), so that several worker processes can record one run at once
without losing updates.
"""

from __future__ import annotations

import json
import os
import posixpath
import socket
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import fsspec

from luigi_tasks.datasets.atomic import atomic_write
from luigi_tasks.project import Project
from luigi_tasks.versioning import validate_run_id


def _now() -> str:
    return datetime.now(tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class NodeRecord:
    """One node's latest attempt in one run."""

    node: str
    run_id: str
    status: str  # running | done | failed
    started: str
    ended: str | None = None
    duration_s: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def start(cls, node: str, run_id: str) -> NodeRecord:
        return cls(node=node, run_id=run_id, status="running", started=_now())

    def finish(self, status: str, *, outputs: dict[str, str] | None = None, error: str | None = None) -> NodeRecord:
        ended = datetime.now(tz=timezone.utc)
        duration = (ended - datetime.fromisoformat(self.started)).total_seconds()
        return replace(
            self,
            status=status,
            ended=ended.isoformat(timespec="milliseconds"),
            duration_s=round(duration, 3),
            outputs=outputs or self.outputs,
            error=error,
        )


def run_dir(project: Project, run_id: str) -> str:
    """The folder holding run ``run_id``'s record."""
    return posixpath.join(project.runs_dir, validate_run_id(run_id))


def _node_path(project: Project, run_id: str, node: str) -> str:
    return posixpath.join(run_dir(project, run_id), "nodes", f"{node}.json")


def write_node_record(project: Project, record: NodeRecord) -> None:
    """Replace the node's record atomically."""
    fs, path = fsspec.core.url_to_fs(_node_path(project, record.run_id, record.node))
    payload = json.dumps(asdict(record), indent=2, sort_keys=True).encode("utf-8")
    with atomic_write(fs, path, overwrite=True) as dst:
        if isinstance(dst, str):
            with open(dst, "wb") as f:
                f.write(payload)
        else:
            dst.write(payload)


def read_node_record(project: Project, run_id: str, node: str) -> NodeRecord | None:
    """The node's record in run ``run_id``, or ``None`` if it never ran there."""
    fs, path = fsspec.core.url_to_fs(_node_path(project, run_id, node))
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as f:
        return _parse(json.loads(f.read()))


def read_node_records(project: Project, run_id: str) -> list[NodeRecord]:
    """Every node record of run ``run_id`` (empty if there is none)."""
    fs, folder = fsspec.core.url_to_fs(posixpath.join(run_dir(project, run_id), "nodes"))
    if not fs.isdir(folder):
        return []
    records = []
    for path in sorted(fs.glob(posixpath.join(folder, "*.json"))):
        with fs.open(path, "rb") as f:
            records.append(_parse(json.loads(f.read())))
    return records


def _parse(data: dict[str, Any]) -> NodeRecord:
    known = NodeRecord.__dataclass_fields__
    return NodeRecord(**{k: v for k, v in data.items() if k in known})
