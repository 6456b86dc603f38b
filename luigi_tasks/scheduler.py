"""``luigi-tasks scheduler start|stop|status``: Luigi's central scheduler, ``luigid``, for a project.

A thin wrapper around the plain command, which keeps working on its own::

    luigid --background --address 127.0.0.1 --port 8082 --pidfile .luigid/pid \\
        --logdir .luigid --state-path .luigid/state.pickle

Everything lives in ``.luigid/`` at the project root (git-ignored): the pid file, the logs
(``luigi-server.log`` and the daemon's ``.out``/``.err``) and the pickled state that
survives a restart. luigid has no authentication, so it is always bound to 127.0.0.1; reach
it from another machine through an SSH tunnel or an authenticating proxy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import luigi.configuration

from luigi_tasks.cli_support import guard
from luigi_tasks.config import find_project_root, read_luigi_cfg
from luigi_tasks.errors import ConfigError, LuigiTasksError
from luigi_tasks.processes import alive

ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8082
STATE_DIR = ".luigid"
STATUSES = ("PENDING", "RUNNING", "DONE", "FAILED", "DISABLED")


class SchedulerError(LuigiTasksError):
    """luigid could not be started or stopped as asked."""


@dataclass(frozen=True)
class SchedulerPaths:
    """Where one project's luigid keeps its pid file, logs and state."""

    folder: Path

    @classmethod
    def for_root(cls, root: Path) -> SchedulerPaths:
        return cls(root / STATE_DIR)

    @property
    def pidfile(self) -> Path:
        return self.folder / "pid"

    @property
    def state(self) -> Path:
        return self.folder / "state.pickle"

    @property
    def log(self) -> Path:
        return self.folder / "luigi-server.log"


def url_for(port: int) -> str:
    """The scheduler's URL on the loopback interface."""
    return f"http://{ADDRESS}:{port}"


def configured_port() -> int:
    """The port of luigi.cfg ``[core] scheduler_url`` (where workers look), else 8082."""
    url = luigi.configuration.get_config().get("core", "scheduler_url", "")
    try:
        port = urllib.parse.urlsplit(url).port if url else None
    except ValueError:
        port = None
    return port or DEFAULT_PORT


def luigid_command(paths: SchedulerPaths, port: int) -> list[str]:
    """The ``luigid --background ...`` command line for ``paths`` and ``port``."""
    return [
        _luigid_executable(),
        "--background",
        "--address",
        ADDRESS,
        "--port",
        str(port),
        "--pidfile",
        str(paths.pidfile),
        "--logdir",
        str(paths.folder),
        "--state-path",
        str(paths.state),
    ]


def configured_url() -> str:
    """luigi.cfg ``[core] scheduler_url`` (where workers look), else the default URL."""
    return luigi.configuration.get_config().get("core", "scheduler_url", "") or url_for(DEFAULT_PORT)


