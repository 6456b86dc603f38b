"""What a ``luigi`` command says last: the run id, and for a failed run why and how to resume.

Luigi prints its own summary and then exits; with ``--workers N`` the tasks' events fire
in child processes. So the report is printed from the main process at exit, reading what
failed from the run records (written by whichever process ran the node) and what could
not be scheduled from Luigi's events, which fire in the main process.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import re
import shlex
import signal
import socket
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import luigi
import luigi.configuration
import luigi.interface
from luigi.cmdline_parser import CmdlineParser
from luigi.rpc import RPCError

from luigi_tasks import interrupts, status
from luigi_tasks.errors import ConfigError
from luigi_tasks.processes import exited_here

if TYPE_CHECKING:
    from luigi_tasks import node_records
    from luigi_tasks.project import Project

#: Luigi's message when a task's process ends without reporting (``--workers N``).
_DIED = re.compile(r"died unexpectedly with exit code (-?\d+)")


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
        #: The central scheduler this command uses (``None``: ``--local-scheduler``).
        self.scheduler_url: str | None = None
        self._scheduler_checked = False
        #: Nodes this process was running when Ctrl-C stopped it.
        self.interrupted: list[str] = []
        #: ``<node> failed: <error>`` for each node that failed in this process: its record says
        #: so too, unless it could not be written.
        self.failed_here: list[str] = []

    def task_created(self, task: luigi.Task) -> None:
        """Called by every node and pipeline task; the first one of a command is its root.

        For the root, before anything is scheduled: a ``--scheduler-host``/``--scheduler-port``
        that a ``scheduler_url`` overrides is refused, and luigid is asked to prune (release
        the tasks of workers it has not heard from for ``[scheduler] worker_disconnect_delay``,
        as it does every minute), so a rerun after a killed worker gets its tasks.

        Raises:
            ConfigError: ``--scheduler-host``/``--scheduler-port`` that would be ignored.
        """
        if self.root is None and CmdlineParser.get_instance() is not None:
            self.before_run()
            self.root, self._pid = task, os.getpid()
            atexit.register(self._at_exit)
            interrupts.watch()
            # What the closing lines use, imported now: a module first imported at exit makes
            # Python exit 1, not 130, after Ctrl-C (it forgets the interrupt).
            importlib.import_module("luigi_tasks.scheduler")
            if self.scheduler_url is not None:
                _prune(self.scheduler_url)

    def before_run(self) -> None:
        """Called by node and pipeline tasks before their run is prepared (``run.json``
        written): once per ``luigi`` command, refuse a ``--scheduler-host``/``--scheduler-port``
        that a ``scheduler_url`` overrides, and note the scheduler in use.

        Raises:
            ConfigError: ``--scheduler-host``/``--scheduler-port`` that would be ignored.
        """
        if not self._scheduler_checked and CmdlineParser.get_instance() is not None:
            _check_run_options(sys.argv[1:])
            self.scheduler_url = scheduler_in_use()
            self._scheduler_checked = True

    def interrupted_in(self, node: str) -> None:
        """Ctrl-C stopped ``node`` in this process (said at exit when this is the main one)."""
        self.interrupted.append(node)

    def broken(self, task: luigi.Task, exception: BaseException) -> None:
        """Luigi could not check or schedule ``task`` (its ``complete()`` or ``requires()`` raised)."""
        if isinstance(exception, RPCError):
            port = urlsplit(luigi.interface.core().scheduler_url or "").port or 8082
            self.problems.append(
                f"the central scheduler does not answer ({exception}). Start it with: luigi-tasks scheduler "
                f"start --port {port} ; or run without it: add --local-scheduler."
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
                (target.missing_hint() if hasattr(target, "missing_hint") else f"Put the file there, or fix its "
                 f"filepath in {declared}.")
                if getattr(target, "version", None) is None
                else "It is versioned, so each run reads its own version, which no node of this module "
                f"makes: run the module that makes it with this --run-id first, or, for a raw input, "
                f"remove 'versioned: true' in {declared}."
            )
            self.problems.append(
                f"raw dataset '{getattr(task, 'dataset', task.task_id)}' is missing: expected at "
                f"{getattr(target, 'path', target)}. {what}"
            )

    def failed(self, task: luigi.Task, exception: BaseException) -> None:
        """``task`` failed in this process: a node (its record says so too, if it could be
        written) or a pipeline task (Luigi fails one whose parts are missing when it runs)."""
        line = f"{task.get_task_family()} failed: {type(exception).__name__}: {exception}"
        if line not in self.failed_here:
            self.failed_here.append(line)

    def died(self, task: luigi.Task, message: str) -> None:
        """A worker process running ``task`` ended without reporting (killed, crashed)."""
        code = _DIED.search(message)
        if code is not None:  # Luigi's message names the task id and a bare exit code
            n = int(code.group(1))
            how = (
                f"exit code {n}" if n >= 0
                else "killed by SIGKILL: out of memory, or kill -9" if n == -signal.SIGKILL
                else f"killed by signal {-n}"
            )
            message = (
                f"{task.get_task_family()} died: its process ended ({how}) before the node finished, so "
                "nothing it saved counts as done"
            )
        self.problems.append(message)

    def checked(self, *_: Any) -> None:
        """Luigi's worker checked a task (found it complete, missing, or with dependencies)."""
        self.scheduling = True

    def connect(self, task_class: type[luigi.Task]) -> None:
        """Listen to ``task_class``'s Luigi events (they fire in the scheduling process)."""
        task_class.event_handler(luigi.Event.BROKEN_TASK)(self.broken)
        task_class.event_handler(luigi.Event.DEPENDENCY_MISSING)(self.missing)
        task_class.event_handler(luigi.Event.PROCESS_FAILURE)(self.died)
        task_class.event_handler(luigi.Event.FAILURE)(self.failed)
        for event in (luigi.Event.DEPENDENCY_DISCOVERED, luigi.Event.DEPENDENCY_PRESENT,
                      luigi.Event.DEPENDENCY_MISSING, luigi.Event.BROKEN_TASK, luigi.Event.START):
            task_class.event_handler(event)(self.checked)

    def lines(self, project: Project | None) -> list[str]:
        """The closing lines for the root task's run."""
        from luigi_tasks import node_records  # late: it imports the project, which imports this

        if self.root is None:
            return []
        run_id = self.root.run_id  # type: ignore[attr-defined]
        problems = list(dict.fromkeys(self.problems))
        try:
            complete = self.root.complete()
        except Exception:  # noqa: BLE001 - an unanswerable root is reported as not complete
            complete = False
        if complete and not problems:
            return [self._complete(project, run_id), *self._scheduler_gone()]
        records = node_records.read_node_records(project, run_id).values() if project is not None else []
        if interrupts.interrupted():
            return self._interrupted(run_id, list(records))
        failed = list(dict.fromkeys([f"{r.node} failed: {r.error}" for r in records if r.status == "failed"]
                                    + self.failed_here))
        problems += [line for line in failed if line not in problems]
        if not problems and not self.scheduling:
            return [
                f"luigi-tasks: run {run_id} did not start here: Luigi stopped before checking any task "
                "(Luigi printed why: 'Pid(s) ... already running' on standard output when the same command "
                "runs on this host, or an error in config/logging.ini above).",
                f"luigi-tasks: once that is resolved, run the same command: {self.resume_command(run_id)}",
            ]
        if not problems:  # nothing failed here: others run part of it, or the scheduler held tasks back
            return self._unfinished(run_id, list(records))
        out = [f"luigi-tasks: run {run_id} did not complete."]
        out += [f"luigi-tasks:   {p}" for p in problems]
        if failed and (hint := self.new_run_hint(run_id)):  # a node's error may come from a parameter
            out.append(f"luigi-tasks: {hint}")
        out.append(f"luigi-tasks: resume with: {self.resume_command(run_id)}")
        return out

    def _scheduler_gone(self) -> list[str]:
        """A line saying the central scheduler stopped answering, if it did: then Luigi exits
        40 (unhandled_exception) although the run is complete."""
        from luigi_tasks import scheduler  # late: it imports the command-line helpers

        url = self.scheduler_url
        if url is None or scheduler.answers(url):
            return []
        return [
            f"luigi-tasks: (the central scheduler at {url} stopped answering during the run, so Luigi exits with "
            f"an error code; nothing is missing. Start it again before the next run: {start_command(url)}.)"
        ]

    def new_run_hint(self, run_id: str) -> str | None:
        """The line saying that a fix by other parameters is a new run, with its command; ``None``
        when the root task cannot reuse (a single node: only pipeline tasks take --reuse-from)."""
        if self.root is None or not hasattr(self.root, "reuse_from"):
            return None
        return f"(if the fix is other parameters, that is a new run: {new_run_command(run_id)})"

    def _complete(self, project: Project | None, run_id: str) -> str:
        """The closing line of a complete root: the run's, or of the part of it asked for
        (unless the rest is complete too, made by other commands)."""
        from luigi_tasks import node_records, run_plan  # late: these import this module
        from luigi_tasks.graph import current_graph
        from luigi_tasks.node_records import COMPLETE
        from luigi_tasks.pipeline import pipeline_nodes

        assert self.root is not None  # called by lines() only, which returned early without a root
        prepared = run_plan.state(project, run_id).nodes if project is not None else frozenset()
        asked = prepared or frozenset(current_graph().closure(self.root))
        if len(asked) == len(current_graph().upstream):  # the root needs every node there is
            return f"luigi-tasks: run {run_id} is complete."
        every = pipeline_nodes()
        rest = list(set(every) - asked)
        records = node_records.read_node_records(project, run_id) if project is not None and rest else {}
        if all((r := records.get(task.get_task_family())) is not None and r.status in COMPLETE for task in rest):
            return f"luigi-tasks: run {run_id} is complete."
        return (
            f"luigi-tasks: {self.root.get_task_family()} is complete in run {run_id} ({len(asked)} of "
            f"the pipelines' {len(every)} nodes; `luigi-tasks runs show {run_id}` lists the others)."
        )

    def _interrupted(self, run_id: str, records: list[node_records.NodeRecord]) -> list[str]:
        """The closing lines of a run that Ctrl-C (SIGINT) stopped."""
        stopped = list(self.interrupted)  # with --workers N: the forked workers' running records
        stopped += [r.node for r in records if r.status == "running" and r.node not in stopped
                    and r.pid != os.getpid() and exited_here(r.host, r.pid)]
        where = f" while {', '.join(stopped)} ran" if stopped else ""
        lines = [
            f"luigi-tasks: run {run_id} was interrupted (Ctrl-C){where}; a node that did not finish does not count "
            "as done (what it saved is set aside when it runs again).",
            f"luigi-tasks: resume with: {self.resume_command(run_id)}",
        ]
        if stopped and self.scheduler_url is not None:
            lines.append(
                "luigi-tasks: (luigid keeps a node that was running held for about a minute after its worker went "
                "away, [scheduler] worker_disconnect_delay: a resume before then exits 25 and says which)"
            )
        return lines

    def _unfinished(self, run_id: str, records: list[node_records.NodeRecord]) -> list[str]:
        """The closing lines of a run not complete with nothing failed in this process: it goes
        on in other workers, a worker that held part of it exited, or the central scheduler
        stopped answering or lost the run."""
        from luigi_tasks import scheduler  # late: it imports the command-line helpers

        resume = self.resume_command(run_id)
        url = self.scheduler_url
        held: dict[str, tuple[str, int]] = {}  # node -> (host, pid) of the worker luigid says runs it
        if url is not None and self.root is not None:
            try:
                tasks = scheduler.run_tasks(url, run_id)
            except (OSError, ValueError, KeyError):
                return [
                    f"luigi-tasks: run {run_id} is not complete: the central scheduler at {url} stopped answering "
                    "during the run (luigid was stopped or crashed), so no more of its tasks could be handed out.",
                    f"luigi-tasks: start it again ({start_command(url)}), then resume with: {resume}",
                    "luigi-tasks: (a restarted luigid keeps the tasks that were running for about a minute, "
                    "[scheduler] worker_disconnect_delay: until then the resume exits 25 and says which)",
                ]
            if tasks is None:
                tasks = {}  # too many to list: luigid's view is left out
            elif self.root.task_id not in tasks:
                return [
                    f"luigi-tasks: run {run_id} is not complete, and the central scheduler at {url} no longer knows "
                    "it: luigid was restarted without its state (or dropped the run's tasks), so it handed out no "
                    "more of them.",
                    f"luigi-tasks: resume with (it schedules the run again and runs only what is missing): {resume}",
                ]
            for task in tasks.values():
                worker = scheduler.worker_host_pid(task.get("worker_running") or "")
                if task.get("status") == "RUNNING" and worker is not None:
                    held[task.get("name") or "?"] = worker
        here = (socket.gethostname(), os.getpid())
        running = {r.node: (r.host, r.pid) for r in records if r.status == "running"}
        live, gone, interrupted = [], [], []
        for node, (host, pid) in {**running, **held}.items():
            if (host, pid) == here:
                continue
            if not exited_here(host, pid):
                live.append(f"{node} (host {host}, pid {pid})")
            elif node in held:
                gone.append(f"{node} is held by a worker that exited (pid {pid} on this host)")
            else:
                interrupted.append(f"{node} was interrupted (its worker, pid {pid} on this host, exited)")
        said = []
        if live:
            said.append("continues in other workers: " + ", ".join(live))
        if gone:
            said.append(
                "is not complete: " + ", ".join(gone) + "; luigid releases its tasks about a minute after the "
                "worker went away ([scheduler] worker_disconnect_delay)"
            )
        if interrupted:
            said.append("is not complete: " + ", ".join(interrupted))
        if not said:
            said.append(
                "is not complete, and nothing failed in this process: other workers may be running it, or the "
                "scheduler held tasks back (Luigi's summary above says which)"
            )
        if gone:
            then = "rerun the same command then (it exits 0 at once if the run is complete by then)"
        elif live:
            then = "this command continues it, or tells the outcome once the others end (exit 0 if complete)"
        elif interrupted:
            then = "the same command runs what is missing"
        else:
            then = "this command continues it, or tells the outcome once the others end (exit 0 if complete)"
        return [f"luigi-tasks: run {run_id} {'; '.join(said)}.", f"luigi-tasks: {then}: {resume}"]

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


