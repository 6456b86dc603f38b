"""What users see when the central scheduler or a worker goes away, through the commands they
type: a real luigid on a free loopback port, real `luigi` and `luigi-tasks` processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import BIN, copy_project, run_cli, run_luigi
from tests.scheduler_support import (
    LUIGID,
    Luigid,
    free_port,
    luigid_fixture,  # noqa: F401 - the `luigid` fixture
    make_toy_project,
    start_luigid,
    stop_process,
    toy_counts,
    toy_env,
    use_scheduler,
)
from tests.test_scheduler import NOT_FINISHED_HERE, TASK_FAILED, TOY, fresh_id, records

BEFORE_SCHEDULING = 40  # luigi.cfg [retcode] unhandled_exception: an error before anything ran


def wait_for(what: str, check: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start_worker(project: Path, run_id: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "luigi"), *TOY, "--run-id", run_id], cwd=project, env=toy_env(project, **env),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def node_running(server: Luigid, project: Path, run_id: str, family: str) -> bool:
    """luigid shows ``family`` RUNNING and the node wrote its ``running`` record."""
    task = server.tasks(run_id).get(family, {})
    record = records(project, run_id).get(family, {}) if (project / "data" / "09_runs" / run_id).exists() else {}
    return task.get("status") == "RUNNING" and record.get("status") == "running"


@dataclass
class MidRun:
    """A luigid, and a toy worker held in its Combine node (see :func:`combine_running`)."""

    server: Luigid
    project: Path
    run_id: str
    worker: subprocess.Popen[str]
    #: More processes a test starts, stopped with the rest at the end.
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)


@contextmanager
def combine_running(
    tmp_path: Path, prefix: str, seconds: int, config: str | None = None, node: str = "Combine"
) -> Iterator[MidRun]:
    """A luigid (with ``config``), and a worker of a fresh ``<prefix>`` run that luigid shows
    running Combine (or ``node``), which takes ``seconds``; every process is stopped after."""
    server = start_luigid(tmp_path / "luigid", config=config)
    mid = None
    try:
        project = make_toy_project(tmp_path / "toy", server.url)
        run_id = fresh_id(prefix)
        worker = start_worker(project, run_id, TOY_SLOW=node.lower(), TOY_SLOW_SECONDS=str(seconds))
        mid = MidRun(server, project, run_id, worker)
        wait_for(f"{node} to run", lambda: node_running(server, project, run_id, f"sched_toy.{node}"))
        yield mid
    finally:
        for process in ([mid.worker, *mid.others] if mid is not None else []):
            stop_process(process)  # type: ignore[arg-type]
        stop_process(server.process)


# -- a killed worker ----------------------------------------------------------------------------


def test_after_a_killed_worker_the_rerun_names_it_and_runs_once_luigid_released_it(tmp_path: Path) -> None:
    """kill -9 of a worker mid-node: luigid keeps its task RUNNING until it has not heard from
    the worker for [scheduler] worker_disconnect_delay (15 s here, 60 by default). A rerun
    meanwhile says the node is held by a worker that exited; `runs show` calls it
    interrupted; a rerun after the delay runs it (luigid is asked to prune at its start)."""
    delay = 15
    with combine_running(tmp_path, "killed", 120, f"[scheduler]\nworker_disconnect_delay = {delay}\n") as mid:
        project, run_id, worker = mid.project, mid.run_id, mid.worker
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed = time.monotonic()

        early = run_luigi(project, *TOY, "--run-id", run_id, env=toy_env(project))

        if time.monotonic() - killed >= delay:  # a precondition of the test, not a timing of the product
            pytest.skip(f"this machine took over {delay} s to rerun: luigid had released the node already")
        assert early.returncode == NOT_FINISHED_HERE, early.stderr
        last = early.stderr.strip().splitlines()[-2:]
        assert last[0] == (
            f"luigi-tasks: run {run_id} is not complete: sched_toy.Combine is held by a worker that exited "
            f"(pid {worker.pid} on this host); luigid releases its tasks about a minute after the worker went "
            "away ([scheduler] worker_disconnect_delay)."
        ), early.stderr
        assert last[1].startswith("luigi-tasks: rerun the same command then") and last[1].endswith(
            f": luigi {' '.join(TOY)} --run-id {run_id}"
        ), last
        assert "continues in other workers" not in early.stderr
        shown = run_cli(project, "runs", "show", run_id, "--module", "sched_toy", env=toy_env(project))
        assert shown.returncode == 0, shown.stderr
        row = next(line for line in shown.stdout.splitlines() if line.startswith("sched_toy.Combine"))
        assert row.split()[1] == "interrupted", shown.stdout
        assert f"its worker (pid {worker.pid} on this host) exited while it ran" in row

        time.sleep(max(0.0, delay + 1 - (time.monotonic() - killed)))
        later = run_luigi(project, *TOY, "--run-id", run_id, env=toy_env(project))

        assert later.returncode == 0, later.stderr
        assert f"run {run_id} is complete" in later.stderr
        assert toy_counts(project) == {"make_a": 1, "make_b": 1, "make_c": 1, "combine": 2, "summarize": 1}


# -- luigid goes away during a run --------------------------------------------------------------


def test_a_worker_whose_luigid_stopped_mid_run_says_so(tmp_path: Path) -> None:
    with combine_running(tmp_path, "gone", 5) as mid:
        server, run_id, worker = mid.server, mid.run_id, mid.worker
        stop_process(server.process)  # as `luigi-tasks scheduler stop` does: SIGTERM

        _, err = worker.communicate(timeout=120)

        assert worker.returncode == BEFORE_SCHEDULING, err
        last = err.strip().splitlines()[-3:]
        assert last == [
            f"luigi-tasks: run {run_id} is not complete: the central scheduler at {server.url} stopped answering "
            "during the run (luigid was stopped or crashed), so no more of its tasks could be handed out.",
            f"luigi-tasks: start it again (luigi-tasks scheduler start), then resume with: luigi {' '.join(TOY)} "
            f"--run-id {run_id}",
            "luigi-tasks: (a restarted luigid keeps the tasks that were running for about a minute, "
            "[scheduler] worker_disconnect_delay: until then the resume exits 25 and says which)",
        ], err


def test_ctrl_c_of_a_worker_through_luigid_says_the_resume_waits_for_luigid_to_release_the_node(
    tmp_path: Path,
) -> None:
    """luigid holds the node the interrupted worker was running for about a minute: the resume
    command printed at once exits 25 until then, which the closing lines say."""
    with combine_running(tmp_path, "ctrlc", 30) as mid:
        mid.worker.send_signal(signal.SIGINT)
        _, err = mid.worker.communicate(timeout=120)

        assert mid.worker.returncode == -signal.SIGINT, err[-3000:]
        assert err.strip().splitlines()[-3:] == [
            f"luigi-tasks: run {mid.run_id} was interrupted (Ctrl-C) while sched_toy.Combine ran; a node that did "
            "not finish does not count as done (what it saved is set aside when it runs again).",
            f"luigi-tasks: resume with: luigi {' '.join(TOY)} --run-id {mid.run_id}",
            "luigi-tasks: (luigid keeps a node that was running held for about a minute after its worker went away, "
            "[scheduler] worker_disconnect_delay: a resume before then exits 25 and says which)",
        ], err[-3000:]


def test_a_run_that_completed_after_its_luigid_stopped_says_both(tmp_path: Path) -> None:
    """The last node ends after luigid stopped: Luigi exits 40 (it could not report), and the
    closing lines say the run is complete, and why the exit code says otherwise."""
    with combine_running(tmp_path, "late", 4, node="Summarize") as mid:
        server, run_id, worker = mid.server, mid.run_id, mid.worker
        stop_process(server.process)

        _, err = worker.communicate(timeout=120)

        assert worker.returncode == BEFORE_SCHEDULING, err
        assert err.strip().splitlines()[-2:] == [
            f"luigi-tasks: run {run_id} is complete.",
            f"luigi-tasks: (the central scheduler at {server.url} stopped answering during the run, so Luigi exits "
            "with an error code; nothing is missing. Start it again before the next run: luigi-tasks scheduler "
            "start.)",
        ], err


def test_a_worker_whose_luigid_restarted_without_its_state_says_it_lost_the_run(tmp_path: Path) -> None:
    with combine_running(tmp_path, "lost", 8) as mid:
        server, run_id, worker = mid.server, mid.run_id, mid.worker
        server.process.kill()  # no state saved
        server.process.wait(10)
        fresh = tmp_path / "fresh"
        (fresh / "logs").mkdir(parents=True)
        again = subprocess.Popen(
            [LUIGID, "--address", "127.0.0.1", "--port", str(server.port), "--state-path",
             str(fresh / "state.pickle"), "--logdir", str(fresh / "logs")],
            cwd=fresh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        mid.others.append(again)
        restarted = Luigid(again, server.port, fresh)
        wait_for("luigid to restart", lambda: _answers(restarted), timeout=30)

        _, err = worker.communicate(timeout=120)

        assert worker.returncode == NOT_FINISHED_HERE, err
        assert f"luigi-tasks: run {run_id} is not complete, and the central scheduler at {server.url} no longer " \
            "knows it: luigid was restarted without its state" in err, err
        assert err.strip().splitlines()[-1].endswith(f"runs only what is missing): luigi {' '.join(TOY)} --run-id {run_id}")
        assert "other workers may be running it" not in err


def _answers(server: Luigid) -> bool:
    try:
        server.api("task_list", status="RUNNING", upstream_status="")
    except OSError:
        return False
    return True


# -- a failed node in luigid ----------------------------------------------------------------------


def test_a_failed_node_shows_failed_and_the_command_that_reruns_it(luigid: Luigid, tmp_path: Path) -> None:
    """A node that fails through luigid: luigid's status
    message says the node failed (not what it was doing), its error has the rerun command."""
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("failmsg")

    done = run_luigi(project, "--module", "fail_toy", "fail_toy.Explode", "--run-id", run_id, env=toy_env(project))

    assert done.returncode == TASK_FAILED, done.stderr
    task = luigid.tasks(run_id)["fail_toy.Explode"]
    assert task["status"] == "FAILED"
    assert task["status_message"] == "failed: RuntimeError: explode failed on purpose", task
    error = json.loads(luigid.api("fetch_error", task_id=task["task_id"])["error"])  # Luigi sends it as JSON
    head = "RuntimeError: explode failed on purpose\n\nrerun with: luigi --module fail_toy fail_toy.Explode --run-id "
    # No "new run ... --reuse-from" line: a single node takes no --reuse-from (pipelines do).
    assert error.startswith(f"{head}{run_id}\n\nTraceback (most recent call last):\n"), error
    assert 'raise RuntimeError("explode failed on purpose")' in error

    piped = fresh_id("failpipe")  # through a pipeline: a fix by other parameters is a new run reusing this one
    done = run_luigi(project, "--module", "fail_toy", "Exploding", "--run-id", piped, env=toy_env(project))
    assert done.returncode == TASK_FAILED, done.stderr
    task = luigid.tasks(piped)["fail_toy.Explode"]
    error = json.loads(luigid.api("fetch_error", task_id=task["task_id"])["error"])
    assert error.startswith(
        f"RuntimeError: explode failed on purpose\n\nrerun with: luigi --module fail_toy Exploding --run-id {piped}\n"
        f"(if the fix is other parameters, that is a new run: luigi --module fail_toy Exploding --run-id <new id> "
        f"--reuse-from {piped})\n\nTraceback"
    ), error


# -- --scheduler-port against luigi.cfg's scheduler_url -------------------------------------------


def test_scheduler_port_that_luigi_cfg_overrides_is_refused_before_anything_runs(luigid: Luigid, tmp_path: Path) -> None:
    """luigi.cfg [core] scheduler_url wins over --scheduler-port: the run would go to that
    luigid (here the fixture's, which would run it). Refused, naming both."""
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("port")
    port = free_port()

    done = run_luigi(project, *TOY, "--run-id", run_id, "--scheduler-port", str(port), env=toy_env(project))

    assert done.returncode == BEFORE_SCHEDULING, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"ERROR: --scheduler-port {port} cannot take effect: luigi.cfg [core] scheduler_url ({luigid.url}) wins "
        f"over it, so this command would go to the scheduler at {luigid.url}. Pass --scheduler-url "
        f"http://127.0.0.1:{port} instead (or set scheduler_url in the per-machine file that LUIGI_CONFIG_PATH names: "
        "editing luigi.cfg makes runs -dirty)."
    ), done.stderr
    assert "resume with" not in done.stderr
    assert toy_counts(project) == {}
    assert luigid.tasks(run_id) == {}
    assert not (project / "data" / "09_runs" / run_id).exists()  # refused before the run was created
    # The same port as luigi.cfg's is no contradiction.
    same = run_luigi(project, *TOY, "--run-id", run_id, "--scheduler-port", str(luigid.port), env=toy_env(project))
    assert same.returncode == 0, same.stderr
    # Likewise a --scheduler-host other than the URL's.
    other = fresh_id("host")
    host = run_luigi(project, *TOY, "--run-id", other, "--scheduler-host", "localhost", env=toy_env(project))
    assert host.returncode == BEFORE_SCHEDULING, host.stderr
    assert host.stderr.strip().splitlines()[-1].startswith(
        f"ERROR: --scheduler-host localhost cannot take effect: luigi.cfg [core] scheduler_url ({luigid.url}) wins "
        f"over it, so this command would go to the scheduler at {luigid.url}. Pass --scheduler-url "
        f"http://localhost:{luigid.port} instead"
    ), host.stderr
    assert luigid.tasks(other) == {}


