"""Helpers for the bad-input, crash and security tests.

- :func:`done_project`: a copy of the example project holding one complete run
  (built once per session, copied per test: a full run costs about 2 s);
- :func:`luigi`: the real ``luigi --module luigi_tasks.pipelines ...`` command, optionally
  with a file-size limit (``RLIMIT_FSIZE``) that makes writes fail like a full disk;
- :func:`tail` and :func:`assert_refused`: the message must be on the last lines;
- :func:`outputs_of` / :func:`assert_equal_output`: load a run's outputs and compare them
  with a clean run's;
- dataset classes used by catalog entries in tests (by dotted path).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from luigi_tasks.datasets import CSVDataset, ParquetDataset
from luigi_tasks.datasets.base import Source
from luigi_tasks.project import Project
from tests.conftest import LUIGI, REPO, copy_project, tree_digest

MODULE = "luigi_tasks.pipelines"
BASE_RUN = "r0"
TEMP_MARKER = ".tmp-"
ASIDE_MARKER = ".aside-"


def luigi(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    fsize_limit: int | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``luigi --module luigi_tasks.pipelines <args>`` in ``cwd``, as a user types it.

    ``fsize_limit`` caps the size of any file the process writes (bytes): a write past it
    fails with ``OSError: [Errno 27] File too large``, a real mid-write failure like a full
    disk (Python ignores SIGXFSZ, so the write raises instead of killing the process).
    """

    def limit() -> None:
        if fsize_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [LUIGI, "--module", MODULE, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if fsize_limit is not None else None,
        check=False,
    )


def tail(result: subprocess.CompletedProcess[str], lines: int = 4) -> str:
    """The last ``lines`` non-empty lines of the command's stderr."""
    return "\n".join([line for line in result.stderr.splitlines() if line.strip()][-lines:])


def assert_refused(result: subprocess.CompletedProcess[str], *needles: str, lines: int = 4) -> str:
    """The command failed, and every needle is on its last lines, not under a traceback."""
    end = tail(result, lines)
    assert result.returncode != 0, f"exit code 0:\n{result.stderr[-3000:]}"
    missing = [n for n in needles if n not in end]
    assert not missing, f"{missing} not in the last {lines} lines:\n{end}\n--- stderr ---\n{result.stderr[-3000:]}"
    assert "Traceback" not in end and 'File "' not in end, end
    return end


_TEMPLATE: Path | None = None


def done_project(dest: Path, template_root: Path) -> Path:
    """A copy of the example project under ``dest`` where run ``r0`` is complete."""
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.exists():
        template = copy_project(template_root / "template")
        result = luigi(template, "FullPipeline", "--local-scheduler", "--run-id", BASE_RUN)
        assert result.returncode == 0, result.stderr[-3000:]
        _TEMPLATE = template
    shutil.copytree(_TEMPLATE, dest, symlinks=True)
    (dest / "data" / "01_raw" / "house.csv").chmod(0o644)
    return dest


def saved_files(project: Path) -> dict[str, str]:
    """Digest of every file under ``data/`` (what must not change when a command fails),
    but the caches in ``data/09_runs/.cache/``: derived, refreshed by any command."""
    return {k: v for k, v in tree_digest(project / "data").items() if not k.startswith("09_runs/.cache/")}


def assert_unchanged(before: Mapping[str, str], project: Path) -> None:
    """Every file in ``before`` is still there with the same bytes, and no temp file is left."""
    after = saved_files(project)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"changed or removed: {changed}"
    leftovers = sorted(k for k in after if TEMP_MARKER in k)
    assert not leftovers, f"temporary files left: {leftovers}"


def versioned_outputs(project: Path) -> dict[str, Any]:
    """The example project's versioned datasets by name (their entries)."""
    catalog = Project.load(project).catalog
    return {name: catalog.entry(name) for name in catalog if catalog.is_versioned(name)}


def outputs_of(project: Path, run_id: str) -> dict[str, Any]:
    """Every output of ``run_id`` that exists, loaded, by dataset name."""
    catalog = Project.load(project).catalog
    out = {}
    for name in catalog:
        if catalog.is_versioned(name):
            ds = catalog.dataset(name, run_id)
            if ds.exists():
                out[name] = ds.load()
    return out


def assert_equal_output(name: str, got: Any, expected: Any) -> None:
    """Outputs of two runs with the same parameters are equal (models by their fit)."""
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, obj=name)
    elif hasattr(expected, "coef_"):
        assert type(got) is type(expected), name
        np.testing.assert_allclose(got.coef_, expected.coef_, err_msg=name)
        np.testing.assert_allclose(got.intercept_, expected.intercept_, err_msg=name)
    else:
        assert got == expected, name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_module(folder: Path, name: str, text: str) -> Path:
    """Write ``<folder>/<name>.py`` (a pipeline module for ``luigi --module <name>``)."""
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path


# -- dataset classes named by dotted path in test catalogs ---------------------------------

SECRET_ENV = "LUIGI_TASKS_TEST_SECRET"


class ChattyCSVDataset(CSVDataset):
    """A CSV dataset whose storage fails with an error that echoes its storage options,
    as some storage clients do (a signed URL, a key id in an 'access denied' message)."""

    def _load_from(self, src: Source) -> pd.DataFrame:
        raise PermissionError(f"access denied with options {self._fs.storage_options}")


class SlowParquetDataset(ParquetDataset):
    """A Parquet dataset that pauses before committing, so two saves overlap in time."""

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        super()._save_to(data, dst)
        time.sleep(0.2)


class GatedParquetDataset(ParquetDataset):
    """A Parquet dataset whose save waits, before writing, for a file ``GO_<pid>`` in the
    working folder: a test holds a worker between two of a node's saves."""

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        gate = Path(f"GO_{os.getpid()}")
        for _ in range(1200):
            if gate.exists():
                break
            time.sleep(0.05)
        super()._save_to(data, dst)


class HeldParquetDataset(ParquetDataset):
    """A Parquet dataset whose save first says it started (a file ``SAVING_<name>_<pid>`` in the
    working folder) and, while a file ``HOLD_<name>`` is there, waits for ``GO_<name>_<pid>``:
    a test knows a worker reached the save, and when it goes on."""

    def save(self, data: pd.DataFrame) -> None:
        pid = os.getpid()
        Path(f"SAVING_{self.name}_{pid}").touch()
        if Path(f"HOLD_{self.name}").exists():
            for _ in range(1200):
                if Path(f"GO_{self.name}_{pid}").exists():
                    break
                time.sleep(0.05)
        super().save(data)


def save_concurrently(path: str, value: int, barrier: Any, results: Any) -> None:
    """Child process: wait for the other one, then save a frame of ``value`` as version v1."""
    from luigi_tasks.errors import VersionExistsError

    frame = pd.DataFrame({"x": np.full(200_000, value, dtype="int64")})
    dataset = SlowParquetDataset(path, version="v1", name="contested")
    barrier.wait()
    try:
        dataset.save(frame)
        results.put((value, "won", ""))
    except VersionExistsError as exc:
        results.put((value, "VersionExistsError", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put((value, type(exc).__name__, str(exc)))
    sys.stdout.flush()
