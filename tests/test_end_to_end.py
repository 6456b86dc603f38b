"""The commands users type, run for real in a temporary copy of the project."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from luigi_tasks import journal
from tests.conftest import calls, run_luigi, run_toy, tree_digest

MODULE = ("--module", "luigi_tasks.pipelines")
VERSIONED = [
    "data/03_primary/preprocessed_houses.parquet/{r}/preprocessed_houses.parquet",
    "data/05_model_input/train_x.parquet/{r}/train_x.parquet",
    "data/05_model_input/test_x.parquet/{r}/test_x.parquet",
    "data/05_model_input/train_y.parquet/{r}/train_y.parquet",
    "data/05_model_input/test_y.parquet/{r}/test_y.parquet",
    "data/06_models/model.pkl/{r}/model.pkl",
    "data/07_model_output/predictions.parquet/{r}/predictions.parquet",
    "data/08_reporting/metrics.json/{r}/metrics.json",
]


def outputs(project: Path, run_id: str) -> list[Path]:
    return [project / p.format(r=run_id) for p in VERSIONED]


def node_records(project: Path, run_id: str) -> dict[str, dict]:
    return journal.read_latest(str(project / "data" / "09_runs" / run_id))


def test_full_pipeline_versions_every_output_and_reruns_nothing(project: Path) -> None:
    first = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "t1")
    assert first.returncode == 0, first.stderr
    assert all(p.is_file() for p in outputs(project, "t1"))
    assert first.stderr.strip().splitlines()[-1] == "luigi-tasks: run t1 is complete."
    metrics = json.loads(outputs(project, "t1")[-1].read_text())
    assert 0.55 <= metrics["r2"] <= 0.75 and metrics["mae"] > 0 and metrics["rmse"] > 0
    records = node_records(project, "t1")
    assert sorted(records) == [
        "data_engineering.PreprocessHouses",
        "data_engineering.SplitData",
        "data_science.EvaluateModel",
        "data_science.Predict",
        "data_science.TrainModel",
    ]
    assert {r["status"] for r in records.values()} == {"done"}
    t1_files = tree_digest(project / "data")

    again = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "t1")
    assert again.returncode == 0, again.stderr
    assert "Did not run any tasks" in again.stderr
    assert tree_digest(project / "data") == t1_files  # not one record or output touched

    second = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "t2")
    assert second.returncode == 0, second.stderr
    assert all(p.is_file() for p in outputs(project, "t2"))
    after = tree_digest(project / "data")
    assert {k: after[k] for k in t1_files} == t1_files  # every t1 file byte-identical


def test_without_run_id_a_fresh_timestamp_id_is_made_and_printed(project: Path) -> None:
    result = run_luigi(project, *MODULE, "DataEngineeringPipeline", "--local-scheduler")
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        r"luigi-tasks: DataEngineeringPipeline is complete in run (\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z) "
        r"\(2 of the pipelines' 5 nodes; `luigi-tasks runs show \1` lists the others\)\.",
        last,
    )
    assert match, last
    run_id = match.group(1)
    assert all(p.is_file() for p in outputs(project, run_id)[:5])
    assert not outputs(project, run_id)[5].exists()  # the data-science half did not run


def test_one_node_runs_with_its_upstream_only(project: Path) -> None:
    result = run_luigi(project, *MODULE, "data_science.TrainModel", "--local-scheduler", "--run-id", "n1")
    assert result.returncode == 0, result.stderr
    made = [p.exists() for p in outputs(project, "n1")]
    assert made == [True] * 6 + [False, False]
    assert result.stderr.strip().splitlines()[-1] == (  # not "run n1 is complete": runs list says unfinished
        "luigi-tasks: data_science.TrainModel is complete in run n1 (3 of the pipelines' 5 nodes; "
        "`luigi-tasks runs show n1` lists the others)."
    )


def test_failed_node_exits_non_zero_and_resume_runs_only_it_and_downstream(toy: Path) -> None:
    (toy / "FAIL_B").touch()
    failed = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "f1")
    assert failed.returncode == 30, failed.stderr  # [retcode] task_failed
    assert sorted(calls(toy)) == ["a", "b", "d"]
    tail = failed.stderr.strip().splitlines()[-4:]
    assert tail[0] == "luigi-tasks: run f1 did not complete."
    assert "toy.StepB failed: RuntimeError: step_b was told to fail" in tail[1]
    assert tail[2] == (
        "luigi-tasks: (if the fix is other parameters, that is a new run: luigi --module toy_pipeline ToyPipeline "
        "--local-scheduler --run-id <new id> --reuse-from f1)"
    )
    assert tail[3] == "luigi-tasks: resume with: luigi --module toy_pipeline ToyPipeline --local-scheduler --run-id f1"
    done_before = tree_digest(toy / "data" / "02" / "a.parquet")

    (toy / "FAIL_B").unlink()
    (toy / "calls.log").unlink()
    resumed = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "f1")
    assert resumed.returncode == 0, resumed.stderr
    assert calls(toy) == ["b", "c"]
    assert tree_digest(toy / "data" / "02" / "a.parquet") == done_before
    assert json.loads((toy / "data/03/c.json/f1/c.json").read_text()) == {"total": 15.0}


def test_invalid_run_id_is_refused_before_any_task_runs(project: Path) -> None:
    result = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "../x")
    assert result.returncode == 40, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "Invalid run id '../x'" in last and "[A-Za-z0-9][A-Za-z0-9._-]{0,63}" in last
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (project / "data").iterdir()) == ["01_raw"]


def test_missing_raw_file_is_a_missing_dependency_naming_its_path(project: Path) -> None:
    (project / "data/01_raw/house.csv").unlink()
    result = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "m1")
    assert result.returncode == 20, result.stderr  # [retcode] missing_data
    assert "raw dataset 'houses' is missing: expected at " + str(project / "data/01_raw/house.csv") in result.stderr
    assert "resume with: luigi --module luigi_tasks.pipelines FullPipeline" in result.stderr.splitlines()[-1]


def test_the_new_run_hint_replaces_the_commands_run_id_and_reuse_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from luigi_tasks.report import new_run_command

    argv = ["luigi", "--module", "m", "FullPipeline", "--run-id", "t1", "--reuse-from=s2", "--local-scheduler"]
    monkeypatch.setattr(sys, "argv", argv)
    assert new_run_command("t1") == "luigi --module m FullPipeline --local-scheduler --run-id <new id> --reuse-from t1"


def test_a_failed_single_node_is_not_offered_a_new_run_reusing_it(toy: Path) -> None:
    """Only pipeline tasks take --reuse-from: for one node, the new-run hint would be refused."""
    (toy / "FAIL_B").touch()
    failed = run_toy(toy, "toy.StepB", "--local-scheduler", "--run-id", "s1")
    assert failed.returncode == 30, failed.stderr
    assert "that is a new run" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1] == (
        "luigi-tasks: resume with: luigi --module toy_pipeline toy.StepB --local-scheduler --run-id s1"
    )


VANISHING = """
from pathlib import Path