def test_scheduler_command_on_another_port_says_how_workers_reach_it(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    use_scheduler(project, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    taken, port = socket.socket(), free_port()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        code, out = _luigi_tasks(project, "scheduler", "start", "--port", str(taken.getsockname()[1]))
        assert code == 1, out
        assert "exited at once" in out and "Address already in use" in out, out
        assert f"Port {taken.getsockname()[1]} is taken" in out, out

        code, out = _luigi_tasks(project, "scheduler", "start", "--port", str(port))
        assert code == 0, out
        assert f"run them with --scheduler-url http://127.0.0.1:{port}" in out, out
        code, out = _luigi_tasks(project, "scheduler", "status")  # no --port: the one it was started with
        assert code == 0, out
        assert f"luigid is running (pid {int((project / '.luigid' / 'pid').read_text())}) at http://127.0.0.1:{port} ;" in out
        assert f"Workers reach it with --scheduler-url http://127.0.0.1:{port}" in out
    finally:
        taken.close()
        code, out = _luigi_tasks(project, "scheduler", "stop")
    assert code == 0, out


def _luigi_tasks(cwd: Path, *args: str) -> tuple[int, str]:
    done = run_cli(cwd, *args)
    return done.returncode, done.stdout + done.stderr


# -- runs list, invalidate -------------------------------------------------------------------------


def test_runs_list_shows_a_run_that_never_started_as_not_started(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    env = toy_env(project)
    complete, refused = fresh_id("done"), fresh_id("nolluigid")
    assert run_luigi(project, *TOY, "--run-id", complete, env=env).returncode == 0
    down = f"http://127.0.0.1:{free_port()}"  # no luigid there: the run stops before its first node
    assert run_luigi(project, *TOY, "--run-id", refused, "--scheduler-url", down, env=env).returncode == 40

    listed = run_cli(project, "runs", "list", "--module", "sched_toy", env=env)

    assert listed.returncode == 0, listed.stderr
    states = {line.split()[0]: line.split(None, 3)[3] for line in listed.stdout.splitlines()[1:]}
    assert states == {complete: "complete", refused: "not started (no node record)"}, listed.stdout


def test_invalidate_through_luigid_mentions_the_cooldown(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    env = toy_env(project)
    central, local = fresh_id("inv"), fresh_id("inv-local")
    assert run_luigi(project, *TOY, "--run-id", central, env=env).returncode == 0
    assert run_luigi(project, *TOY, "--run-id", local, "--local-scheduler", env=env).returncode == 0

    done = run_cli(project, "invalidate", "--run-id", central, "--from", "combine", "--module", "sched_toy", env=env)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2] == f"Rerun them with: luigi {' '.join(TOY)} --run-id {central}"
    assert lines[-1] == (
        "(Through luigid: it does not hand out a task it finished less than 10 s ago ([scheduler] "
        "stable_done_cooldown_secs), so a rerun that soon exits 25, the node 'not granted run permission': "
        "run it again 10 s after the run ended.)"
    )
    done = run_cli(project, "invalidate", "--run-id", local, "--from", "combine", "--module", "sched_toy", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"Rerun them with: luigi {' '.join(TOY)} --run-id {local} --local-scheduler"
