"""A run's outputs: load them as the run has them (its own versions, or those it reused),
read the numbers they hold (``runs list --metric``, ``runs compare``), set them aside so
that nodes run again (``luigi-tasks invalidate``), or delete a run (``runs delete``).

Example:
    >>> metrics = load_output("metrics", "exp2")      # even if exp2 reused it from exp1
    >>> invalidate(project, "exp2", TrainModel)       # TrainModel and downstream run again
"""

from __future__ import annotations

import posixpath
import socket
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from luigi_tasks.datasets import filesystem
from luigi_tasks.datasets.json import JSONDataset
from luigi_tasks.errors import DatasetError, RunError
from luigi_tasks.leases import live_writers
from luigi_tasks.node_records import COMPLETE, NodeRecord, read_node_records, write_node_record
from luigi_tasks.processes import exited_here
from luigi_tasks.project import Project, current_project
from luigi_tasks.run_info import (
    check_catalog,
    flatten,
    list_runs,
    moved_datasets,
    parameter_diff,
    recorded_filepath,
    remove_record,
)
from luigi_tasks.run_params import run_parameters
from luigi_tasks.runs import latest_run, require_run
from luigi_tasks.versioning import LATEST, is_latest, version_path

if TYPE_CHECKING:
    from luigi_tasks.node import NodeTask

Number = int | float


def output_version(records: dict[str, NodeRecord], name: str) -> str | None:
    """The run id whose version of dataset ``name`` a run's node ``records`` point at (the
    run's own, or an earlier run's if reused); ``None`` if no completed node saved it."""
    for record in records.values():
        if name in record.versions and record.status in COMPLETE:
            return record.versions[name]
    return None


def run_numbers(
    project: Project, info: dict[str, Any], records: dict[str, NodeRecord], unread: list[str], stored: dict[str, str]
) -> dict[str, Number]:
    """The numbers run ``info`` saved: those of every versioned JSON dataset (nested keys
    joined with dots: ``metrics.r2``), from the version its ``records`` point at (another
    run's, if reused). Why a saved one cannot be read is added to ``unread``. ``stored`` is
    the catalog's :func:`~luigi_tasks.run_info.storage`, worked out once for every run read."""
    run_id = info["run_id"]
    found: dict[str, Number] = {}
    for name in project.catalog:
        entry = project.catalog.entry(name)
        if not entry.versioned or not issubclass(entry.dataset_type, JSONDataset):
            continue
        version = output_version(records, name)
        if version is None:  # not saved in that run
            continue
        was, now = (info.get("catalog") or {}).get(name), stored.get(name)
        if was is not None and was != now:
            unread.append(
                f"{name} of run {run_id}: moved in the catalog since (was {was}, now {now}); "
                "restore the entry to see it"
            )
            continue
        try:
            value = project.catalog.load(name, run_id=version)
        except DatasetError as exc:  # deleted since
            unread.append(f"{name} of run {run_id}: {exc}")
            continue
        flat = flatten(value) if isinstance(value, dict) else {"": value}
        for key, number in flat.items():
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                found[f"{name}.{key}" if key else name] = number
    return found


def load_output(name: str, run_id: str = LATEST, project: Project | None = None) -> Any:
    """Load dataset ``name`` as run ``run_id`` has it: its own version, or the version it
    reused from an earlier run (which ``catalog.load(name, run_id)`` cannot find).

    For notebooks and scripts; ``latest`` is the newest run that saved ``name`` (a run that
    failed before, or ran only another pipeline, is passed over).

    Example:
        >>> metrics = load_output("metrics", "exp2")   # even if exp2 reused it from exp1

    Raises:
        RunError: no such run, or no node of the run saved ``name`` (it failed, or did not
            run yet).
        DatasetError: the saved file cannot be read (or was deleted since).
    """
    project = project or current_project()
    if is_latest(run_id):
        if not project.catalog.is_versioned(name):
            return project.catalog.load(name)
        found = latest_run(project, lambda r: output_version(read_node_records(project, r), name) is not None)
        if found is None:
            gone = [i["run_id"] for i in list_runs(project)
                    if _invalidated(read_node_records(project, i["run_id"]), name)]
            why = f" now: it was invalidated in run(s) {', '.join(gone)}{_ASIDE}" if gone else " yet"
            raise RunError(f"No run in {project.runs_dir} saved '{name}'{why}. `luigi-tasks runs list` shows the runs.")
        run_id = found
    info = require_run(project, run_id)
    check_catalog(project, info, f"its '{name}' cannot be loaded from there", [name])
    records = read_node_records(project, run_id)
    if not project.catalog.is_versioned(name):
        _refuse_rewritten(project, run_id, records, name)
        return project.catalog.load(name)
    version = output_version(records, name)
    if version is not None:
        return project.catalog.load(name, run_id=version)
    if info.get("catalog") and name not in info["catalog"]:
        why = "it was not in the catalog when the run was made: added since"
    else:
        why = f"it was invalidated{_ASIDE}" if _invalidated(records, name) else "it failed or did not run"
    raise RunError(
        f"Run '{run_id}' has no '{name}': no node saved it in that run ({why}). "
        f"`luigi-tasks runs show {run_id}` tells what happened."
    )


