"""Shared fixtures: a temporary copy of the example project, and running `luigi` in it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from luigi_tasks.project import current_project
from luigi_tasks.storage import CACHE_DIR, SETTLE_NS

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LUIGI = str(BIN / "luigi")


def copy_project(dest: Path) -> Path:
    """The example project's config, raw data and luigi.cfg, copied under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "config", dest / "config", ignore=shutil.ignore_patterns("local"))
    (dest / "config" / "local").mkdir()
    (dest / "data" / "01_raw").mkdir(parents=True)
    shutil.copy2(REPO / "data" / "01_raw" / "house.csv", dest / "data" / "01_raw" / "house.csv")
    shutil.copy2(REPO / "luigi.cfg", dest / "luigi.cfg")
    return dest


def wait_settled() -> None:
    """Wait until files written so far may be cached by their stat (:func:`storage.settled`).

    A real wait: the ctime, which the cache keys also check, cannot be set back.
    """
    time.sleep(SETTLE_NS / 1e9 + 0.05)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the example project (no outputs yet)."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Work inside ``project`` in this process (its catalog is read afresh)."""
    monkeypatch.chdir(project)
    current_project.cache_clear()
    yield project
    current_project.cache_clear()


def run_luigi(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `luigi` command as a user would, in ``cwd``; never raises on failure."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [LUIGI, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path; not luigi-tasks' caches
    (``.cache/``: kept apart from what runs save, and written whenever a file has settled)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and CACHE_DIR not in p.relative_to(folder).parts
    }


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A project running ``tests/toy/toy_pipeline.py`` (see :func:`run_toy`)."""
    from tests.toy import make_toy_project

    return make_toy_project(tmp_path / "toy", REPO)


def run_toy(
    cwd: Path, *args: str, module_dir: Path | None = None, module: str = "toy_pipeline", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`luigi --module toy_pipeline ...` in a toy project (module from ``module_dir``), with
    this checkout's luigi_tasks (not one installed from elsewhere)."""
    from tests.toy import TOY_DIR

    env = {"PYTHONPATH": os.pathsep.join([str(module_dir or TOY_DIR), str(REPO)])}
    return run_luigi(cwd, "--module", module, *args, env=env, timeout=timeout)


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `luigi-tasks` command, as a user runs it in ``cwd``."""
    return subprocess.run(
        [str(BIN / "luigi-tasks"), *args], cwd=cwd, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )


def calls(cwd: Path) -> list[str]:
    """Which toy nodes ran, in order, since the log was last cleared."""
    log = cwd / "calls.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []
