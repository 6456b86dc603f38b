"""Pipelines through a real central scheduler (luigid): status, many workers, failure, rerun."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from luigi_tasks import Project, journal, load_output
from tests.conftest import BIN, copy_project, run_luigi
from tests.scheduler_support import (
    NODE_FAMILIES,
    WRAPPERS,
    Luigid,
    free_port,
    launch_together,
    luigid_fixture,  # noqa: F401 - the `luigid` fixture
    make_toy_project,
    start_luigid,
    stop_process,
    toy_counts,
    toy_env,
    toy_starts,
    use_scheduler,
)

FULL = ("--module", "luigi_tasks.pipelines", "FullPipeline")
TOY = ("--module", "sched_toy", "SchedToyPipeline")
TOY_FAMILIES = {f"sched_toy.{n}" for n in ("MakeA", "MakeB", "MakeC", "Combine", "Summarize")}
# luigi.cfg [retcode]: "not finished by this process, nothing failed in it" (shared runs, the
# lock, a task the scheduler held back) is one code, whatever the timing between workers.
NOT_FINISHED_HERE, TASK_FAILED = 25, 30


def fresh_id(prefix: str) -> str:
    """A run id no other test (or engineer's test) uses: luigi's lock is per command line."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def records(project: Path, run_id: str) -> dict[str, dict]:
    return journal.read_latest(str(project / "data" / "09_runs" / run_id))


def test_fixture_runs_a_real_luigid_on_loopback(luigid: Luigid) -> None:
    assert luigid.process.poll() is None
    assert luigid.api("task_list", status="", upstream_status="") == {}
    cmdline = Path(f"/proc/{luigid.process.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"--address") + 1] == b"127.0.0.1"
    assert (luigid.folder / "logs" / "luigi-server.log").exists()


def test_full_pipeline_through_scheduler_shows_every_node_done(luigid: Luigid, project: Path) -> None:
    use_scheduler(project, luigid.url)
    run_id = fresh_id("central")

    done = run_luigi(project, *FULL, "--run-id", run_id)  # no --scheduler-url: luigi.cfg's

    assert done.returncode == 0, done.stderr
    assert f"run {run_id} is complete" in done.stderr
    tasks = luigid.tasks(run_id)
    assert {f: tasks[f]["status"] for f in (*NODE_FAMILIES, *WRAPPERS)} == dict.fromkeys(
        (*NODE_FAMILIES, *WRAPPERS), "DONE"
    )
    assert tasks["RawData"]["status"] == "DONE"
    for family in NODE_FAMILIES:  # each node tells the UI what it did
        # Progress is shown only for a node still busy after status.INTERVAL; then it ends at 100.
        assert tasks[family]["progress_percentage"] in (None, 100), tasks[family]
        assert tasks[family]["status_message"].startswith("done in "), tasks[family]
        assert " out: " in tasks[family]["status_message"]
    assert "(546x12)" in tasks["data_engineering.PreprocessHouses"]["status_message"]
    assert "r2=" in tasks["data_science.EvaluateModel"]["status_message"]
    worker_pids = {rec["pid"] for rec in records(project, run_id).values()}
    assert len(records(project, run_id)) == len(NODE_FAMILIES) and len(worker_pids) == 1


def test_a_slow_node_shows_its_status_and_progress_while_it_runs(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("slow")
    env = toy_env(project, TOY_SLOW="summarize", TOY_SLOW_SECONDS="6")
    worker = subprocess.Popen([str(BIN / "luigi"), *TOY, "--run-id", run_id], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            seen = luigid.tasks(run_id).get("sched_toy.Summarize", {})
            # The message and the progress are two calls to luigid: wait for both.
            if seen.get("status") == "RUNNING" and seen.get("status_message") and seen.get("progress_percentage"):
                break
            time.sleep(0.2)
        assert seen.get("status") == "RUNNING", seen
        # One input, the call, one output: the call is step 2 of 3.
        assert seen["status_message"] == "running summarize; in: combined {total=6}", seen
        assert seen["progress_percentage"] == 33, seen
        # A node busy past the first interval has a "running" record (a quick one writes its
        # record only when it ends), so a crash or another worker can tell it had started.
        assert records(project, run_id)["sched_toy.Summarize"]["status"] == "running"
        _, err = worker.communicate(timeout=120)
    finally:
        stop_process(worker)
    assert worker.returncode == 0, err.decode()
    done = luigid.tasks(run_id)["sched_toy.Summarize"]
    assert done["status"] == "DONE" and done["progress_percentage"] == 100, done
    assert re.match(r"done in \d+\.\d\d s", done["status_message"]), done
    # The console: the slow node's start while it runs, then its start, end and duration; a
    # quick node's one line when it ends.
    console = err.decode()
    clock = r"\d\d:\d\d:\d\d"
    assert re.search(rf"sched_toy\.Summarize \[run {run_id}\] running since {clock} \(why: missing\)", console), console
    assert re.search(rf"sched_toy\.Summarize \[run {run_id}\] done in \d+\.\d\d s \({clock}-{clock}; why: missing\)", console)
    quick = [line for line in console.splitlines() if f"sched_toy.Combine [run {run_id}]" in line]
    assert len(quick) == 1 and " done in " in quick[0], console


def test_three_workers_share_one_run_each_node_runs_once(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("shared")
    # The three sources wait for each other: they can only finish if three processes run them.
    env = toy_env(project, TOY_BARRIER="3")

    ended = launch_together(project, 3, [*TOY, "--run-id", run_id], env)

    counts = toy_counts(project)
    assert counts == dict.fromkeys(("make_a", "make_b", "make_c", "combine", "summarize"), 1), counts
    source_pids = {pid for name, pid in toy_starts(project) if name.startswith("make_")}
    assert source_pids == {p.pid for p in ended}  # each worker took a different source
    # Every worker ran part of the run and saw others run the rest: 25 from each, whether
    # Luigi's summary calls the others' tasks "run by another worker" or "not run".
    assert [p.returncode for p in ended] == [NOT_FINISHED_HERE] * 3, [p.stderr for p in ended]
    # The worker that ran the root says the run is complete; one that ended earlier says that
    # nothing failed in it and the run goes on elsewhere (or, if the others finished before it
    # printed, that it is complete). None says the run failed.
    complete = [f"run {run_id} is complete" in p.stderr for p in ended]
    goes_on = [
        f"run {run_id} continues in other workers" in p.stderr or "nothing failed in this process" in p.stderr
        for p in ended
    ]
    assert any(complete), [p.stderr[-800:] for p in ended]
    assert all(a != b for a, b in zip(complete, goes_on, strict=True)), [p.stderr[-800:] for p in ended]
    assert not any("did not complete" in p.stderr for p in ended)
    confirm = run_luigi(project, *TOY, "--run-id", run_id, env=toy_env(project))
    assert confirm.returncode == 0, confirm.stderr  # the documented way to learn the outcome
    assert len(toy_starts(project)) == 5
    tasks = luigid.tasks(run_id)
    assert {f: tasks[f]["status"] for f in TOY_FAMILIES} == dict.fromkeys(TOY_FAMILIES, "DONE")


def test_three_workers_on_the_example_pipeline(luigid: Luigid, project: Path) -> None:
    use_scheduler(project, luigid.url)
    run_id = fresh_id("shared-ex")

    ended = launch_together(project, 3, [*FULL, "--run-id", run_id], dict(os.environ))

    assert {p.returncode for p in ended} <= {0, NOT_FINISHED_HERE}, [p.stderr for p in ended]
    tasks = luigid.tasks(run_id)
    assert all(tasks[f]["status"] == "DONE" for f in (*NODE_FAMILIES, *WRAPPERS)), tasks
    recs = records(project, run_id)
    assert sorted(recs) == sorted(NODE_FAMILIES)
    assert all(r["status"] == "done" and r["pid"] in {p.pid for p in ended} for r in recs.values())
    # A node run twice would have set the first version aside (``*.aside-*``) before saving, or
    # (a second saver) logged its end too.
    assert not [p for p in (project / "data").rglob("*") if ".aside-" in p.name]
    ends = [line.split()[1] for p in ended for line in p.stderr.splitlines() if f" [run {run_id}] done in " in line]
    assert sorted(ends) == sorted(NODE_FAMILIES), ends  # each node ran once, in one of the three


def test_params_reach_every_worker_process_through_luigid(luigid: Luigid, project: Path) -> None:
    use_scheduler(project, luigid.url)
    run_id = fresh_id("params")
    ridge = "model.estimator=sklearn.linear_model.Ridge,model.init_args.alpha=2.5"

    done = run_luigi(project, *FULL, "--run-id", run_id, "--workers", "2", "--params", ridge)

    assert done.returncode == 0, done.stderr
    assert all(t["status"] == "DONE" for t in luigid.tasks(run_id).values())
    model = load_output("model", run_id, Project.load(project))
    assert type(model).__name__ == "Ridge" and model.alpha == 2.5


def test_workers_option_runs_nodes_in_parallel_within_one_command(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("workers")

    done = run_luigi(project, *TOY, "--run-id", run_id, "--workers", "3", env=toy_env(project, TOY_BARRIER="3"))

    assert done.returncode == 0, done.stderr
    assert toy_counts(project) == dict.fromkeys(("make_a", "make_b", "make_c", "combine", "summarize"), 1)
    assert len({pid for name, pid in toy_starts(project) if name.startswith("make_")}) == 3
    tasks = luigid.tasks(run_id)
    assert all(t["status"] == "DONE" for t in tasks.values())
    # Each node ran in a forked process, which ends without exit handlers: its final status
    # message was sent before it ended.
    assert all(tasks[f]["status_message"].startswith("done in ") for f in TOY_FAMILIES), tasks


def test_failed_node_shows_failed_then_rerun_finishes_the_run(luigid: Luigid, tmp_path: Path) -> None:
    project = make_toy_project(tmp_path / "toy", luigid.url)
    run_id = fresh_id("fails")
    command = [*TOY, "--run-id", run_id]

    failed = run_luigi(project, *command, env=toy_env(project, TOY_FAIL="combine"))

    assert failed.returncode == TASK_FAILED, failed.stderr
    assert f"resume with: luigi {' '.join(command)}" in failed.stderr
    tasks = luigid.tasks(run_id)
    assert tasks["sched_toy.Combine"]["status"] == "FAILED"
    assert tasks["sched_toy.Summarize"]["status"] == "PENDING"
    assert tasks["sched_toy.MakeA"]["status"] == "DONE"
    error = luigid.api("fetch_error", task_id=tasks["sched_toy.Combine"]["task_id"])
    explanation = json.loads(error["error"])  # the worker's text, JSON-encoded by Luigi
    assert explanation.startswith(
        f"RuntimeError: toy node combine failed on purpose\n\nrerun with: luigi --module sched_toy SchedToyPipeline "
        f"--run-id {run_id}\n"
    ), explanation
    assert "Traceback" in error["error"]
    assert tasks["sched_toy.Combine"]["status_message"].startswith("failed: RuntimeError: toy node combine failed")

    # The same command at once (well inside stable_done_cooldown_secs): only the failed node
    # and what depends on it run.
    rerun = run_luigi(project, *command, env=toy_env(project))

    assert rerun.returncode == 0, rerun.stderr
    assert toy_counts(project) == {"make_a": 1, "make_b": 1, "make_c": 1, "combine": 2, "summarize": 1}
    tasks = luigid.tasks(run_id)
    assert {f: tasks[f]["status"] for f in TOY_FAMILIES} == dict.fromkeys(TOY_FAMILIES, "DONE")
    assert tasks["SchedToyPipeline"]["status"] == "DONE"


def test_rerun_within_cooldown_of_a_deleted_output_is_not_run_then_runs(tmp_path: Path) -> None:
    """What the README promises about [scheduler] stable_done_cooldown_secs, set in the
    luigi.cfg luigid reads (20 s rather than the default 10, so a slow machine still reruns
    inside the window)."""
    cooldown = 20
    server = start_luigid(tmp_path / "luigid", config=f"[scheduler]\nstable_done_cooldown_secs = {cooldown}\n")
    try:
        project = make_toy_project(tmp_path / "toy", server.url)
        run_id = fresh_id("cooldown")
        command = [*TOY, "--run-id", run_id]
        assert run_luigi(project, *command, env=toy_env(project)).returncode == 0
        finished = time.monotonic()
        (project / "data" / "08" / "summary.json" / run_id / "summary.json").unlink()

        early = run_luigi(project, *command, env=toy_env(project))

        if time.monotonic() - finished >= cooldown:  # a precondition of the test, not a timing of the product
            pytest.skip(f"this machine took over {cooldown} s to rerun: past the cooldown this test needs")
        assert early.returncode == NOT_FINISHED_HERE, early.stderr
        assert "was not granted run permission by the scheduler" in early.stderr
        assert toy_counts(project)["summarize"] == 1

        time.sleep(max(0.0, cooldown + 0.5 - (time.monotonic() - finished)))
        later = run_luigi(project, *command, env=toy_env(project))

        assert later.returncode == 0, later.stderr
        assert toy_counts(project) == {"make_a": 1, "make_b": 1, "make_c": 1, "combine": 1, "summarize": 2}
    finally:
        stop_process(server.process)


# -- luigi-tasks scheduler start|stop|status -------------------------------------------------


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for init to reap it is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def luigi_tasks_cmd(cwd: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [str(BIN / "luigi-tasks"), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout + done.stderr


def test_scheduler_command_starts_serves_and_stops_luigid(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    port = free_port()
    use_scheduler(project, f"http://127.0.0.1:{port}")  # the command takes its port from here
    state = project / ".luigid"
    try:
        code, out = luigi_tasks_cmd(project, "scheduler", "start")
        assert code == 0, out
        assert f"http://127.0.0.1:{port}" in out
        pid = int((state / "pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[cmdline.index(b"--address") + 1] == b"127.0.0.1"
        assert luigi_tasks_cmd(project, "scheduler", "start")[1].startswith("luigid is already running")

        run_id = fresh_id("cli")
        assert run_luigi(project, *FULL, "--run-id", run_id).returncode == 0
        code, out = luigi_tasks_cmd(project, "scheduler", "status")
        assert code == 0 and f"pid {pid}" in out and "DONE" in out, out

        os.kill(pid, signal.SIGSTOP)  # hung: alive, answering nothing
        try:
            code, out = luigi_tasks_cmd(project, "scheduler", "start")  # a cron step "make sure it is up"
            assert code == 1 and f"luigid (pid {pid}) is alive but does not answer at http://127.0.0.1:{port}" in out, out
            assert "Restart it: luigi-tasks scheduler stop && luigi-tasks scheduler start" in out
            code, out = luigi_tasks_cmd(project, "scheduler", "status")
            assert code == 1 and "Start it: luigi-tasks scheduler stop && luigi-tasks scheduler start" in out, out
        finally:
            os.kill(pid, signal.SIGCONT)
    finally:
        code, out = luigi_tasks_cmd(project, "scheduler", "stop")
    assert code == 0 and f"pid {pid}" in out, out
    assert not running(pid)
    assert not (state / "pid").exists()
    assert (state / "state.pickle").exists() and (state / "luigi-server.log").exists()
    assert luigi_tasks_cmd(project, "scheduler", "status")[0] == 1


class _MakesFolder:
    """Unpickled, it makes a folder: what an attacker's state file would do, harmlessly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.path),))


def test_scheduler_start_keeps_luigids_files_private_and_never_loads_a_state_others_could_write(
    tmp_path: Path,
) -> None:
    """luigid daemonizes with umask 0 (its files are mode 0666) and unpickles its state file
    at start: in a folder others can enter, any local user could run code as luigid's user."""
    project = copy_project(tmp_path / "project")
    port = free_port()
    use_scheduler(project, f"http://127.0.0.1:{port}")
    state, marker = project / ".luigid", tmp_path / "ran-the-pickle"
    state.mkdir(mode=0o755)
    (state / "state.pickle").write_bytes(pickle.dumps(_MakesFolder(marker)))
    os.chmod(state / "state.pickle", 0o666)  # as an earlier luigid left it, in a folder of mode 0755
    try:
        code, out = luigi_tasks_cmd(project, "scheduler", "start")
        assert code == 0, out
        assert "state.pickle was writable by other users, so it is not loaded (moved to state.pickle.untrusted-" in out
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert luigi_tasks_cmd(project, "scheduler", "status")[0] == 0
    finally:
        code, out = luigi_tasks_cmd(project, "scheduler", "stop")
    assert code == 0, out
    assert not marker.exists()
    assert [p.name.split("-")[0] for p in state.glob("state.pickle.untrusted-*")] == ["state.pickle.untrusted"]
    code, out = luigi_tasks_cmd(project, "scheduler", "start")  # its own state, in its private folder: loaded
    luigi_tasks_cmd(project, "scheduler", "stop")
    assert code == 0 and "not loaded" not in out, out


def test_scheduler_stop_never_kills_a_process_that_is_not_luigid(tmp_path: Path) -> None:
    """A stale pid file whose pid now belongs to another process (pids are reused): stop
    refuses, and that process lives on."""
    project = copy_project(tmp_path / "project")
    other = subprocess.Popen(["sleep", "60"])
    try:
        (project / ".luigid").mkdir(mode=0o700)
        (project / ".luigid" / "pid").write_text(f"{other.pid}\n")
        code, out = luigi_tasks_cmd(project, "scheduler", "stop")
        assert code == 1, out
        assert f"names pid {other.pid}, which is not luigid: not stopping it. Remove the stale pid file." in out
        assert other.poll() is None  # still running
    finally:
        other.kill()
        other.wait()


def test_scheduler_start_outside_a_project_is_refused(tmp_path: Path) -> None:
    """luigid's state would land wherever the command ran (/tmp/.luigid): refused in one line.
    stop and status still reach a luigid that an earlier start left in such a folder."""
    assert not any((folder / "config").is_dir() for folder in (tmp_path, *tmp_path.parents))
    port = str(free_port())
    try:
        for action in ("start", "status"):
            code, out = luigi_tasks_cmd(tmp_path, "scheduler", action, "--port", port)
            assert (code, out) == (
                2,
                f"luigi-tasks: error: No config/ folder in {tmp_path} or any folder above it. Run from the project "
                "folder (the one holding config/catalog.yml), or set project_root in the [luigi_tasks] section "
                "of luigi.cfg.\n",
            ), action
            assert not (tmp_path / ".luigid").exists()
    finally:
        if (tmp_path / ".luigid" / "pid").exists():  # started after all: stop it
            luigi_tasks_cmd(tmp_path, "scheduler", "stop")
    (tmp_path / ".luigid").mkdir()
    (tmp_path / ".luigid" / "pid").write_text("999999999\n")  # its luigid has exited since
    assert luigi_tasks_cmd(tmp_path, "scheduler", "stop") == (0, "luigid was not running.\n")
    assert not (tmp_path / ".luigid" / "pid").exists()