def api(url: str, method: str, timeout: float = 2.0, **data: Any) -> Any:
    """Call luigid's JSON API (``/api/<method>``) and return its ``response``."""
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"{url}/api/{method}?{query}", timeout=timeout) as reply:
        return json.loads(reply.read().decode("utf-8"))["response"]


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a luigid answers at ``url``."""
    try:
        api(url, "task_list", timeout=timeout, status="RUNNING", upstream_status="")
    except (OSError, ValueError, KeyError):
        return False
    return True


def wait_until_answers(url: str, timeout: float, pid: int | None = None) -> bool:
    """Poll ``url`` until luigid answers; give up after ``timeout`` s or if ``pid`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            return True
        if pid is not None and not alive(pid):
            return False
        time.sleep(0.2)
    return False


def read_pid(paths: SchedulerPaths) -> int | None:
    """The pid in the pid file if that process is alive, else ``None``."""
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def start(paths: SchedulerPaths, port: int, timeout: float = 20.0) -> int:
    """Start luigid in the background and wait until it answers; return its pid.

    Raises:
        SchedulerError: it is already running, the port is taken, it exited at once (the
            message quotes what it wrote to its ``.err`` log), or it did not come up.
    """
    url = url_for(port)
    pid = read_pid(paths)
    if pid is not None:
        raise SchedulerError(f"luigid is already running (pid {pid}, pid file {paths.pidfile}).")
    if answers(url):
        raise SchedulerError(f"Something already answers at {url} (another luigid?). Stop it, or pass --port.")
    _private_folder(paths)
    paths.pidfile.unlink(missing_ok=True)  # stale: its process is gone
    logged = {err: err.stat().st_size for err in paths.folder.glob("luigi-server-*.err")}
    # --background daemonizes: this command returns at once and the daemon writes the pid file.
    # From the project root, so luigid reads the project's luigi.cfg ([scheduler] settings).
    done = subprocess.run(
        luigid_command(paths, port),
        cwd=paths.folder.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SchedulerError(f"luigid did not start:\n{done.stderr.strip()}")
    deadline = time.monotonic() + timeout
    while (pid := _pid_in_file(paths)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid is not None and wait_until_answers(url, max(deadline - time.monotonic(), 1.0), pid):
        return pid
    if pid is not None and not alive(pid):
        paths.pidfile.unlink(missing_ok=True)
        said = _new_log_lines(paths, logged)
        taken = f" Port {port} is taken: stop what uses it, or pass another --port." if _port_taken(said) else ""
        raise SchedulerError(
            f"luigid (pid {pid}) exited at once instead of serving {url}" + (f": {said[-1]}." if said else ".")
            + f"{taken} Its logs: {paths.folder} (luigi-server.log and luigi-server-<date>.err)."
        )
    raise SchedulerError(
        f"luigid did not answer at {url} within {timeout:.0f} s. See its logs in "
        f"{paths.folder} (luigi-server.log and luigi-server-<date>.err)."
    )


def _private_folder(paths: SchedulerPaths) -> None:
    """Make ``.luigid/`` readable by its owner only, and set aside a state file that others
    could write.

    luigid daemonizes with umask 0 (python-daemon's default), so it creates its state, pid and
    log files writable by every user, and it unpickles the state file when it starts: whoever
    can write that file runs code as luigid's user. In a folder of mode 0700 nobody else
    reaches them. A state file left writable by others in a folder they could enter may have
    been written by anyone: it is renamed, not loaded (luigid then starts with no tasks; run
    records and outputs are on disk, so a resume loses nothing).
    """
    open_before = paths.folder.is_dir() and paths.folder.stat().st_mode & 0o077
    paths.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(paths.folder, 0o700)
    if open_before and paths.state.exists() and paths.state.stat().st_mode & 0o022:
        aside = paths.state.with_name(f"state.pickle.untrusted-{int(time.time())}")
        paths.state.rename(aside)
        print(
            f"luigi-tasks: {paths.state} was writable by other users, so it is not loaded (moved to {aside.name}); "
            f"{paths.folder} is now private to you. luigid starts with no tasks: resume runs as usual.",
            file=sys.stderr,
        )


def _pid_in_file(paths: SchedulerPaths) -> int | None:
    """The pid the pid file holds, alive or not (``None`` if there is none yet)."""
    try:
        return int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _new_log_lines(paths: SchedulerPaths, sizes: dict[Path, int]) -> list[str]:
    """The lines luigid's ``.err`` logs gained since they had ``sizes`` (bytes)."""
    lines: list[str] = []
    for err in sorted(paths.folder.glob("luigi-server-*.err")):
        with err.open("rb") as f:
            f.seek(sizes.get(err, 0))
            lines += [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return lines


def _port_taken(lines: list[str]) -> bool:
    return any("Address already in use" in line for line in lines)


def serving_url(pid: int) -> str | None:
    """The URL the luigid with ``pid`` was started to serve, from its command line (Linux)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return None
    values = dict(pairwise(args))
    port = values.get("--port")
    return url_for(int(port)) if port and port.isdigit() else None


_WORKER_FIELD = re.compile(r"\b(host|pid)=([^,)]+)")


def worker_host_pid(worker_id: str) -> tuple[str, int] | None:
    """The host and pid in a Luigi worker id (``Worker(salt=..., host=vm, ..., pid=16414)``)."""
    fields = dict(_WORKER_FIELD.findall(worker_id or ""))
    pid = fields.get("pid", "")
    return (fields["host"], int(pid)) if "host" in fields and pid.isdigit() else None


def run_tasks(url: str, run_id: str, timeout: float = 5.0) -> dict[str, dict[str, Any]] | None:
    """Every task of run ``run_id`` that the luigid at ``url`` knows, by task id; ``None``
    if they are more than luigid lists (``[scheduler] max_shown_tasks``).

    Raises:
        OSError: luigid does not answer (``ValueError``/``KeyError``: not luigid).
    """
    found = api(url, "task_list", timeout=timeout, status="", upstream_status="", search=run_id)
    if "num_tasks" in found:
        return None
    return {
        task_id: task
        for task_id, task in found.items()
        if isinstance(task, dict) and (task.get("params") or {}).get("run_id") == run_id
    }


def stop(paths: SchedulerPaths, timeout: float = 10.0) -> int | None:
    """Stop the luigid named in the pid file (SIGTERM, then SIGKILL); return its pid.

    Returns ``None`` when it was not running. luigid saves its state on SIGTERM.

    Raises:
        SchedulerError: the pid file names a process that is not luigid.
    """
    pid = read_pid(paths)
    if pid is None:
        paths.pidfile.unlink(missing_ok=True)
        return None
    if not _is_luigid(pid):
        raise SchedulerError(
            f"{paths.pidfile} names pid {pid}, which is not luigid: not stopping it. Remove the stale pid file."
        )
    os.kill(pid, signal.SIGTERM)
    if not _wait_dead(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid, 5.0)
    paths.pidfile.unlink(missing_ok=True)
    return pid


def task_counts(url: str) -> dict[str, int]:
    """How many tasks luigid holds in each status."""
    counts = {}
    for status in STATUSES:
        tasks = api(url, "task_list", status=status, upstream_status="")
        counts[status] = tasks["num_tasks"] if "num_tasks" in tasks else len(tasks)
    return counts


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``scheduler`` command to the ``luigi-tasks`` parser."""
    parser = subparsers.add_parser(
        "scheduler",
        help="start, stop or check the central scheduler (luigid) of this project",
        description="Run Luigi's central scheduler for this project, bound to 127.0.0.1, "
        "with its pid file, logs and state in .luigid/ at the project root.",
    )
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on (default: the port of luigi.cfg [core] scheduler_url, else 8082)",
    )
    parser.set_defaults(func=guard(run_cli))


def run_cli(args: argparse.Namespace) -> int:
    """Carry out ``luigi-tasks scheduler <action>``; return the exit code (status: 1 if down).

    Raises:
        ConfigError: not in a project (for ``stop`` and ``status``: unless the working folder
            holds a ``.luigid/pid`` file).
    """
    paths = _paths(args.action)
    port = args.port or configured_port()
    url = url_for(port)
    try:
        if args.action == "start":
            running = read_pid(paths)
            if running is not None:
                serving = (serving_url(running) or url) if args.port is None else url
                if not answers(serving):  # hung (stopped, swapping): "running" would pass a cron check
                    print(
                        f"luigid (pid {running}) is alive but does not answer at {serving}: workers cannot use it. "
                        "Restart it: luigi-tasks scheduler stop && luigi-tasks scheduler start",
                        file=sys.stderr,
                    )
                    return 1
                print(f"luigid is already running (pid {running}); see: luigi-tasks scheduler status")
                return 0
            pid: int | None = start(paths, port)  # stop() and read_pid() below may find none
            print(f"luigid is running (pid {pid}) at {url} ; logs and state in {paths.folder}")
            if url.rstrip("/") != configured_url().rstrip("/"):
                print(
                    f"Workers look for the scheduler at {configured_url()} (luigi.cfg [core] scheduler_url): "
                    f"run them with --scheduler-url {url} (or set scheduler_url = {url} under [core] in your "
                    "per-machine LUIGI_CONFIG_PATH file)."
                )
            return 0
        if args.action == "stop":
            pid = stop(paths)
            print(f"luigid (pid {pid}) stopped." if pid else "luigid was not running.")
            return 0
    except SchedulerError as exc:
        print(f"luigi-tasks: {exc}", file=sys.stderr)
        return 1
    pid = read_pid(paths)
    if pid is not None and args.port is None:
        url = serving_url(pid) or url  # the port it was started with, not luigi.cfg's
    if pid is None or not answers(url):
        if pid is None:
            where = f"no live pid in {paths.pidfile}"
        else:
            hint = "" if args.port or serving_url(pid) else "; if it was started with another port, pass --port"
            where = f"pid {pid} is alive but nothing answers at {url}{hint}"
        fix = "luigi-tasks scheduler stop && luigi-tasks scheduler start" if pid is not None else (
            "luigi-tasks scheduler start"
        )
        print(f"luigid is not running ({where}). Start it: {fix}")
        return 1
    counts = ", ".join(f"{n} {status}" for status, n in task_counts(url).items() if n)
    print(f"luigid is running (pid {pid}) at {url} ; tasks: {counts or 'none'}")
    if url.rstrip("/") != configured_url().rstrip("/"):
        print(f"Workers reach it with --scheduler-url {url} (luigi.cfg [core] scheduler_url is {configured_url()}).")
    return 0


def _paths(action: str) -> SchedulerPaths:
    """The project's scheduler paths, its luigi.cfg read (for the port) when run from a subfolder."""
    try:
        root = find_project_root()
    except ConfigError:
        # Outside a project, luigid would keep its state wherever the command ran: refused.
        # stop and status still reach one that was started here before that was refused.
        here = SchedulerPaths.for_root(Path.cwd())
        if action != "start" and here.pidfile.exists():
            return here
        raise
    read_luigi_cfg(root)
    return SchedulerPaths.for_root(root)


def _luigid_executable() -> str:
    beside = Path(sys.executable).parent / "luigid"
    if beside.exists():
        return str(beside)
    found = shutil.which("luigid")
    if found is None:
        raise SchedulerError("The luigid command is not installed (it comes with the luigi package).")
    return found


def _is_luigid(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        return b"luigid" in cmdline.read_bytes()
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)
