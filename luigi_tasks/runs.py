"""Runs: the record kept beside the data, and the rules that make reruns trustworthy.

A run is everything under one run id. Its record lives in ``<runs_dir>/<run_id>/``
(``data/09_runs`` by default):

- ``run.json``, written once when the run is created (:mod:`luigi_tasks.run_info`): the
  effective parameters, where each dataset is stored, the code version (git commit), library
  versions, the run it reuses from;
- each node's record, stored by :mod:`luigi_tasks.journal` (one append-only file per
  process, so concurrent workers never lose an update): status, start, end, duration, the
  versions of its outputs, its fingerprint, why it ran. It is written when the node ends,
  and also as ``running`` once the node has been busy for ``status.INTERVAL``.

Before any task of a run is scheduled, :func:`prepare` refuses a run id that was created
with other parameters or catalog entries, or whose completed nodes are stale (code,
parameters or input changed), and decides which nodes are reused from an earlier run
(``--reuse-from``).
"""

from __future__ import annotations

import atexit
import os
import posixpath
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import luigi

from luigi_tasks import journal
from luigi_tasks.config import require_luigi_cfg_read, require_own_code
from luigi_tasks.datasets import filesystem
from luigi_tasks.errors import NodeError, RunError
from luigi_tasks.fingerprint import Fingerprint, code_hash, forget_fingerprints, node_fingerprint
from luigi_tasks.project import Project, current_project
from luigi_tasks.run_info import create_or_check_run, list_runs, now, read_run_info, run_dir, storage
from luigi_tasks.storage import list_names
from luigi_tasks.versioning import LATEST, is_latest, validate_run_id

if TYPE_CHECKING:
    from luigi_tasks.graph import NodeGraph
    from luigi_tasks.node import NodeTask

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


def may_be_complete(project: Project, run_id: str, node: str) -> bool:
    """Whether ``node`` may count as complete in the run when its outputs exist: not while
    it is one of :attr:`RunState.must_run` and the run's record (as any process wrote it last)
    does not say it completed."""
    run_state = state(project, run_id)
    if node not in run_state.must_run:
        return True
    record = current_node_record(project, run_id, node)
    if record is None or record.status not in COMPLETE or record.ended == run_state.outdated.get(node):
        return False
    run_state.must_run.discard(node)
    return True


#: Where a command that prepared a run says, by an empty file named ``<host>-<pid>``, that it
#: works on the run; it removes the file when it exits (a killed one leaves it: its pid is gone).
WORKERS_DIR = "workers"


def _take_lease(project: Project, run_id: str) -> None:
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
    from luigi_tasks.scheduler import exited_here  # late: it imports the command-line helpers

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
    from luigi_tasks.scheduler import exited_here  # late: it imports the command-line helpers

    here = socket.gethostname()
    return [
        r for r in _others_records(project, run_id, node)
        if r.status == "running" and r.host == here and not exited_here(r.host, r.pid)
    ]


def _others_records(project: Project, run_id: str, node: str) -> list[NodeRecord]:
    """``node``'s latest record by each other process that wrote one in the run."""
    here = (socket.gethostname(), os.getpid())
    entries = journal.entries_of(run_dir(project, run_id), node)
    return [_parse(e) for e in entries if (e.get("host"), e.get("pid")) != here]


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
    from luigi_tasks.scheduler import exited_here  # late: it imports the command-line helpers

    deadline = time.monotonic() + timeout
    while True:
        others = _others_records(project, run_id, node)
        ended = [r for r in others if r.ended and datetime.fromisoformat(r.ended).timestamp() >= since]
        if ended:
            last = max(ended, key=lambda r: r.ended or "")
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


# -- preparing a run --------------------------------------------------------------------------


