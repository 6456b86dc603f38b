"""Issue 5, crashes: a killed worker leaves no half-written data; racing saves have one winner.

Kill -9 trials run the real ``luigi`` command and SIGKILL it at a random moment. The
default is a handful of trials (a few seconds each); for more::

    LUIGI_TASKS_CRASH_TRIALS=50 pytest tests/test_crashes.py
    LUIGI_TASKS_CRASH_SEED=1234 pytest tests/test_crashes.py    # replay one sequence

The seed is printed (``pytest -s`` or in the failure report) so a failure can be replayed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from luigi_tasks import journal
from luigi_tasks.datasets import ParquetDataset
from luigi_tasks.datasets.atomic import HOST
from luigi_tasks.project import Project
from tests.conftest import LUIGI, REPO
from tests.crash_support import (
    ASIDE_MARKER,
    BASE_RUN,
    MODULE,
    TEMP_MARKER,
    assert_equal_output,
    done_project,
    luigi,
    outputs_of,
    save_concurrently,
    saved_files,
)

TRIALS = int(os.environ.get("LUIGI_TASKS_CRASH_TRIALS", "3"))
SEED = int(os.environ.get("LUIGI_TASKS_CRASH_SEED", str(random.randrange(2**31))))


@pytest.fixture(scope="session")
def template_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("done-template")


def _classify(project: Path, run_id: str) -> dict[str, list[Path]]:
    """Files under data/ that belong to ``run_id``: outputs, set-aside copies, temps, records."""
    catalog = Project.load(project).catalog
    outputs = {Path(catalog.dataset(n, run_id).path): n for n in catalog if catalog.is_versioned(n)}
    found: dict[str, list[Path]] = {"output": [], "aside": [], "temp": [], "record": [], "other": []}
    for path in sorted((project / "data").rglob("*")):
        if not path.is_file() or f"/{run_id}/" not in f"{path.as_posix()}":
            continue
        if TEMP_MARKER in path.name:
            found["temp"].append(path)
        elif path in outputs:
            found["output"].append(path)
        elif ASIDE_MARKER in path.name and Path(path.as_posix().split(ASIDE_MARKER)[0]) in outputs:
            found["aside"].append(path)
        elif "09_runs" in path.parts:
            found["record"].append(path)
        else:
            found["other"].append(path)
    return found


def _check_no_partial_output(project: Path, run_id: str, reference: dict[str, Any]) -> dict[str, list[Path]]:
    """Every file a killed run left that looks like data is whole and equals a clean run's."""
    found = _classify(project, run_id)
    assert not found["other"], f"unexpected files: {found['other']}"
    catalog = Project.load(project).catalog
    by_path = {Path(catalog.dataset(n, run_id).path): n for n in catalog if catalog.is_versioned(n)}
    for name, value in outputs_of(project, run_id).items():  # loads each: a partial file fails here
        assert_equal_output(name, value, reference[name])
    for aside in found["aside"]:
        name = by_path[Path(aside.as_posix().split(ASIDE_MARKER)[0])]
        entry = catalog.entry(name)
        assert_equal_output(name, entry.dataset_type(str(aside), name=name).load(), reference[name])
    for record in found["record"]:
        if record.suffix == ".json":
            json.loads(record.read_text(encoding="utf-8"))
    for temp in found["temp"]:
        assert temp.name.startswith("."), f"temporary file not hidden: {temp}"
    return found


