"""`luigi-tasks runs compare A B`: what differs between two runs, read from their records and
outputs, through the command a user types."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

from luigi_tasks import load_output
from luigi_tasks.errors import RunError
from luigi_tasks.project import Project
from tests.conftest import REPO, run_cli, run_luigi, run_toy
from tests.toy import TOY_DIR, grow_toy

MODULE = ("--module", "luigi_tasks.pipelines")
TOY_ENV = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}


def section(stdout: str, header: str) -> dict[str, list[str]]:
    """The table that starts with ``header``, as cells by first cell."""
    lines = stdout.split("\n\n")
    table = next(block for block in lines if block.startswith(header)).splitlines()
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in table[1:])}


def test_compare_shows_the_changed_parameter_what_was_reused_and_the_metrics_of_each_run(project: Path) -> None:
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "exp1").returncode == 0
    (project / "config/local/parameters.yml").write_text(
        "model:\n  estimator: sklearn.linear_model.LinearRegression\n  init_args: {fit_intercept: false}\n"
    )
    second = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "exp2", "--reuse-from", "exp1")
    assert second.returncode == 0, second.stderr

    done = run_cli(project, "runs", "compare", "exp1", "exp2")
    assert done.returncode == 0, done.stderr
    assert "Parameters that differ:\n" in done.stdout
    assert "  model.init_args.fit_intercept: (absent) -> False\n" in done.stdout
    assert "Libraries: the same." in done.stdout
    assert section(done.stdout, " ")["reuse from"] == ["-", "exp1"]

    nodes = section(done.stdout, "node")
    assert nodes["data_engineering.SplitData"][1] == "reused from exp1"
    assert re.fullmatch(r"ran in \d+\.\d\d s", nodes["data_engineering.SplitData"][0])
    assert all(re.fullmatch(r"ran in \d+\.\d\d s", note) for note in nodes["data_science.TrainModel"])
    why = done.stdout.split("Why nodes made other results in exp2:\n", 1)[1].split("\n\n", 1)[0]
    assert why.splitlines() == [
        "  data_science.TrainModel: parameters changed",
        "  data_science.Predict: input changed: model",
        "  data_science.EvaluateModel: input changed: predictions",
    ]

    numbers = section(done.stdout, "number")
    saved = {
        run: json.loads((project / f"data/08_reporting/metrics.json/{run}/metrics.json").read_text())
        for run in ("exp1", "exp2")
    }
    assert set(numbers) == {f"metrics.{key}" for key in saved["exp1"]}
    old, new, change = (float(cell) for cell in numbers["metrics.r2"])
    assert old == pytest.approx(saved["exp1"]["r2"], rel=1e-5)
    assert new == pytest.approx(saved["exp2"]["r2"], rel=1e-5)
    assert saved["exp1"]["r2"] != saved["exp2"]["r2"]  # the parameter changed the model
    assert change == pytest.approx(saved["exp2"]["r2"] - saved["exp1"]["r2"], rel=1e-4)

    # Which parameters made the best run: runs list shows them beside the number it ranks by.
    listed = run_cli(project, "runs", "list", "--param", "model.init_args.fit_intercept", "--param", "split",
                     "--sort", "metrics.r2")
    assert listed.returncode == 0, listed.stderr
    rows = [re.split(r"\s{2,}", line.strip()) for line in listed.stdout.splitlines()]
    assert rows[0] == ["run id", "created", "reuse from", "model.init_args.fit_intercept", "split", "metrics.r2", "state"]
    best = max(("exp1", "exp2"), key=lambda run: saved[run]["r2"])
    by_run = {row[0]: row[3:5] for row in rows[1:]}
    assert rows[1][0] == best and by_run == {"exp1": ["-", '{"random_state":42,"test_size":0.2}'],
                                              "exp2": ["false", '{"random_state":42,"test_size":0.2}']}
    scripted = json.loads(run_cli(project, "runs", "list", "--param", "model.init_args.fit_intercept", "--json").stdout)
    assert [(r["run_id"], r["parameters"]) for r in scripted] == [
        ("exp1", {"model.init_args.fit_intercept": None}), ("exp2", {"model.init_args.fit_intercept": False}),
    ]
    typo = run_cli(project, "runs", "list", "--param", "model.init_arg.fit_intercept")
    assert typo.returncode == 2 and typo.stderr.startswith(
        "luigi-tasks: error: No run has a parameter 'model.init_arg.fit_intercept' (config/parameters.yml keys, "
        "dotted). Did you mean model.init_args.fit_intercept"
    ), typo.stderr


def test_compare_shows_a_failed_node_and_a_number_only_one_run_has(toy: Path) -> None:
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 30
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2").returncode == 0

    done = run_cli(toy, "runs", "compare", "r1", "r2", "--module", "toy_pipeline", env=TOY_ENV)
    assert done.returncode == 0, done.stderr
    assert "Parameters: the same." in done.stdout
    nodes = section(done.stdout, "node")
    assert nodes["toy.StepB"][0] == "failed: RuntimeError: step_b was told to fail"
    assert nodes["toy.StepC"][0] == "not run" and nodes["toy.StepC"][1].startswith("ran in ")
    # c = {"total": 2*x + 1 summed over x = 1, 2, 3} = 15, only in r2; d is Parquet, not shown
    assert section(done.stdout, "number") == {"c.total": ["-", "15", "-"]}

    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r3", "--reuse-from", "r2").returncode == 0
    reused = run_cli(toy, "runs", "compare", "r2", "r3", "--module", "toy_pipeline", env=TOY_ENV)
    assert section(reused.stdout, "node")["toy.StepC"][1] == "reused from r2"
    assert section(reused.stdout, "number") == {"c.total": ["15", "15", "+0"]}  # read from r2's version


def test_runs_list_ranks_runs_by_a_saved_number_and_refuses_one_no_run_saved(toy: Path) -> None:
    """Twenty experiments later, which run is best: ``--sort`` orders by a number of their
    JSON outputs (highest first, ``--ascending`` for an error), runs without it last."""
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 30
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2").returncode == 0  # total 15
    (toy / "data/01_raw/raw.csv").write_text("x\n1\n2\n3\n4\n5\n", encoding="utf-8")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r3").returncode == 0  # total 35

    def listed(*args: str) -> list[list[str]]:
        done = run_cli(toy, "runs", "list", *args, "--module", "toy_pipeline", env=TOY_ENV)
        assert done.returncode == 0, done.stderr
        rows = [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines()]
        return [[row[0], *row[3:]] for row in rows]  # created is a time

    assert listed("--sort", "c.total") == [
        ["run id", "c.total", "state"], ["r3", "35", "complete"], ["r2", "15", "complete"],
        ["r1", "-", "failed: toy.StepB"],
    ]
    assert [row[0] for row in listed("--sort", "c.total", "--ascending")] == ["run id", "r2", "r3", "r1"]
    assert [row[:2] for row in listed("--metric", "c.total")] == [["run id", "c.total"], ["r1", "-"], ["r2", "15"],
                                                                  ["r3", "35"]]  # oldest first, as without it
    scripted = run_cli(toy, "runs", "list", "--sort", "c.total", "--json", "--module", "toy_pipeline", env=TOY_ENV)
    assert [(r["run_id"], r["state"], r["complete"], r["failed"], r["numbers"]) for r in json.loads(scripted.stdout)] == [
        ("r3", "complete", True, [], {"c.total": 35.0}), ("r2", "complete", True, [], {"c.total": 15.0}),
        ("r1", "failed: toy.StepB", False, ["toy.StepB"], {"c.total": None}),
    ]
    typo = run_cli(toy, "runs", "list", "--sort", "c.totl", "--module", "toy_pipeline", env=TOY_ENV)
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr == (
        "luigi-tasks: error: No run saved a number called 'c.totl' that could be read. Numbers the runs saved: "
        "c.total.\n"
    )


def test_compare_with_a_run_that_does_not_exist_says_so_in_one_line(toy: Path) -> None:
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 0
    wrong = run_cli(toy, "runs", "compare", "r1", "r9", "--module", "toy_pipeline", env=TOY_ENV)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("luigi-tasks: error: Run 'r9' does not exist in ")
    assert "Traceback" not in wrong.stderr and wrong.stdout == ""


def test_compare_says_which_numbers_it_cannot_read_and_why(toy: Path) -> None:
    """A dataset moved in the catalog since the runs (or its file deleted): said, not dropped."""
    for run_id in ("r1", "r2"):
        assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", run_id).returncode == 0
    (toy / "config/local/catalog.yml").write_text("c: {type: json.JSONDataset, filepath: data/04/c.json, versioned: true}\n")
    moved = run_cli(toy, "runs", "compare", "r1", "r2", "--module", "toy_pipeline", env=TOY_ENV)
    assert moved.returncode == 0, moved.stderr
    assert "No numbers to compare" not in moved.stdout
    unread = moved.stdout.split("Numbers not shown:\n", 1)[1]
    assert unread.splitlines()[:2] == [
        f"  c of run {run_id}: moved in the catalog since (was JSONDataset at data/03/c.json, versioned, now "
        "JSONDataset at data/04/c.json, versioned); restore the entry to see it"
        for run_id in ("r1", "r2")
    ]
    ranked = run_cli(toy, "runs", "list", "--sort", "c.total", "--module", "toy_pipeline", env=TOY_ENV)
    assert ranked.returncode == 2 and ranked.stderr.splitlines()[1:] == [
        f"  c of run {run_id}: moved in the catalog since (was JSONDataset at data/03/c.json, versioned, now "
        "JSONDataset at data/04/c.json, versioned); restore the entry to see it"
        for run_id in ("r1", "r2")
    ], ranked.stderr  # why no run has it: not "no run saved it" alone
    (toy / "config/local/catalog.yml").unlink()
    (toy / "data/03/c.json/r1/c.json").unlink()
    gone = run_cli(toy, "runs", "compare", "r1", "r2", "--module", "toy_pipeline", env=TOY_ENV)
    assert section(gone.stdout, "number") == {"c.total": ["-", "15", "-"]}
    assert "  c of run r1: " in gone.stdout.split("Numbers not shown:\n", 1)[1]


def test_compare_a_run_made_before_a_node_was_added(toy: Path, tmp_path: Path) -> None:
    """The older run could not make the new node: '-' there, not an error."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 0
    grown = grow_toy(toy, tmp_path / "grown")
    env = {"PYTHONPATH": str(grown)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2", "--reuse-from", "r1", module_dir=grown).returncode == 0
    done = run_cli(toy, "runs", "compare", "r1", "r2", "--module", "toy_pipeline", env=env)
    assert done.returncode == 0, done.stderr
    nodes = section(done.stdout, "node")
    assert nodes["toy.StepE"][0] == "-" and nodes["toy.StepE"][1].startswith("ran in ")
    assert nodes["toy.StepC"] == ["ran in " + nodes["toy.StepC"][0][7:], "reused from r1"]
    assert section(done.stdout, "number")["e.e"] == ["-", "15", "-"]
    with pytest.raises(RunError, match=re.escape(
        "Run 'r1' has no 'e': no node saved it in that run (it was not in the catalog when the run was made: added since)"
    )):
        load_output("e", "r1", Project.load(toy))


def test_infinite_and_nan_numbers_show_no_change_and_are_null_in_json() -> None:
    """A metric can be inf (a division by zero in an error measure): inf - inf is no change to
    show, and JSON has no Infinity (a strict parser refuses it)."""
    from luigi_tasks.run_commands import _json_number
    from luigi_tasks.run_compare import _change

    assert [_change(x, y) for x, y in ((1.0, 2.5), (math.inf, math.inf), (-math.inf, 1.0), (math.nan, 1.0))] == [
        "+1.5", "-", "-", "-"
    ]
    assert json.dumps([_json_number(v) for v in (1.5, math.inf, -math.inf, math.nan, None, 3)]) == (
        "[1.5, null, null, null, null, 3]"
    )