class ReuseFromParameter(luigi.Parameter):
    """``--reuse-from RUN|latest``: start a new run from an earlier one.

    Nodes whose fingerprint is unchanged since that run are not run again; the new run's
    record points at their outputs there (no copy). Not significant: it does not change
    what a task is, only where a new run starts from.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")
        kwargs.setdefault("significant", False)
        kwargs.setdefault(
            "description", "Reuse unchanged nodes' outputs from this earlier run id (or 'latest')."
        )
        super().__init__(**kwargs)

    def normalize(self, x: Any) -> str:
        return LATEST if is_latest(x) else x if x in ("", None) else validate_run_id(x)


@dataclass
class RunState:
    """What this process knows of a run once prepared: reused versions and reasons to run."""

    run_id: str
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    #: Nodes whose outputs existing does not make them complete (see ``NodeTask.complete``):
    #: those with an unversioned output (one file shared by every run) that this run has not
    #: completed, and those that failed (perhaps after saving).
    must_run: set[str] = field(default_factory=set)
    #: Node -> end time of its record that no longer counts: it completed, but another run
    #: has rewritten its unversioned file since.
    outdated: dict[str, str | None] = field(default_factory=dict)
    #: The nodes prepared, and the --reuse-from the root asked for: a later root of the same
    #: run in this process (a notebook's next ``luigi.build``) needing more, or asking for
    #: another run to reuse, prepares again.
    nodes: frozenset[type[NodeTask]] = frozenset()
    asked: str | None = None

    def covers(self, root: luigi.Task) -> bool:
        """Whether every node ``root`` needs was prepared."""
        from luigi_tasks.graph import current_graph

        return self.nodes.issuperset(current_graph().closure(root))


#: Per Project object (a reloaded project prepares again), gone with it: never another's by a reused id().
_states: WeakKeyDictionary[Project, dict[str, RunState]] = WeakKeyDictionary()


def state(project: Project, run_id: str) -> RunState:
    """The run's state in this process (empty if :func:`prepare` did not run for it)."""
    return _states.get(project, {}).get(run_id) or RunState(run_id)


def prepare(root: luigi.Task) -> RunState:
    """Check and set up ``root``'s run, once per process, before anything is scheduled.

    Raises:
        RunError: other parameters than the run's, stale nodes, or an unknown reuse source.
        ConfigError: ``luigi`` runs from a subfolder, without the project's luigi.cfg.
    """
    project = current_project()
    states = _states.setdefault(project, {})
    run_id: str = root.run_id  # type: ignore[attr-defined]
    prepared, asked = states.get(run_id), getattr(root, "reuse_from", "") or None
    if prepared is None or (asked and asked != prepared.asked) or not prepared.covers(root):
        require_luigi_cfg_read(project.root)  # `luigi` run from a subfolder: refused
        require_own_code(project.root, type(root).__module__)  # another checkout's code: refused
        states[run_id] = _prepare(project, root)
    return states[run_id]