def _start(project: Path, run_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [LUIGI, "--module", MODULE, "FullPipeline", "--local-scheduler", "--run-id", run_id],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def _wait_for_work(project: Path, run_id: str, proc: subprocess.Popen[bytes]) -> float:
    """Wait until the run's first node has started (its record folder appears); the time."""
    record = project / "data" / "09_runs" / run_id
    while not record.exists() and proc.poll() is None:
        time.sleep(0.005)
    return time.monotonic()


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_only_whole_outputs_and_resumes(tmp_path: Path, template_root: Path) -> None:
    print(f"crash trials: {TRIALS}, seed: {SEED} (replay: LUIGI_TASKS_CRASH_SEED={SEED})")
    rng = random.Random(SEED)
    project = done_project(tmp_path / "project", template_root)
    reference = outputs_of(project, BASE_RUN)
    assert len(reference) == 8

    # A clean run: its outputs equal r0's, and it tells how long the nodes' work lasts
    # (from the run's record folder appearing to the last output), where the kills land.
    clean = _start(project, "clean")
    work_started = _wait_for_work(project, "clean", clean)
    last_output = Path(Project.load(project).catalog.dataset("metrics", "clean").path)
    while not last_output.exists() and clean.poll() is None:
        time.sleep(0.002)
    work = time.monotonic() - work_started
    _, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err.decode()[-2000:]
    for name, value in outputs_of(project, "clean").items():
        assert_equal_output(name, value, reference[name])
    earlier = saved_files(project)  # runs r0 and clean: completed, must never change

    summary = []
    for trial in range(TRIALS):
        run_id = f"crash-{trial}"
        delay = rng.uniform(0.0, 1.1 * work)
        proc = _start(project, run_id)
        _wait_for_work(project, run_id, proc)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        where = f"trial {trial} (seed {SEED}, killed {delay:.3f} s into the work, exit {proc.returncode})"
        found = _check_no_partial_output(project, run_id, reference)
        summary.append(
            f"{where}: {len(found['output'])} whole outputs, {len(found['temp'])} hidden temp files left"
        )

        after = saved_files(project)
        changed = sorted(k for k in earlier if after.get(k) != earlier[k])
        assert not changed, f"{where}: completed runs' files changed: {changed}"

        again = luigi(project, "FullPipeline", "--local-scheduler", "--run-id", run_id)
        assert again.returncode == 0, f"{where}: rerun failed:\n{again.stderr[-3000:]}"
        assert f"run {run_id} is complete" in again.stderr.strip().splitlines()[-1]
        final = _check_no_partial_output(project, run_id, reference)
        assert len(final["output"]) == len(reference), f"{where}: outputs after rerun: {final['output']}"
        # The rerun's saves removed the killed process's temp files; one can stay only beside
        # an output the killed process finished (killed between its link and its unlink).
        for temp in final["temp"]:
            target = temp.parent / temp.name[1:].split(TEMP_MARKER)[0]
            assert target in found["output"], f"{where}: temp file left after the rerun: {temp}"
    print(f"work window {work:.2f} s\n" + "\n".join(summary))


@pytest.mark.parametrize("round_", range(2))
def test_two_processes_saving_one_version_exactly_one_wins(tmp_path: Path, round_: int) -> None:
    path = str(tmp_path / "contested.parquet")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=save_concurrently, args=(path, value, barrier, results)) for value in (1, 2)]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    statuses = sorted(status for _, status, _ in outcomes)
    assert statuses == ["VersionExistsError", "won"], outcomes
    winner = next(value for value, status, _ in outcomes if status == "won")
    loser_message = next(message for _, status, message in outcomes if status != "won")
    assert "Dataset 'contested'" in loser_message and "version 'v1' exists already" in loser_message
    assert "never overwritten" in loser_message and "--run-id" in loser_message
    frame = ParquetDataset(path, version="v1").load()
    assert len(frame) == 200_000 and set(frame["x"]) == {winner}
    folder = Path(path) / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["contested.parquet"]  # the loser's temp is gone


def test_a_node_killed_between_two_saves_is_resumed_and_its_first_save_kept_aside(
    tmp_path: Path, template_root: Path
) -> None:
    """SplitData saves four outputs; killed after the first, its run is incomplete (Luigi's
    rule: done only when every output exists). The rerun sets the orphan aside (nothing is
    deleted) and completes; a hidden temp file of an interrupted write is never an output, and
    is removed by the rerun's save once its writer is known to be gone."""
    project = done_project(tmp_path / "project", template_root)
    catalog = Project.load(project).catalog
    reference = outputs_of(project, BASE_RUN)
    for name in ("preprocessed_houses", "train_x"):
        catalog.dataset(name, "r1").save(reference[name])
    test_x = Path(catalog.dataset("test_x", "r1").path)
    test_x.parent.mkdir(parents=True)
    temp = test_x.parent / f".{test_x.name}{TEMP_MARKER}0123456789ab"
    temp.write_bytes(b"PAR1 half a file")  # what a kill during a write leaves (a name of unknown writer)
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = test_x.parent / f".{test_x.name}{TEMP_MARKER}{HOST}-{int(killed.stdout)}-0123456789ab"
    orphan.write_bytes(b"PAR1 half a file")  # ... of a process on this host that is gone
    assert not catalog.dataset("test_x", "r1").exists()

    result = luigi(project, "FullPipeline", "--local-scheduler", "--run-id", "r1")
    assert result.returncode == 0, result.stderr[-3000:]
    found = _check_no_partial_output(project, "r1", reference)
    assert len(found["output"]) == len(reference)
    assert [p.name.split(ASIDE_MARKER)[0] for p in found["aside"]] == ["train_x.parquet"]
    assert found["temp"] == [temp] and temp.read_bytes() == b"PAR1 half a file"  # the orphan was removed
    assert f"Removed {orphan}, left by a save that was killed." in result.stderr