def _refuse_rewritten(project: Project, run_id: str, records: dict[str, NodeRecord], name: str) -> None:
    """Refuse an unversioned ``name`` whose one file is no longer the one run ``run_id`` saved
    (or reused): it holds another run's data now."""
    saved = next((r.stamps[name] for r in records.values() if r.status in COMPLETE and name in r.stamps), None)
    if saved is not None and project.catalog.dataset(name).stamp() != saved:
        raise RunError(
            f"'{name}' is not versioned (one file for every run), and its file {project.catalog.dataset(name).path} "
            f"was rewritten or removed since run '{run_id}' saved it: it holds another run's data now, or none. "
            f"Run {run_id} again to make it again, or set 'versioned: true' on it to keep each run's."
        )


_ASIDE = " (`luigi-tasks invalidate` kept each old file beside it, as <file>.aside-<time>)"


def _invalidated(records: dict[str, NodeRecord], name: str) -> bool:
    """Whether the node that saved ``name`` in these records was invalidated since."""
    return any(rec.status == "invalidated" and name in rec.outputs for rec in records.values())


def _refuse_while_worked_on(project: Project, run_id: str, what_to_do: str) -> None:
    """Refuse while a node of the run runs (its record says so), or another process of this
    host works on the run (a command that prepared it, a node not yet started or quick)."""
    running = [rec for rec in read_node_records(project, run_id).values() if _still_running(rec)]
    busy = [f"{rec.node} ({_where(rec)})" for rec in running]
    busy += [
        f"pid {pid} on this host (a command on it, or a Python process that ran it and lives on, such as a "
        "notebook's kernel: it holds the run until it exits)"
        for pid in live_writers(project, run_id) if pid not in {r.pid for r in running}
    ]
    if busy:
        raise RunError(f"Run '{run_id}' is being run now: {', '.join(busy)}. {what_to_do}")


def _still_running(rec: NodeRecord) -> bool:
    """Whether ``rec`` is of a node running now: its worker is on another host (which cannot
    be asked), or has not exited here (the test ``runs show`` makes for "interrupted")."""
    return rec.status == "running" and not exited_here(rec.host, rec.pid)


def _where(rec: NodeRecord) -> str:
    return f"pid {rec.pid} on this host" if rec.host == socket.gethostname() else f"host {rec.host}, pid {rec.pid}"


