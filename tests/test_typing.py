"""The package passes the project's static type check (mypy, configured in pyproject.toml), so CI enforces it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed: pip install -e '.[test]' (the test extra pins it and the stubs it needs)",
)
def test_mypy_finds_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
            "--cache-dir", str(tmp_path / "mypy_cache"), "luigi_tasks",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, f"mypy found problems (see [tool.mypy] in pyproject.toml):\n{done.stdout}{done.stderr}"
