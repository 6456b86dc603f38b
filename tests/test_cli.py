"""The `luigi-tasks` command itself: its version, and the commands its help lists."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import luigi_tasks
from tests.conftest import run_cli


def test_version_is_the_installed_package_version(project: Path) -> None:
    done = run_cli(project, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"luigi-tasks {luigi_tasks.__version__}"
    assert luigi_tasks.__version__ == metadata.version("luigi-tasks")


def test_without_a_command_the_help_lists_every_command(project: Path) -> None:
    done = run_cli(project)
    assert done.returncode == 0
    listed = done.stdout.split("commands:", 1)[1]
    for command in ("scheduler", "runs", "invalidate", "catalog", "viz"):
        assert f"\n    {command}" in listed, command
    runs_help = run_cli(project, "runs", "--help").stdout
    for action in ("list", "show", "compare"):
        assert f"\n    {action}" in runs_help, action
