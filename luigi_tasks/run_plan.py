"""Preparing a run: before anything is scheduled, decide what counts as done, what runs, and what is reused.

:func:`prepare` runs once per process and run, for the root task. It refuses a run id that
was created with other parameters or catalog entries, or whose completed nodes are stale
(code, parameters or an input changed since: :mod:`luigi_tasks.fingerprint`), and decides
which nodes are reused from an earlier run (``--reuse-from``): a node whose fingerprint is
unchanged there, whose outputs there still exist, and whose upstream nodes are all reused
too. The result, :class:`RunState`, tells each node why it runs and which outputs exist
but do not count (a failed node's, an unversioned file another run rewrote).

Example:
    >>> run_state = prepare(FullPipeline(run_id="r2", reuse_from="r1"))
    >>> run_state.reasons["data_science.TrainModel"]
    'parameters changed since run r1'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import luigi

from luigi_tasks.config import require_luigi_cfg_read, require_own_code
from luigi_tasks.errors import RunError
from luigi_tasks.fingerprint import Fingerprint, code_hash, forget_fingerprints, node_fingerprint
from luigi_tasks.leases import take_lease
from luigi_tasks.node_records import (
    COMPLETE,
    NodeRecord,
    current_node_record,
    read_node_records,
    reason_to_run,
    write_node_record,
)
from luigi_tasks.project import Project, current_project
from luigi_tasks.run_info import create_or_check_run, now, read_run_info, storage
from luigi_tasks.run_params import apply, canonical, parse, recorded, set_run_parameters
from luigi_tasks.runs import resolve_run
from luigi_tasks.versioning import LATEST, RunOption, is_latest, validate_run_id

if TYPE_CHECKING:
    from luigi_tasks.graph import NodeGraph
    from luigi_tasks.node import NodeTask


class ReuseFromParameter(RunOption):
    """``--reuse-from RUN|latest``: start a new run from an earlier one.

    Nodes whose fingerprint is unchanged since that run are not run again; the new run's
    record points at their outputs there (no copy).
    """

    help = "Reuse unchanged nodes' outputs from this earlier run id (or 'latest')."

    def normalize(self, x: Any) -> str:
        return LATEST if is_latest(x) else "" if x in ("", None) else validate_run_id(x)


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
    params: str = ""

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
    given = getattr(root, "params", "")
    if (
        prepared is None or (asked and asked != prepared.asked) or (given and given != prepared.params)
        or not prepared.covers(root)
    ):
        require_luigi_cfg_read(project.root)  # `luigi` run from a subfolder: refused
        require_own_code(project.root, type(root).__module__)  # another checkout's code: refused
        states[run_id] = _prepare(project, root)
    return states[run_id]


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


def _prepare(project: Project, root: luigi.Task) -> RunState:
    from luigi_tasks.graph import current_graph

    run_id: str = root.run_id  # type: ignore[attr-defined]
    asked = getattr(root, "reuse_from", "") or None
    graph = current_graph()
    nodes = graph.closure(root)
    for task in nodes:  # before anything is saved: a dataset that cannot be made (s3:// without s3fs) is refused
        for name in task.node.outputs:
            project.catalog.dataset(name, run_id)
    existing = read_run_info(project, run_id)
    source = _reuse_source(project, run_id, existing, asked)
    overrides = _run_params(run_id, existing, getattr(root, "params", ""))
    parameters = apply(project, overrides)
    set_run_parameters(project, run_id, parameters)  # what its nodes read and are fingerprinted with
    info = create_or_check_run(project, run_id, source, existing, parameters, overrides)
    take_lease(project, run_id)  # tells other commands (runs delete, invalidate, a second saver) it works on the run
    for task in nodes:  # now, so that an edit of the source during the run is not taken for what ran
        code_hash(task.node.func)
    forget_fingerprints()  # a notebook's earlier run may have seen other raw files
    for task in nodes:  # here, upstream first: workers forked by --workers N inherit them
        node_fingerprint(task, run_id)
    records = read_node_records(project, run_id)
    _adopt_renamed(project, graph, nodes, records)
    _refuse_moved_outputs(project, info, records, run_id)
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
        rewritten = rewritten_outputs(project, rec) if rec and rec.status in COMPLETE else []
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
        rewritten = rewritten_outputs(project, old)
        if why is None and rewritten:  # its one file holds another run's result now
            why = f"{', '.join(rewritten)} rewritten or removed (not versioned)"
        if why is None and all(project.catalog.dataset(n, v).exists() for n, v in versions.items()):
            reusable[task] = NodeRecord(
                node=family, run_id=run_id, status="reused", started=now(), ended=now(),
                versions=versions, outputs=dict(old.outputs), stamps=dict(old.stamps), fingerprint=current.to_dict(),
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
    run_state.nodes, run_state.asked, run_state.params = frozenset(nodes), asked, canonical(overrides)
    return run_state


def _adopt_renamed(
    project: Project, graph: NodeGraph, nodes: list[type[NodeTask]], records: dict[str, NodeRecord]
) -> None:
    """Give a renamed node (``node(f, ..., name=...)``, another namespace) the record its old
    name left in the run: the record of a node no longer in the pipelines that completed
    with exactly its outputs. Its outputs are then its own, and judged as any node's (stale
    if its code changed too); without it the run counted them done and the node not run."""
    known = {task.get_task_family() for task in graph.upstream}
    orphans = {
        frozenset(rec.outputs): rec for rec in records.values() if rec.node not in known and rec.status in COMPLETE
    }
    for task in nodes:
        family = task.get_task_family()
        old = orphans.get(frozenset(task.node.outputs)) if family not in records else None
        if old is not None:
            records[family] = replace(
                old, node=family, renamed_from=old.node, reason=f"{old.reason or 'ran'} (as {old.node}, renamed since)"
            )
            write_node_record(project, records[family])


def _refuse_moved_outputs(
    project: Project, info: dict[str, Any], records: dict[str, NodeRecord], run_id: str
) -> None:
    """Refuse when a dataset the run saved, which its ``run.json`` does not record (added to
    the catalog after the run was created), is stored elsewhere now: its node would run again
    as if its outputs were gone, and leave the saved version where no command finds it.
    (``run.json``'s datasets are checked by :func:`luigi_tasks.run_info.check_catalog`.)

    Raises:
        RunError: naming each such dataset, where it was saved and where it points now.
    """
    recorded = info.get("catalog") or {}
    moved = []
    for rec in records.values():
        if rec.status not in COMPLETE:
            continue
        for name, saved in rec.outputs.items():
            if name in recorded or name not in project.catalog or "://" in saved:
                continue
            now = project.catalog.dataset(name, rec.versions.get(name, run_id)).path
            here = now.removeprefix(project.root.as_posix() + "/")  # a moved checkout keeps its runs
            if saved != now and not saved.endswith("/" + here):
                moved.append(f"{name}: saved at {saved}, now {now}")
    if moved:
        raise RunError(
            f"Run '{run_id}' saved these datasets (added to the catalog after it was created) elsewhere than the "
            "catalog says now; its outputs must stay where it saved them, so it cannot continue with these:\n  "
            + "\n  ".join(sorted(moved))
            + f"\nRestore those entries (config/catalog.yml, config/{project.env}/catalog.yml), or start a new "
            "run: --run-id <new id>."
        )


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
    (deleted by hand; for a reused one, the earlier run's version). An output the record does
    not name (renamed since: then the node is stale) is not looked for."""
    named = [n for n in task.node.outputs if not rec.versions or n in rec.versions]
    return [n for n in named if not project.catalog.dataset(n, rec.versions.get(n, run_id)).exists()]


def rewritten_outputs(project: Project, rec: NodeRecord) -> list[str]:
    """The unversioned outputs of ``rec``'s node whose file is no longer the one it saved (or,
    reused, the one the run it was reused from saved)."""
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


def _run_params(run_id: str, existing: dict[str, Any] | None, given: str) -> dict[str, Any]:
    """The ``--params`` of run ``run_id`` (whose ``run.json`` is ``existing``, if created).
    An existing run keeps those it started with, given again or left out.

    Raises:
        RunError: an existing run given other ``--params`` than it started with.
    """
    asked = parse(given)
    if existing is None:
        return asked
    started = recorded(existing)
    if asked and canonical(asked) != canonical(started):  # as typed: 1 is not true, nor 42 42.0
        shown = f"with --params {canonical(started)}" if started else "without --params"
        raise RunError(
            f"Run '{run_id}' was started {shown}; one run is one experiment, so it cannot continue with "
            f"--params {canonical(asked)}: leave --params out to continue it, or start a new run: "
            f"--run-id <new id> --reuse-from {run_id} --params {canonical(asked)}."
        )
    return started


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