def invalidate(project: Project, run_id: str, start: type[NodeTask]) -> list[tuple[str, list[str], bool]]:
    """Make ``start`` and everything downstream of it run again in run ``run_id``.

    Their outputs in this run are moved aside (never deleted); outputs reused from another
    run, and unversioned files (shared by every run), are left where they are. Returns each
    node with the paths it set aside, and whether it was invalidated already (then nothing
    is recorded again).

    Raises:
        RunError: another run reuses one of those outputs (it would lose it): the message
            names those runs, which are to be invalidated first; or one of those nodes is
            running now (its save would undo this).
    """
    from luigi_tasks.graph import current_graph

    info = require_run(project, run_id)
    diff = parameter_diff(info.get("parameters") or {}, run_parameters(project, run_id))
    if diff:  # the rerun would be refused, leaving the run with its outputs set aside
        raise RunError(
            f"Run '{run_id}' was started with other parameters, so its nodes cannot run again with these:\n  "
            + "\n  ".join(diff)
            + f"\nNothing was invalidated. Restore them to rerun nodes of {run_id}, or start a new run: "
            f"--run-id <new id> --reuse-from {run_id}."
        )
    tasks = current_graph().downstream_closure(start)
    outputs = {name for task in tasks for name in task.node.outputs}
    check_catalog(project, info, "their outputs cannot be set aside", outputs)
    users = [
        (other, rec.node)
        for other in (i["run_id"] for i in list_runs(project) if i["run_id"] != run_id)
        for rec in read_node_records(project, other).values()
        if any(rec.versions.get(name) == run_id for name in outputs)
    ]
    if users:
        raise RunError(
            f"Other runs reuse outputs of run '{run_id}' that this would set aside: "
            + ", ".join(f"{node} in run {other}" for other, node in users)
            + ". Invalidate those first (luigi-tasks invalidate --run-id <run> --from <node>), then this."
        )
    records = read_node_records(project, run_id)
    _refuse_while_worked_on(
        project, run_id,
        "Invalidating now would be undone when it saves: wait until it ends (or stop it), then invalidate.",
    )
    done = []
    for task in tasks:
        family = task.get_task_family()
        rec = records.get(family)
        moved = []
        for name in task.node.outputs:
            target = project.catalog.dataset(name, run_id)
            # An unversioned file is every run's: left in place (the node's rerun rewrites it).
            if target.version is not None and target.exists():
                moved.append(target.set_aside())
        already = rec is not None and rec.status == "invalidated" and not moved
        if not already:
            base = rec or NodeRecord(node=family, run_id=run_id, status="invalidated")
            write_node_record(
                project, replace(base, status="invalidated", versions={}, fingerprint=None, reused_from=None,
                                 reason="invalidated", error=None),
            )
        done.append((family, moved, already))
    return done


def delete_run(project: Project, run_id: str, *, dry_run: bool = False) -> list[str]:
    """Delete run ``run_id``: every versioned dataset's version of it (the folder
    ``<filepath>/<run id>/``, files set aside there too) and its record. Unversioned files are
    every run's and stay. A dataset of the run no longer in the catalog, or stored elsewhere
    now, is found where the run recorded it. Returns the folders deleted (with ``dry_run``:
    those it would delete).

    Raises:
        RunError: another run reuses an output of this one (it would lose it: delete that run
            first), or a node of it is running now.
    """
    info = require_run(project, run_id)
    moved = moved_datasets(project, info)  # another overlay or entry since: deleted where the run saved them
    names = [name for name in project.catalog if project.catalog.is_versioned(name) and name not in moved]
    others = [i["run_id"] for i in list_runs(project) if i["run_id"] != run_id]
    users = [
        other for other in others
        if any(run_id in rec.versions.values() for rec in read_node_records(project, other).values())
    ]
    if users:
        raise RunError(
            f"Run(s) {', '.join(users)} reuse outputs of run '{run_id}', which they would lose. Nothing was "
            f"deleted. Delete those runs first, or keep {run_id}."
        )
    _refuse_while_worked_on(project, run_id, "Nothing was deleted: wait until it ends (or stop it), then delete it.")
    gone = []
    for name in names:
        target = project.catalog.dataset(name, run_id)
        if target.remove_version(dry_run=dry_run):
            gone.append(posixpath.dirname(target.path))
    for name, where in (info.get("catalog") or {}).items():
        path = recorded_filepath(project, where) if name not in project.catalog or name in moved else None
        folder = posixpath.dirname(version_path(path, run_id)) if path is not None else None
        if folder is not None and _remove_folder(folder, dry_run):
            gone.append(folder)
    gone.append(remove_record(project, run_id, dry_run=dry_run))
    return list(dict.fromkeys(gone))  # a renamed dataset at the same filepath: one folder


def _remove_folder(folder: str, dry_run: bool) -> bool:
    """Remove ``folder`` (with ``dry_run``, only say whether it is there)."""
    fs, path = filesystem.resolve(folder)
    try:
        if not fs.exists(path):
            return False
        if not dry_run:
            fs.rm(path, recursive=True)
    except OSError as exc:
        raise RunError(f"{folder} could not be deleted: {exc.strerror or exc}. Nothing after it was deleted.") from None
    return True