from luigi_tasks import PipelineTask, node


def make(raw):
    return raw


def consume(made):
    Path("data/04/made.parquet/v1/made.parquet").unlink()  # as a teammate's cleanup would, mid-run
    return made


Make = node(make, "raw", "made", namespace="v")
Consume = node(consume, "made", "consumed", namespace="v")


class Both(PipelineTask):
    parts = (Make, Consume)
"""


def test_a_pipeline_task_that_fails_is_named_in_the_closing_lines(toy: Path) -> None:
    """Luigi fails a pipeline task whose parts are missing when it runs; the closing lines said
    'nothing failed in this process' (they listed node failures only)."""
    (toy / "vanishing.py").write_text(VANISHING)
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("made: {type: pandas.ParquetDataset, filepath: data/04/made.parquet, versioned: true}\n")
        f.write("consumed: {type: pandas.ParquetDataset, filepath: data/04/consumed.parquet, versioned: true}\n")
    done = run_luigi(toy, "--module", "vanishing", "Both", "--local-scheduler", "--run-id", "v1",
                     env={"PYTHONPATH": str(toy)})
    assert done.returncode == 30, done.stderr[-2000:]
    assert "nothing failed in this process" not in done.stderr
    assert "luigi-tasks:   Both failed: RuntimeError: Unfulfilled dependency at run time: v.Make" in done.stderr, (
        done.stderr[-2000:]
    )