def _toy_replacing(tmp_path: Path, first: str, stop: str, code: str) -> tuple[Path, Path]:
    """A toy project, and a folder holding the toy module with the text from ``first`` up to
    ``stop`` replaced by ``code``."""
    from tests.toy import TOY_DIR, make_toy_project

    module = tmp_path / "module" / "toy_pipeline.py"
    module.parent.mkdir()
    text = (TOY_DIR / "toy_pipeline.py").read_text(encoding="utf-8")
    start, end = text.index(first), text.index(stop)
    module.write_text(text[:start] + code.lstrip() + "\n\n" + text[end:], encoding="utf-8")
    return make_toy_project(tmp_path / "toy", REPO), module.parent


# -- Ctrl-C ------------------------------------------------------------------------------------

_INTERRUPTIBLE_B = '''
def step_b(a: pd.DataFrame) -> pd.DataFrame:
    import time
    _called("b")
    Path("B_STARTED").touch()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        if not Path("SWALLOW").exists():
            raise
        # As scikit-learn's MLPRegressor.fit does: stop early, return what there is.
    return a.assign(x=a["x"] + 1)
'''


@pytest.mark.parametrize("swallowed", [False, True], ids=["raised", "swallowed-by-the-function"])
def test_ctrl_c_saves_nothing_of_the_node_and_says_the_run_was_interrupted(tmp_path: Path, swallowed: bool) -> None:
    from tests.toy import TOY_DIR

    toy, module_dir = _toy_replacing(tmp_path, "def step_b(", "def step_c(", _INTERRUPTIBLE_B)
    if swallowed:
        (toy / "SWALLOW").touch()
    command = [LUIGI, "--module", "toy_pipeline", "ToyPipeline", "--local-scheduler", "--run-id", "c1"]
    env = {**os.environ, "PYTHONPATH": str(module_dir)}
    worker = subprocess.Popen(command, cwd=toy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if (toy / "B_STARTED").exists() or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert (toy / "B_STARTED").exists()
        worker.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == -signal.SIGINT, stderr[-3000:]  # ended by the interrupt, as Python does (shell: 130)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-2:] == [
        "luigi-tasks: run c1 was interrupted (Ctrl-C) while toy.StepB ran; a node that did not finish does not count "
        "as done (what it saved is set aside when it runs again).",
        "luigi-tasks: resume with: luigi --module toy_pipeline ToyPipeline --local-scheduler --run-id c1",
    ]
    assert (toy / "data/02/a.parquet/c1/a.parquet").exists()
    assert not list(toy.glob("data/02/b.parquet/c1/*"))
    # runs show agrees with the closing line, also for a node stopped in its first second
    # (before a node writes its "running" record).
    shown = subprocess.run([str(Path(LUIGI).parent / "luigi-tasks"), "runs", "show", "c1", "--module", "toy_pipeline"],
                           cwd=toy, env=env, capture_output=True, text=True, timeout=120)
    row = next(line for line in shown.stdout.splitlines() if line.startswith("toy.StepB"))
    assert row.split()[1] == "interrupted", shown.stdout + shown.stderr
    (toy / "SWALLOW").unlink(missing_ok=True)
    (toy / "B_STARTED").unlink()
    # Resumed with the plain toy module (its StepB does not sleep): StepB runs again, StepA does not.
    resumed = subprocess.run(
        command, cwd=toy, env={**os.environ, "PYTHONPATH": str(TOY_DIR)}, capture_output=True, text=True, timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "toy.StepB [run c1] done" in resumed.stderr and "toy.StepA [run c1] done" not in resumed.stderr


# -- two commands on one run, --local-scheduler ---------------------------------------------------

_WAITING_B_AND_C = '''
def step_b(a: pd.DataFrame) -> pd.DataFrame:
    import os
    import time
    _called("b")
    Path(f"B_{os.getpid()}").touch()
    for _ in range(1200):
        if Path(f"GO_{os.getpid()}").exists():
            break
        time.sleep(0.05)
    return a.assign(x=a["x"] + 1, pid=os.getpid())


def step_c(b: pd.DataFrame) -> dict[str, float]:
    _called("c")
    return {"total": float(b["x"].sum()), "b_pid": int(b["pid"].iloc[0])}
'''


def _release_in_turn(
    toy: Path, first: subprocess.Popen[str], second: subprocess.Popen[str], ready: Callable[[], None]
) -> tuple[str, str]:
    """Once ``ready()`` returns, let ``first`` go on (its file ``GO_<pid>``) and end, then
    ``second``; their stderr. Both are killed if anything goes wrong."""
    try:
        ready()
        (toy / f"GO_{first.pid}").touch()
        _, first_err = first.communicate(timeout=120)
        (toy / f"GO_{second.pid}").touch()
        _, second_err = second.communicate(timeout=120)
    finally:
        first.kill()
        second.kill()
    return first_err, second_err


def test_two_local_commands_on_one_run_keep_the_first_save_and_never_set_it_aside(tmp_path: Path) -> None:
    """Luigi's lock refuses only an identical command line, and two --local-scheduler processes
    do not coordinate: both may run one node. The second to save keeps the first one's
    outputs (its result is discarded) instead of taking them for a killed attempt's."""
    toy, module_dir = _toy_replacing(tmp_path, "def step_b(", "def step_d(", _WAITING_B_AND_C)
    env = {**os.environ, "PYTHONPATH": str(module_dir)}

    def start_command(task: str) -> subprocess.Popen[str]:
        command = [LUIGI, "--module", "toy_pipeline", task, "--local-scheduler", "--run-id", "w1"]
        return subprocess.Popen(command, cwd=toy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait_for(path: Path) -> None:
        for _ in range(600):
            if path.exists():
                return
            time.sleep(0.05)
        raise AssertionError(f"{path} never appeared")

    first = start_command("ToyPipeline")
    wait_for(toy / f"B_{first.pid}")
    second = start_command("toy.StepC")  # another command line: Luigi's lock lets it run
    first_err, second_err = _release_in_turn(toy, first, second, lambda: wait_for(toy / f"B_{second.pid}"))
    assert first.returncode == 0 and second.returncode == 0, first_err[-2000:] + second_err[-2000:]
    assert first_err.strip().endswith("luigi-tasks: run w1 is complete.")
    assert second_err.strip().endswith("luigi-tasks: run w1 is complete.")
    assert f"toy.StepB [run w1]: another worker (host {socket.gethostname()}, pid {first.pid}) saved its outputs while this one ran it" in second_err
    assert not [p for p in (toy / "data").rglob("*") if ASIDE_MARKER in p.name], "a finished output was set aside"
    b = ParquetDataset(str(toy / "data/02/b.parquet"), version="w1").load()
    c = json.loads((toy / "data/03/c.json/w1/c.json").read_text(encoding="utf-8"))
    assert set(b["pid"]) == {first.pid} and c["b_pid"] == first.pid  # one run, one story


_KILLED_B = '''
def step_b(a: pd.DataFrame) -> pd.DataFrame:
    import os
    import signal
    _called("b")
    if Path("KILL_B").exists():
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does
    return a.assign(x=a["x"] + 1)
'''


def test_a_worker_killed_by_sigkill_is_named_by_its_node_and_the_resume_finishes(tmp_path: Path) -> None:
    """With --workers N a node runs in a child process: killed (out of memory), Luigi names
    the task id and a bare exit code; the closing lines name the node and what happened."""
    toy, module_dir = _toy_replacing(tmp_path, "def step_b(", "def step_c(", _KILLED_B)
    env = {**os.environ, "PYTHONPATH": str(module_dir)}
    command = [LUIGI, "--module", "toy_pipeline", "ToyPipeline", "--local-scheduler", "--run-id", "k1", "--workers", "2"]
    (toy / "KILL_B").touch()
    killed = subprocess.run(command, cwd=toy, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == 30, killed.stderr[-2000:]
    assert (
        "luigi-tasks:   toy.StepB died: its process ended (killed by SIGKILL: out of memory, or kill -9) before the "
        "node finished, so nothing it saved counts as done"
    ) in killed.stderr.splitlines(), killed.stderr[-2000:]
    assert not (toy / "data/02/b.parquet/k1").exists()
    (toy / "KILL_B").unlink()
    resumed = subprocess.run(command, cwd=toy, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0 and resumed.stderr.strip().endswith("luigi-tasks: run k1 is complete.")


_TWO_OUTPUTS = """
import os
import time

import pandas as pd

from luigi_tasks import PipelineTask, node


def gen(raw):
    time.sleep(1.3)  # over a second: the node records that it runs
    frame = pd.DataFrame({"x": range(3), "pid": os.getpid()})
    return frame, frame.assign(x=frame["x"] * 2)


Gen = node(gen, "raw", ["p", "q"], namespace="two")


class Both(PipelineTask):
    parts = (Gen,)
"""


@pytest.mark.parametrize("a_done", [False, True], ids=["while-a-saves-q", "after-a-completed"])
def test_a_second_local_command_never_sets_aside_what_a_live_one_saved_before_it_started(
    tmp_path: Path, a_done: bool
) -> None:
    """Command A saved p and is saving q when command B (started after p was saved) reaches
    its own save of p: that p is not a killed attempt's (A runs the node now), so B waits for
    A's record and keeps A's outputs, instead of setting p aside and mixing the two. Likewise
    when A has completed the node (and exited) by the time B reaches that save."""
    from tests.toy import make_toy_project

    toy = make_toy_project(tmp_path / "toy", REPO)
    (toy / "two.py").write_text(_TWO_OUTPUTS)
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("p: {type: tests.crash_support.HeldParquetDataset, filepath: data/04/p.parquet, versioned: true}\n")
        f.write("q: {type: tests.crash_support.GatedParquetDataset, filepath: data/04/q.parquet, versioned: true}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy), str(REPO)])}

    def start(task: str) -> subprocess.Popen[str]:
        command = [LUIGI, "--module", "two", task, "--local-scheduler", "--run-id", "m1"]
        return subprocess.Popen(command, cwd=toy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait_until(check: Any) -> None:
        for _ in range(600):
            if check():
                return
            time.sleep(0.05)
        raise AssertionError("never happened")

    first = start("Both")
    wait_until((toy / "data/04/p.parquet/m1/p.parquet").exists)  # A saved p; it waits before writing q
    if a_done:
        (toy / "HOLD_p").touch()  # B will wait at its save of p until A has ended
    second = start("two.Gen")  # another command line: Luigi's lock lets it run

    def second_reaches_its_save() -> None:
        def second_runs_gen() -> bool:
            latest = journal.read_latest(str(toy / "data/09_runs/m1")).get("two.Gen", {})
            return latest.get("pid") == second.pid and latest.get("status") == "running"

        wait_until(second_runs_gen)  # B's own "running" record is now the node's latest
        wait_until((toy / f"SAVING_p_{second.pid}").exists)  # B reaches its save of p

    if a_done:
        try:
            second_reaches_its_save()  # and waits there (HOLD_p)
            (toy / f"GO_{first.pid}").touch()
            _, first_err = first.communicate(timeout=120)  # A saved q, recorded the node done, exited
            (toy / f"GO_p_{second.pid}").touch()
            (toy / f"GO_{second.pid}").touch()
            _, second_err = second.communicate(timeout=120)
        finally:
            first.kill()
            second.kill()
    else:
        first_err, second_err = _release_in_turn(toy, first, second, second_reaches_its_save)
    assert first.returncode == 0 and second.returncode == 0, first_err[-2000:] + second_err[-2000:]
    assert "set aside" not in first_err + second_err, second_err[-2000:]
    assert f"another worker (host {socket.gethostname()}, pid {first.pid}) saved its outputs" in second_err
    p = ParquetDataset(str(toy / "data/04/p.parquet"), version="m1").load()
    q = ParquetDataset(str(toy / "data/04/q.parquet"), version="m1").load()
    assert set(p["pid"]) == set(q["pid"]) == {first.pid}  # one worker's outputs, not a mix
