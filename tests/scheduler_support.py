"""A real ``luigid`` for tests, projects pointed at it, and the scheduler-test toy project.

The ``luigid`` fixture (:func:`luigid_fixture`) starts Luigi's central scheduler on a free loopback port with its
state and logs in a temporary folder, waits until it answers, and stops it by its pid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, LUIGI, REPO

LUIGID = str(BIN / "luigid")
TOY_DIR = Path(__file__).resolve().parent / "sched_toy"
TOY_CATALOG = """\
a: {type: json.JSONDataset, filepath: data/02/a.json, versioned: true}
b: {type: json.JSONDataset, filepath: data/02/b.json, versioned: true}
c: {type: json.JSONDataset, filepath: data/02/c.json, versioned: true}
combined: {type: json.JSONDataset, filepath: data/03/combined.json, versioned: true}
summary: {type: json.JSONDataset, filepath: data/08/summary.json, versioned: true}
"""
#: The example project's node task families.
NODE_FAMILIES = (
    "data_engineering.PreprocessHouses",
    "data_engineering.SplitData",
    "data_science.TrainModel",
    "data_science.Predict",
    "data_science.EvaluateModel",
)
WRAPPERS = ("DataEngineeringPipeline", "DataSciencePipeline", "FullPipeline")


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(url: str, method: str, timeout: float = 5.0, **data: Any) -> Any:
    """Call luigid's JSON API and return its ``response``."""
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"{url}/api/{method}?{query}", timeout=timeout) as reply:
        return json.loads(reply.read().decode("utf-8"))["response"]


@dataclass
class Luigid:
    """A running luigid: its process, URL and folder."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, **data: Any) -> Any:
        return api(self.url, method, **data)

    def tasks(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Every task of run ``run_id`` luigid knows, by family (one run: one task each),
        each with its ``task_id`` added."""
        found = self.api("task_list", status="", upstream_status="", search=f"run_id={run_id}")
        assert "num_tasks" not in found, found
        return {
            task["name"]: {**task, "task_id": task_id}
            for task_id, task in found.items()
            if task["params"].get("run_id") == run_id
        }

    def log(self) -> str:
        path = self.folder / "logs" / "luigi-server.log"
        return path.read_text(errors="replace") if path.exists() else "(no luigi-server.log)"


def start_luigid(folder: Path, config: str | None = None, timeout: float = 30.0) -> Luigid:
    """Start ``luigid`` in the foreground on a free loopback port; wait until it answers.

    ``config`` is written to ``folder/luigi.cfg``, which luigid reads from its working folder.
    """
    (folder / "logs").mkdir(parents=True, exist_ok=True)  # luigid --logdir needs it to exist
    if config is not None:
        (folder / "luigi.cfg").write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "LUIGI_CONFIG_PATH"}
    problems = []
    for _ in range(3):  # another process may take the port between free_port() and bind
        port = free_port()
        with (folder / "luigid.out").open("ab") as out:
            process = subprocess.Popen(
                [
                    LUIGID,
                    "--address",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--state-path",
                    str(folder / "state.pickle"),
                    "--logdir",
                    str(folder / "logs"),
                ],
                cwd=folder,  # luigid reads ./luigi.cfg: Luigi's defaults unless ``config``
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Luigid(process, port, folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.api("task_list", status="RUNNING", upstream_status="")
                return server
            except OSError:
                time.sleep(0.1)
        stop_process(process)
        problems.append(f"port {port}: {server.log()[-2000:]}")
    raise RuntimeError("luigid did not start:\n" + "\n".join(problems))


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process, SIGKILL it if it lingers, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@pytest.fixture(name="luigid")
def luigid_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Luigid]:
    """``luigid``: a real luigid on a free loopback port, state and logs in a temporary folder.

    Import ``luigid_fixture`` into a test module to use it there.
    """
    server = start_luigid(tmp_path_factory.mktemp("luigid"))
    try:
        yield server
    finally:
        stop_process(server.process)


def use_scheduler(project: Path, url: str) -> None:
    """Point the project's luigi.cfg ``[core] scheduler_url`` at ``url``."""
    cfg = project / "luigi.cfg"
    text, n = re.subn(r"(?m)^scheduler_url\s*=.*$", f"scheduler_url = {url}", cfg.read_text())
    assert n == 1, "luigi.cfg has no scheduler_url line"
    cfg.write_text(text)


def make_toy_project(dest: Path, url: str) -> Path:
    """A project running ``tests/sched_toy/sched_toy.py`` against the luigid at ``url``."""
    (dest / "config" / "local").mkdir(parents=True)
    (dest / "config" / "catalog.yml").write_text(TOY_CATALOG, encoding="utf-8")
    (dest / "config" / "parameters.yml").write_text("{}\n", encoding="utf-8")
    shutil.copy2(REPO / "config" / "logging.ini", dest / "config" / "logging.ini")
    shutil.copy2(REPO / "luigi.cfg", dest / "luigi.cfg")
    use_scheduler(dest, url)
    return dest


def toy_env(project: Path, **extra: str) -> dict[str, str]:
    """The environment of a `luigi --module sched_toy` worker (see the module's docstring)."""
    env = {**os.environ, "PYTHONPATH": str(TOY_DIR), "TOY_LOG": str(project / "toy.log")}
    env.pop("TOY_FAIL", None)
    env.pop("TOY_BARRIER", None)
    env.pop("TOY_SLOW", None)
    return {**env, **extra}


def toy_starts(project: Path) -> list[tuple[str, int]]:
    """Every toy node execution so far, in order: (node function, pid)."""
    log = project / "toy.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [(name, int(pid)) for name, pid in (line.split() for line in lines)]


def toy_counts(project: Path) -> Counter[str]:
    """How many times each toy node function ran."""
    return Counter(name for name, _ in toy_starts(project))


@dataclass(frozen=True)
class Finished:
    """One ended `luigi` process."""

    pid: int
    returncode: int
    stdout: str
    stderr: str


def launch_together(
    cwd: Path, n: int, args: Sequence[str], env: dict[str, str], timeout: float = 240
) -> list[Finished]:
    """Start ``n`` identical `luigi` commands at once (``--no-lock``) and wait for all."""
    outs = [(cwd / f"worker{i}.out", cwd / f"worker{i}.err") for i in range(n)]
    procs = []
    for out, err in outs:
        with out.open("wb") as o, err.open("wb") as e:
            procs.append(subprocess.Popen([LUIGI, *args, "--no-lock"], cwd=cwd, env=env, stdout=o, stderr=e))
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(max(deadline - time.monotonic(), 1))
    finally:
        for p in procs:
            stop_process(p)  # only if a wait above timed out
    return [
        Finished(p.pid, int(p.returncode), o.read_text(errors="replace"), e.read_text(errors="replace"))
        for p, (o, e) in zip(procs, outs, strict=True)
    ]