def _prepare(project: Project, root: luigi.Task) -> RunState:
    from luigi_tasks.graph import current_graph

    run_id: str = root.run_id  # type: ignore[attr-defined]
    asked = getattr(root, "reuse_from", "") or None
    existing = read_run_info(project, run_id)
    source = _reuse_source(project, run_id, existing, asked)
    create_or_check_run(project, run_id, source, existing)
    _take_lease(project, run_id)  # tells other commands (runs delete, invalidate, a second saver) it works on the run
    graph = current_graph()
    nodes = graph.closure(root)
    for task in nodes:  # now, so that an edit of the source during the run is not taken for what ran
        code_hash(task.node.func)
    forget_fingerprints()  # a notebook's earlier run may have seen other raw files
    for task in nodes:  # here, upstream first: workers forked by --workers N inherit them
        node_fingerprint(task, run_id)
    records = read_node_records(project, run_id)
    run_state = RunState(run_id)

    stale = []
    for task in nodes:
        rec = records.get(task.get_task_family())
        if rec and rec.status in COMPLETE and rec.fingerprint:
            current = node_fingerprint(task, run_id)
            why = None if current.missing else current.explain_change(
                Fingerprint.from_dict(rec.fingerprint), task.node.func_name
            )
            if why:
                stale.append(f"{task.get_task_family()}: {why}")
    if stale:
        raise RunError(
            f"Run '{run_id}' has stale results, made before these changes:\n  "
            + "\n  ".join(stale)
            + f"\nStart a new run: --run-id <new id> --reuse-from {run_id} (unchanged nodes are "
            f"reused), or rerun them in this run: luigi-tasks invalidate --run-id {run_id} --from <node>."
        )

    earlier = read_node_records(project, source) if source else {}
    stored = ((read_run_info(project, source) or {}).get("catalog") or {}) if source else {}
    stored_now = storage(project) if stored else {}
    reusable: dict[type[NodeTask], NodeRecord] = {}
    shared: dict[type[NodeTask], list[str]] = {}
    remade: dict[type[NodeTask], str] = {}  # complete, but runs again (why): what was made from it must too
    for task in nodes:
        family = task.get_task_family()
        rec = records.get(family)
        rewritten = _rewritten(project, rec) if rec and rec.status == "done" else []
        if rewritten:  # complete, but another run has rewritten its file since: this run's is gone
            run_state.must_run.add(family)
            run_state.outdated[family] = rec.ended  # type: ignore[union-attr]
            run_state.reasons[family] = (
                f"{', '.join(rewritten)}: rewritten or removed since this run saved it (not versioned)"
            )
            remade[task] = "its file was rewritten or removed"
            continue
        if rec and rec.status in COMPLETE:
            if missing_outputs(project, run_id, task, rec):
                remade[task] = "its outputs were gone"  # Luigi runs it again, into this run's versions
            elif rec.status == "reused":
                run_state.versions[family] = dict(rec.versions)
            continue
        unversioned = [name for name in task.node.outputs if not project.catalog.is_versioned(name)]
        if unversioned:
            shared[task] = unversioned
            run_state.reasons[family] = (
                f"{', '.join(unversioned)}: not versioned (one file for every run), so made again in each run"
            )
        if rec is not None:
            run_state.reasons[family] = reason_to_run(rec)
            if rec.status in ("failed", "invalidated"):
                run_state.must_run.add(family)  # a failure after its saves leaves outputs that exist
                continue
        if source is None:
            continue
        old = earlier.get(family)
        if old is None or old.status not in COMPLETE:
            run_state.reasons[family] = f"{'not in' if old is None else 'not complete in'} run {source}"
            continue
        if not old.fingerprint:  # it ran while a raw input upstream could not be hashed
            run_state.reasons[family] = f"no fingerprint to compare in run {source}"
            continue
        current = node_fingerprint(task, run_id)
        if current.missing:
            run_state.reasons[family] = f"raw input {', '.join(current.missing)} is missing"
            continue
        why = current.explain_change(Fingerprint.from_dict(old.fingerprint), task.node.func_name)
        moved = [n for n in task.node.outputs if n in stored and stored[n] != stored_now.get(n)]
        if why is None and moved:  # another type at the same filepath: its saved file is not what it reads now
            why = f"{moved[0]} is stored otherwise now (was {stored[moved[0]]}, now {stored_now.get(moved[0])})"
        versions = old.versions or dict.fromkeys(task.node.outputs, source)
        if why is None and all(project.catalog.dataset(n, v).exists() for n, v in versions.items()):
            reusable[task] = NodeRecord(
                node=family, run_id=run_id, status="reused", started=now(), ended=now(),
                versions=versions, outputs=dict(old.outputs), fingerprint=current.to_dict(),
                reused_from=source, reason=f"unchanged since run {source}",
            )
        else:
            run_state.reasons[family] = f"{why or 'outputs gone'} since run {source}"

    _remake_downstream(graph, nodes, records, remade, run_state)
    while True:  # each drop may make the other rule drop more
        _keep_shared_files_unread(graph, nodes, records, shared, reusable)
        if not _reuse_only_with_upstream(graph, nodes, records, reusable, remade, run_state, source):
            break
    for task in shared.keys() - reusable.keys():
        run_state.must_run.add(task.get_task_family())
    for reused in reusable.values():
        run_state.reasons.pop(reused.node, None)
        write_node_record(project, reused)
        run_state.versions[reused.node] = reused.versions
    run_state.nodes, run_state.asked = frozenset(nodes), asked
    return run_state


