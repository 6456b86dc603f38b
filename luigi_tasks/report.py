"""What a ``luigi`` command says last: the run id, and for a failed run why and how to resume.

Luigi prints its own summary and then exits; with ``--workers N`` the tasks' events fire
in child processes. So the report is printed from the main process at exit, reading what
failed from the run records (written by whichever process ran the node) and what could
not be scheduled from Luigi's events, which fire in the main process.
"""

from __future__ import annotations

import atexit
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import luigi
import luigi.interface
from luigi.cmdline_parser import CmdlineParser
from luigi.rpc import RPCError

if TYPE_CHECKING:
    from luigi_tasks.project import Project


def describe(value: Any) -> str:
    """A short description of a node's input or output for status messages and logs."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return "(" + "x".join(str(n) for n in shape) + ")"
    if isinstance(value, dict) and value and all(isinstance(v, (int, float)) for v in value.values()):
        return "{" + ", ".join(f"{k}={v:.4g}" for k, v in value.items()) + "}"
    return f"({type(value).__name__})"


class RunReport:
    """Collects, in the process that parsed the command line, what to say at exit."""

    def __init__(self) -> None:
        self.root: luigi.Task | None = None
        self._pid = os.getpid()
        self.problems: list[str] = []
        #: Whether Luigi's worker got as far as checking tasks (it may stop before: a bad
        #: config/logging.ini, for one, raises while Luigi sets up logging).
        self.scheduling = False

    def task_created(self, task: luigi.Task) -> None:
        """Called by every node and pipeline task; the first one of a command is its root."""
        if self.root is None and CmdlineParser.get_instance() is not None:
            self.root, self._pid = task, os.getpid()
            atexit.register(self._at_exit)

    def broken(self, task: luigi.Task, exception: BaseException) -> None:
        """Luigi could not check or schedule ``task`` (its ``complete()`` or ``requires()`` raised)."""
        if isinstance(exception, RPCError):
            port = urlsplit(luigi.interface.core().scheduler_url or "").port or 8082
            self.problems.append(
                f"the central scheduler does not answer ({exception}). Start it with: luigid "
                f"--background --address 127.0.0.1 --port {port} --pidfile .luigid/pid --logdir "
                ".luigid --state-path .luigid/state.pickle ; or run without it: add --local-scheduler."
            )
            return
        self.problems.append(f"{task.task_id} could not be scheduled: {type(exception).__name__}: {exception}")

    def missing(self, task: luigi.Task) -> None:
        """Luigi found ``task`` incomplete and cannot run it, or its ``complete()`` raised."""
        try:
            task.complete()
        except Exception as exc:  # noqa: BLE001 - a complete() that raises is reported, not raised again
            self.broken(task, exc)
            return
        if isinstance(task, luigi.ExternalTask):
            target = task.output()
            declared = getattr(target, "declared_in", None) or "config/catalog.yml"
            what = (
                f"Put the file there, or fix its filepath in {declared}."
                if getattr(target, "version", None) is None
                else "It is versioned, so each run reads its own version, which no node of this module "
                f"makes: run the module that makes it with this --run-id first, or, for a raw input, "
                f"remove 'versioned: true' in {declared}."
            )
            self.problems.append(
                f"raw dataset '{getattr(task, 'dataset', task.task_id)}' is missing: expected at "
                f"{getattr(target, 'path', target)}. {what}"
            )

    def died(self, task: luigi.Task, message: str) -> None:
        """A worker process running ``task`` ended without reporting (killed, crashed)."""
        self.problems.append(message)

    def checked(self, *_: Any) -> None:
        """Luigi's worker checked a task (found it complete, missing, or with dependencies)."""
        self.scheduling = True

    def connect(self, task_class: type[luigi.Task]) -> None:
        """Listen to ``task_class``'s Luigi events (they fire in the scheduling process)."""
        task_class.event_handler(luigi.Event.BROKEN_TASK)(self.broken)
        task_class.event_handler(luigi.Event.DEPENDENCY_MISSING)(self.missing)
        task_class.event_handler(luigi.Event.PROCESS_FAILURE)(self.died)
        for event in (luigi.Event.DEPENDENCY_DISCOVERED, luigi.Event.DEPENDENCY_PRESENT,
                      luigi.Event.DEPENDENCY_MISSING, luigi.Event.BROKEN_TASK, luigi.Event.START):
            task_class.event_handler(event)(self.checked)

    def lines(self, project: Project | None) -> list[str]:
        """The closing lines for the root task's run."""
        from luigi_tasks import runs  # late: runs imports the project, which imports this

        if self.root is None:
            return []
        run_id = self.root.run_id  # type: ignore[attr-defined]
        problems = list(dict.fromkeys(self.problems))
        try:
            complete = self.root.complete()
        except Exception:  # noqa: BLE001 - an unanswerable root is reported as not complete
            complete = False
        if complete and not problems:
            return [f"luigi-tasks: run {run_id} is complete."]
        records = runs.read_node_records(project, run_id).values() if project is not None else []
        failed = [f"{r.node} failed: {r.error}" for r in records if r.status == "failed"]
        problems += failed
        if not problems and not self.scheduling:
            return [
                f"luigi-tasks: run {run_id} did not start here: Luigi stopped before checking any task "
                "(the reason is above: for one, the same command already running on this host, or an "
                "error in config/logging.ini).",
                f"luigi-tasks: once that is resolved, run the same command: {self.resume_command(run_id)}",
            ]
        if not problems:  # nothing failed here: others run part of it, or the scheduler held tasks back
            here = (socket.gethostname(), os.getpid())
            elsewhere = [
                f"{r.node} (host {r.host}, pid {r.pid})"
                for r in records
                if r.status == "running" and (r.host, r.pid) != here
            ]
            where = (
                "continues in other workers: " + ", ".join(elsewhere)
                if elsewhere
                else "is not complete, and nothing failed in this process: other workers may be running it, or "
                "the scheduler held tasks back (Luigi's summary above says which)"
            )
            return [
                f"luigi-tasks: run {run_id} {where}.",
                f"luigi-tasks: this command continues it, or tells the outcome once the others end (exit 0 if "
                f"complete): {self.resume_command(run_id)}",
            ]
        out = [f"luigi-tasks: run {run_id} did not complete."]
        out += [f"luigi-tasks:   {p}" for p in problems]
        if failed:  # a node's error may come from a parameter; fixing it there is a new experiment
            out.append(
                "luigi-tasks: (if the fix is other parameters, that is a new run: the same command with --run-id "
                f"<new id> --reuse-from {run_id})"
            )
        out.append(f"luigi-tasks: resume with: {self.resume_command(run_id)}")
        return out

    def resume_command(self, run_id: str) -> str:
        """The command line of this process, with ``--run-id`` made explicit."""
        return luigi_command(sys.argv[1:], run_id)

    def _at_exit(self) -> None:
        if os.getpid() != self._pid:
            return
        from luigi_tasks.project import current_project

        try:
            project = current_project()
        except Exception:  # noqa: BLE001 - the summary is printed whatever the project's state
            project = None
        sys.stderr.write("\n".join(self.lines(project)) + "\n")
        sys.stderr.flush()


def luigi_command(args: Sequence[str], run_id: str) -> str:
    """``luigi <args>`` for run ``run_id``, with ``--run-id`` made explicit."""
    if not any(a == "--run-id" or a.startswith("--run-id=") for a in args):
        args = [*args, "--run-id", run_id]
    return shlex.join(["luigi", *args])


report = RunReport()