def new_run_command(run_id: str) -> str:
    """This process's ``luigi`` command as a new run reusing run ``run_id``."""
    args, kept = sys.argv[1:], []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--run-id", "--reuse-from"):
            skip = True
        elif not arg.startswith(("--run-id=", "--reuse-from=")):
            kept.append(arg)
    return shlex.join(["luigi", *kept, "--run-id", "NEW_ID", "--reuse-from", run_id]).replace("NEW_ID", "<new id>")


def scheduler_in_use() -> str | None:
    """The URL of the central scheduler this ``luigi`` command uses, ``None`` with
    ``--local-scheduler``. Called while Luigi parses the command line.

    Raises:
        ConfigError: ``--scheduler-host`` or ``--scheduler-port`` was given, but a
            ``scheduler_url`` (luigi.cfg ``[core]``, or ``--scheduler-url``) overrides them.
    """
    core = luigi.interface.core()
    if core.local_scheduler:
        return None
    given = _given_on_command_line()
    if not core.scheduler_url:
        return f"http://{core.scheduler_host}:{core.scheduler_port}"
    url = urlsplit(core.scheduler_url)
    flags = {name: value for name, value in given.items() if name in ("scheduler_host", "scheduler_port")}
    host, port = flags.get("scheduler_host", url.hostname), flags.get("scheduler_port", url.port)
    if flags and (host != url.hostname or str(port) != str(url.port or "")):
        source = "--scheduler-url" if "scheduler_url" in given else "luigi.cfg [core] scheduler_url"
        wanted = f"{url.scheme or 'http'}://{host}:{port or 8082}"
        named = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in flags.items())
        raise ConfigError(
            f"{named} cannot take effect: {source} ({core.scheduler_url}) wins over it, so this command would "
            f"go to the scheduler at {core.scheduler_url}. Pass --scheduler-url {wanted} instead (or set "
            "scheduler_url in the per-machine file that LUIGI_CONFIG_PATH names: editing luigi.cfg makes runs -dirty)."
        )
    return core.scheduler_url.rstrip("/")


