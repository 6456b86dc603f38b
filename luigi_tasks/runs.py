"""Finding runs: by id, the newest (``latest``), one to reuse from.

A run is everything under one run id: its ``run.json`` (:mod:`luigi_tasks.run_info`), its
node records (:mod:`luigi_tasks.node_records`), and each dataset's version ``<filepath>/<run_id>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from luigi_tasks.errors import RunError
from luigi_tasks.node_records import COMPLETE, read_node_records
from luigi_tasks.project import Project
from luigi_tasks.run_info import list_runs, read_run_info
from luigi_tasks.versioning import is_latest


def latest_run(project: Project, where: Callable[[str], bool] | None = None) -> str | None:
    """The newest run (by creation time) for which ``where(run_id)`` holds, if any."""
    for info in reversed(list_runs(project)):
        if where is None or where(info["run_id"]):
            return cast(str, info["run_id"])
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