def _remake_downstream(
    graph: NodeGraph,
    nodes: list[type[NodeTask]],
    records: dict[str, NodeRecord],
    remade: dict[type[NodeTask], str],
    run_state: RunState,
) -> None:
    """Make every complete node downstream of a ``remade`` one run again: it was made from
    outputs that are now made anew, which a node that is not deterministic (a random split,
    a model's training) makes different, so keeping it would mix two versions of the data."""
    if not remade:
        return
    in_run, children = set(nodes), graph.children
    cause = {child: start for start in remade for child in children.get(start, [])}
    stack, seen = list(cause), set(remade)
    while stack:
        task = stack.pop()
        if task in seen or task not in in_run:
            continue
        seen.add(task)
        family, rec = task.get_task_family(), records.get(task.get_task_family())
        if rec is not None and rec.status in COMPLETE:
            run_state.must_run.add(family)
            run_state.outdated[family] = rec.ended
            run_state.versions.pop(family, None)  # a reused node runs again into this run's versions
            run_state.reasons[family] = (
                f"{cause[task].get_task_family()} upstream runs again ({remade[cause[task]]}), so what was "
                "made from it is made again too"
            )
        for child in children.get(task, []):
            cause.setdefault(child, cause[task])
            stack.append(child)


def _reuse_only_with_upstream(
    graph: NodeGraph,
    nodes: list[type[NodeTask]],
    records: dict[str, NodeRecord],
    reusable: dict[type[NodeTask], NodeRecord],
    remade: dict[type[NodeTask], str],
    run_state: RunState,
    source: str | None,
) -> bool:
    """Drop from ``reusable`` each node with an upstream node that is made in this run (it
    ran in it, runs again, or its outputs in the earlier run are gone): what the node made in
    run ``source`` came from that run's upstream data, which a node that is not deterministic
    (a random split, a model's training) makes different in this one. Returns whether any
    node was dropped."""
    dropped = False
    for task in nodes:  # upstream first: a node dropped here makes its downstream unsafe too
        if task not in reusable:
            continue
        made_here = [up for up in graph.upstream[task] if not _reused_here(up, records, reusable, remade, run_state)]
        if made_here:
            del reusable[task]
            run_state.reasons[task.get_task_family()] = (
                f"{made_here[0].get_task_family()} upstream is made in this run, not reused from run {source}, "
                f"so what was made from it in run {source} is made again too"
            )
            dropped = True
    return dropped


def _reused_here(
    task: type[NodeTask],
    records: dict[str, NodeRecord],
    reusable: dict[type[NodeTask], NodeRecord],
    remade: dict[type[NodeTask], str],
    run_state: RunState,
) -> bool:
    """Whether this run has ``task``'s outputs from the run it reuses from, as they are there."""
    if task in reusable:
        return True
    family = task.get_task_family()
    rec = records.get(family)
    return rec is not None and rec.status == "reused" and task not in remade and family not in run_state.must_run


def missing_outputs(project: Project, run_id: str, task: type[NodeTask], rec: NodeRecord) -> list[str]:
    """The outputs of ``task``, completed in run ``run_id`` as ``rec`` says, that are gone now
    (deleted by hand; for a reused one, the earlier run's version)."""
    return [n for n in task.node.outputs if not project.catalog.dataset(n, rec.versions.get(n, run_id)).exists()]


def _rewritten(project: Project, rec: NodeRecord) -> list[str]:
    """The unversioned outputs of ``rec``'s node whose file is no longer the one it saved."""
    return [name for name, stamp in rec.stamps.items() if project.catalog.dataset(name).stamp() != stamp]