_RUN_OPTION = re.compile(r"--(?:(?P<task>[\w.]+)-)?(?P<name>params|reuse-from)(?:=.*)?")


def _check_run_options(args: Sequence[str]) -> None:
    """Refuse ``--params``/``--reuse-from`` given twice (Luigi would keep the last alone), or
    for a pipeline that is not the one run (its parts take the run's: it would be ignored)."""
    given: dict[str, int] = {}
    for arg in args:
        match = _RUN_OPTION.fullmatch(arg)
        if match is None:
            continue
        name, task = match["name"], match["task"]
        if task is not None and task not in args:
            raise ConfigError(
                f"{arg.split('=')[0]} cannot take effect: a run's --{name} is given to the task you run (its "
                f"parts take the run's). Give --{name} after that task."
            )
        given[name] = given.get(name, 0) + 1
        if given[name] > 1:
            raise ConfigError(
                f"--{name} is given more than once, and Luigi would keep the last alone. Give it once"
                + (", with its items separated by commas: --params a=1,b=2." if name == "params" else ".")
            )


def _given_on_command_line() -> dict[str, str]:
    """The ``[core]`` scheduler options given on this command line, by name."""
    parser = CmdlineParser.get_instance()
    args = getattr(parser, "known_args", None)
    found = {}
    for name in ("scheduler_host", "scheduler_port", "scheduler_url"):
        value = getattr(args, f"core_{name}", None)
        if value is not None:
            found[name] = str(value)
    return found


