"""The `luigi-tasks` command itself: its version, the commands its help lists, a --module
without nodes, and a reader that leaves early."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import luigi_tasks
from tests.conftest import BIN, REPO, run_cli


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
    for action in ("list", "show", "compare", "delete"):
        assert f"\n    {action}" in runs_help, action


def test_the_help_names_the_projects_own_module(project: Path) -> None:
    """A team's project sets ``[core] module = churn.pipelines``: the help shows its command."""
    cfg = project / "luigi.cfg"
    cfg.write_text(cfg.read_text().replace("[core]\n", "[core]\nmodule = churn.pipelines\n", 1))
    shown = " ".join(run_cli(project, "--help").stdout.split())
    assert "Run pipelines with 'luigi --module churn.pipelines FullPipeline --local-scheduler'." in shown


def test_a_module_without_nodes_is_refused_in_one_line(project: Path) -> None:
    """luigi_tasks.pipeline (the library's module, not the example's pipelines) makes no node:
    the commands would print an empty diagram or table."""
    for command in (("viz",), ("runs", "show", "exp1"), ("catalog", "list")):
        done = run_cli(project, *command, "--module", "luigi_tasks.pipeline")
        assert done.returncode == 2, (command, done.stdout)
        assert done.stdout == ""
        assert done.stderr == (
            "luigi-tasks: error: Module 'luigi_tasks.pipeline' (from --module, else luigi.cfg [core] module) defines "
            "no nodes. Give the module defining the pipelines, the one you run with `luigi --module` "
            "(luigi_tasks.pipelines in the example project).\n"
        )


def test_a_reader_that_leaves_early_gets_no_traceback(project: Path) -> None:
    """``luigi-tasks catalog list | head -1``: once head has gone, writing the rest fails
    (BrokenPipeError); over 64 kB of output (a pipe's buffer) makes that certain."""
    extra = "".join(f"extra_{i:04d}: {{type: json.JSONDataset, filepath: data/extra/extra_{i:04d}.json}}\n" for i in range(1500))
    with open(project / "config" / "catalog.yml", "a", encoding="utf-8") as f:
        f.write("\n" + extra)
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {shlex.quote(str(BIN / 'luigi-tasks'))} catalog list | head -1"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )
    assert done.stdout.split()[:3] == ["dataset", "type", "versioned"]
    assert done.returncode == 1  # luigi-tasks' code, through pipefail
    assert done.stderr == ""


def test_the_default_modules_nodes_in_another_project_say_where_they_come_from(tmp_path: Path) -> None:
    """A team's own project without [core] module: the error names the example's nodes, so it
    must say why they are read and how to name the project's own module."""
    (tmp_path / "config" / "local").mkdir(parents=True)
    (tmp_path / "config" / "catalog.yml").write_text("raw: {type: pandas.CSVDataset, filepath: r.csv}\n")
    (tmp_path / "config" / "parameters.yml").write_text("{}\n")
    listed = run_cli(tmp_path, "runs", "list")
    assert listed.returncode == 2
    assert "outputs 'preprocessed_houses', which is not in the catalog" in listed.stderr
    assert "(The nodes are the example's, luigi_tasks.pipelines: with no --module and no luigi.cfg [core] module" in listed.stderr


def test_a_typo_in_the_projects_own_nodes_names_the_node_and_its_file(project: Path) -> None:
    """A copy of the example whose own luigi_tasks/pipelines is imported: the error points at the
    node's inputs, and does not say the nodes are the example's (they are the team's own)."""
    shutil.copytree(REPO / "luigi_tasks", project / "luigi_tasks", ignore=shutil.ignore_patterns("__pycache__"))
    science = project / "luigi_tasks" / "pipelines" / "data_science.py"
    text = science.read_text(encoding="utf-8")
    assert 'Predict = node(predict, inputs=["model", ' in text
    science.write_text(text.replace('inputs=["model", ', 'inputs=["modle", '), encoding="utf-8")
    listed = run_cli(project, "catalog", "list", env={"PYTHONPATH": str(project)})
    assert listed.returncode == 2
    assert listed.stderr == (
        f"luigi-tasks: error: Node data_science.Predict ({science.relative_to(project)}) reads 'modle', which is "
        "not in the catalog. Did you mean 'model'? Fix the name in the node's inputs, or declare the dataset in "
        "config/catalog.yml.\n"
    )