def _keep_shared_files_unread(
    graph: NodeGraph,
    nodes: list[type[NodeTask]],
    records: dict[str, NodeRecord],
    shared: dict[type[NodeTask], list[str]],
    reusable: dict[type[NodeTask], NodeRecord],
) -> None:
    """Drop from ``reusable`` each node with an unversioned output that a node of this run
    would read, or that ends the run: that one file, shared by every run, may have been
    rewritten by another run since. Such a node runs again (as in Kedro), and only when it
    is needed; one whose readers are all reused (or done) is reused with them."""
    in_run = set(nodes)
    readers = {task: [r for r in graph.children.get(task, []) if r in in_run] for task in nodes}
    done = {task for task in nodes if (rec := records.get(task.get_task_family())) and rec.status in COMPLETE}
    for task in reversed(nodes):  # downstream first: a node dropped here makes its upstream unsafe too
        needed = not readers[task] or any(r not in reusable and r not in done for r in readers[task])
        if task in shared and task in reusable and needed:
            del reusable[task]


def _reuse_source(
    project: Project, run_id: str, existing: dict[str, Any] | None, reuse_from: str | None
) -> str | None:
    """The run that ``run_id`` (whose ``run.json`` is ``existing``, if created) reuses from.
    An existing run keeps the one it started with (given again, or left out; ``latest``
    means it too, as a resume command may repeat it).

    Raises:
        RunError: an existing run given another source than the one it started with.
    """
    started = existing.get("reuse_from") if existing else None
    if existing is not None and (reuse_from is None or (reuse_from == LATEST and started)):
        return started
    source = resolve_run(project, reuse_from, exclude=run_id) if reuse_from else None
    if existing is not None and source != started:
        raise RunError(
            f"Run '{run_id}' was started " + (f"reusing from run {started}" if started else "without --reuse-from")
            + f", so it cannot reuse from run {source} now: leave --reuse-from out to continue it, or start a "
            f"new run: --run-id <new id> --reuse-from {reuse_from}."
        )
    return source


def latest_run(project: Project, where: Callable[[str], bool] | None = None) -> str | None:
    """The newest run (by creation time) for which ``where(run_id)`` holds, if any."""
    for info in reversed(list_runs(project)):
        if where is None or where(info["run_id"]):
            return info["run_id"]
    return None


def named_run(project: Project, run_id: str) -> str:
    """``run_id``, or for ``latest`` the newest run.

    Raises:
        RunError: ``latest`` and there is no run yet.
    """
    if not is_latest(run_id):
        return run_id
    newest = latest_run(project)
    if newest is None:
        raise RunError(f"There is no run yet in {project.runs_dir}.")
    return newest


def resolve_run(project: Project, run_id: str, *, exclude: str | None = None) -> str:
    """A run to reuse from: a run id, or ``latest``: the newest run other than ``exclude``
    that completed at least one node (a run that failed at once has nothing to reuse).

    Raises:
        RunError: no such run.
    """
    if is_latest(run_id):

        def has_work(other: str) -> bool:
            return other != exclude and any(r.status in COMPLETE for r in read_node_records(project, other).values())

        found = latest_run(project, has_work)
        if found is None:
            raise RunError(
                f"--reuse-from latest: no earlier run in {project.runs_dir} has a completed node to reuse "
                "(an invalidated one no longer counts). Leave --reuse-from out to run every node."
            )
        return found
    if read_run_info(project, run_id) is None:
        known = [i["run_id"] for i in list_runs(project)][-5:]
        raise RunError(
            f"--reuse-from {run_id}: no such run in {project.runs_dir}. Recent runs: "
            f"{', '.join(known) or 'none'}. `luigi-tasks runs list` shows them all."
        )
    return run_id


def require_run(project: Project, run_id: str) -> dict[str, Any]:
    """Run ``run_id``'s ``run.json``.

    Raises:
        RunError: the run does not exist.
    """
    info = read_run_info(project, run_id)
    if info is None:
        raise RunError(f"Run '{run_id}' does not exist in {project.runs_dir}. `luigi-tasks runs list` shows the runs.")
    return info