def _prune(url: str) -> None:
    """Ask luigid to prune now; an unreachable luigid is Luigi's to report, a moment later."""
    from luigi_tasks import scheduler  # late: it imports the command-line helpers

    with contextlib.suppress(OSError, ValueError, KeyError):
        scheduler.api(url, "prune", timeout=2.0)


def start_command(url: str) -> str:
    """How to start the scheduler at ``url``: ``luigi-tasks scheduler start`` (with
    ``--port`` when luigi.cfg names another)."""
    from luigi_tasks import scheduler  # late: it imports the command-line helpers

    port = urlsplit(url).port or scheduler.DEFAULT_PORT
    return "luigi-tasks scheduler start" + ("" if port == scheduler.configured_port() else f" --port {port}")


def node_failure(task: luigi.Task, exception: BaseException) -> str:
    """What luigid keeps for a failed node (``Task.on_failure``'s return value): the error,
    the command that reruns it and the traceback. Also sets the node's status message to
    ``failed: <error>``, so the UI no longer shows what it was doing when it failed.

    Example (in ``NodeTask.on_failure``)::

        return node_failure(self, exception)
    """
    message = f"{type(exception).__name__}: {exception}"
    status.show_failure(task, f"failed: {message}")
    run_id = getattr(task, "run_id", None)
    lines = [message, ""]
    if run_id:
        lines += [f"rerun with: {rerun_command(task, run_id)}"]
        if os.path.basename(sys.argv[0]) == "luigi" and (hint := report.new_run_hint(run_id)):  # as the console's
            lines += [hint]
        lines += [""]
    lines.append("".join(traceback.format_exception(type(exception), exception, exception.__traceback__)).rstrip())
    return "\n".join(lines)


def rerun_command(task: luigi.Task, run_id: str) -> str:
    """The ``luigi`` command that reruns ``task`` in run ``run_id``: this process's command
    when it is ``luigi``, else the task's own (for ``luigi.build`` from Python)."""
    if os.path.basename(sys.argv[0]) == "luigi":
        return luigi_command(sys.argv[1:], run_id)
    module = luigi.configuration.get_config().get("core", "module", "luigi_tasks.pipelines")
    return luigi_command(["--module", module, task.get_task_family()], run_id)


report = RunReport()
