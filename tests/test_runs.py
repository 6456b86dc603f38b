"""Runs you can trust: records, resume, one experiment per run, staleness, reuse, invalidate."""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import socket
import subprocess
import weakref
from pathlib import Path

import pandas as pd
import pytest

from luigi_tasks import fingerprint, journal, load_output, node_records, run_info, run_plan
from luigi_tasks.errors import DatasetError, RunError
from luigi_tasks.node_records import NodeRecord, read_node_records, write_node_record
from luigi_tasks.project import Project
from tests.conftest import BIN, REPO, calls, run_cli, run_luigi, run_toy, tree_digest, wait_settled
from tests.toy import TOY_DIR, grow_toy

MODULE = ("--module", "luigi_tasks.pipelines")


def records(root: Path, run_id: str) -> dict[str, dict]:
    return journal.read_latest(str(root / "data" / "09_runs" / run_id))


def test_run_record_holds_parameters_versions_and_per_node_facts(project: Path) -> None:
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "rec").returncode == 0
    info = json.loads((project / "data/09_runs/rec/run.json").read_text())
    assert info["parameters"]["split"] == {"test_size": 0.2, "random_state": 42}
    assert {"python", "luigi", "pandas", "luigi-tasks"} <= set(info["libraries"])
    assert "code_version" in info
    train = records(project, "rec")["data_science.TrainModel"]
    assert train["status"] == "done" and train["duration_s"] >= 0 and train["reason"] == "missing"
    assert train["versions"] == {"model": "rec"} and train["outputs"]["model"].endswith("model.pkl/rec/model.pkl")
    assert set(train["fingerprint"]) == {"code", "params", "inputs", "digest", "options", "outputs"}
    assert train["fingerprint"]["outputs"] == "model"
    assert set(train["fingerprint"]["inputs"]) == {"train_x", "train_y"}


def test_a_run_records_the_git_commit_of_its_code_and_whether_it_was_edited(project: Path) -> None:
    """run.json's code version is the checkout's commit, with -dirty when a tracked file was
    edited or a Python file added (other new files, such as the run's own outputs, do not
    count); runs show prints it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "project")
    head = git("rev-parse", "HEAD")
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "g1").returncode == 0
    assert json.loads((project / "data/09_runs/g1/run.json").read_text())["code_version"] == head
    (project / "notes.txt").write_text("a new file that is not code\n")
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "g1b").returncode == 0
    assert json.loads((project / "data/09_runs/g1b/run.json").read_text())["code_version"] == head
    (project / "new_helper.py").write_text("def helper(): ...\n")  # new code the commit does not hold
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "g1c").returncode == 0
    assert json.loads((project / "data/09_runs/g1c/run.json").read_text())["code_version"] == f"{head}-dirty"
    (project / "new_helper.py").unlink()
    with open(project / "luigi.cfg", "a", encoding="utf-8") as cfg:
        cfg.write("# an edit\n")
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "g2").returncode == 0
    assert json.loads((project / "data/09_runs/g2/run.json").read_text())["code_version"] == f"{head}-dirty"
    shown = run_cli(project, "runs", "show", "g2").stdout
    assert f"  code {head}-dirty  " in shown.splitlines()[0], shown


def test_library_versions_are_looked_up_once_while_no_import_folder_changes(project: Path) -> None:
    from importlib import metadata

    loaded = Project.load(project)
    first = run_info._libraries(loaded)
    assert first["luigi"] == metadata.version("luigi") and first["pandas"] == metadata.version("pandas")
    cache = project / "data/09_runs/.cache/libraries.json"
    stored = json.loads(cache.read_text())
    stored["value"]["luigi"] = "0.0-from-cache"
    cache.write_text(json.dumps(stored))
    assert run_info._libraries(loaded)["luigi"] == "0.0-from-cache"  # same key: the cache answers
    stored["key"]["path"][-1][1] = -1  # as if that import folder changed
    cache.write_text(json.dumps(stored))
    assert run_info._libraries(loaded) == first
    cache.write_text("{damaged")
    assert run_info._libraries(loaded) == first


def test_a_raw_file_changed_in_a_long_lived_process_is_hashed_again(project: Path) -> None:
    """A notebook runs, the raw table is edited, the notebook runs again: the second run must
    see the new content (the hash was kept for the life of the process)."""
    loaded = Project.load(project)
    raw = Path(loaded.catalog.dataset("houses", "r1").path)
    before = fingerprint.raw_hash(loaded, str(raw))
    raw.write_text(raw.read_text().replace("42000", "42001", 1))
    after = fingerprint.raw_hash(loaded, str(raw))
    assert before != after == hashlib.sha256(raw.read_bytes()).hexdigest()


def test_caches_that_cannot_be_written_cost_only_the_work_again(project: Path) -> None:
    """A file in the way of ``.cache/`` (as a read-only or full disk would be): config,
    library versions and raw-input hashes are worked out and nothing is cached or raised."""
    wait_settled()  # the config would be cached
    (project / "data" / "09_runs").mkdir(parents=True, exist_ok=True)
    (project / "data" / "09_runs" / ".cache").write_text("in the way")
    loaded = Project.load(project)
    assert "houses" in loaded.catalog and loaded.parameters["split"]["random_state"] == 42
    assert run_info._libraries(loaded)["python"] == platform.python_version()
    raw = loaded.catalog.dataset("houses", "r1").path
    assert fingerprint.raw_hash(loaded, raw) == hashlib.sha256(Path(raw).read_bytes()).hexdigest()
    assert (project / "data" / "09_runs" / ".cache").read_text() == "in the way"


def test_resume_runs_only_the_failed_node_and_downstream_by_the_record(toy: Path) -> None:
    (toy / "FAIL_B").touch()
    failed = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1")
    assert failed.returncode == 30
    resume = failed.stderr.strip().splitlines()[-1].removeprefix("luigi-tasks: resume with: ")
    assert resume == "luigi --module toy_pipeline ToyPipeline --local-scheduler --run-id r1"
    before = records(toy, "r1")
    assert before["toy.StepB"]["status"] == "failed" and "told to fail" in before["toy.StepB"]["error"]
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, *resume.split()[3:]).returncode == 0
    after = records(toy, "r1")
    assert {k: after[k] for k in ("toy.StepA", "toy.StepD")} == {k: before[k] for k in ("toy.StepA", "toy.StepD")}
    assert after["toy.StepB"]["status"] == after["toy.StepC"]["status"] == "done"
    assert after["toy.StepB"]["reason"].startswith("failed before: RuntimeError: step_b was told to fail")
    assert (after["toy.StepB"]["attempt"], after["toy.StepC"]["attempt"], after["toy.StepA"]["attempt"]) == (2, 1, 1)


def test_other_parameters_under_an_existing_run_id_are_refused_with_the_diff(project: Path) -> None:
    assert run_luigi(project, *MODULE, "DataEngineeringPipeline", "--local-scheduler", "--run-id", "p1").returncode == 0
    data_before = tree_digest(project / "data")
    (project / "config/local/parameters.yml").write_text("split: {test_size: 0.3, random_state: 42}\n")
    refused = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "p1")
    assert refused.returncode == 40
    assert "Run 'p1' was started with other parameters" in refused.stderr
    assert "  split.test_size: 0.2 -> 0.3" in refused.stderr.splitlines()
    assert "--reuse-from p1" in refused.stderr.strip().splitlines()[-1]
    assert tree_digest(project / "data") == data_before
    shown = run_cli(project, "runs", "show", "p1").stdout.splitlines()
    assert shown[1:3] == [
        "The parameters in config/ now differ from the run's (stale below is against them):",
        "  split.test_size: 0.2 -> 0.3",
    ]
    assert any(line.startswith("data_engineering.SplitData") and "stale" in line for line in shown)


def test_other_catalog_entries_under_an_existing_run_id_are_refused(toy: Path) -> None:
    """Moving a dataset (an overlay, another env) mid-run would rerun its maker elsewhere and keep
    what its readers made from the old file: a silent mix. A moved checkout is not a change."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "k1").returncode == 0
    data_before = tree_digest(toy / "data")
    (toy / "config" / "local").mkdir(exist_ok=True)
    (toy / "config/local/catalog.yml").write_text("a: {type: pandas.ParquetDataset, filepath: data/02/a2.parquet, versioned: true}\n")
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "k1")
    assert refused.returncode == 40
    assert "Run 'k1' was started with other catalog entries" in refused.stderr
    assert (
        "  a: was ParquetDataset at data/02/a.parquet, versioned, now ParquetDataset at data/02/a2.parquet, versioned"
    ) in refused.stderr.splitlines()
    inv = run_cli(toy, "invalidate", "--run-id", "k1", "--from", "step_a", "--module", "toy_pipeline",
                  env={"PYTHONPATH": str(TOY_DIR)})
    assert inv.returncode == 2 and "so their outputs cannot be set aside:" in inv.stderr
    with pytest.raises(RunError, match="so its 'a' cannot be loaded from there:\n  a: was ParquetDataset"):
        load_output("a", "k1", Project.load(toy))
    assert tree_digest(toy / "data") == data_before
    (toy / "config/local/catalog.yml").unlink()

    moved = toy.with_name("moved")
    toy.rename(moved)
    assert run_toy(moved, "ToyPipeline", "--local-scheduler", "--run-id", "k1").returncode == 0
    (moved / "data/03/d.parquet/k1/d.parquet").unlink()
    assert run_toy(moved, "ToyPipeline", "--local-scheduler", "--run-id", "k1").returncode == 0
    assert records(moved, "k1")["toy.StepD"]["reason"] == "its outputs are gone since it ran"


def test_a_raw_input_rewritten_with_its_old_size_and_mtime_is_seen_as_changed(toy: Path) -> None:
    """``cp -p`` (a new file) and ``rsync -t --inplace`` (the same file) keep size and mtime;
    the cached content hash must not be trusted then."""
    raw = toy / "data" / "01_raw" / "raw.csv"
    wait_settled()  # so the first run caches the raw file's hash
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "h1").returncode == 0
    assert len(list((toy / "data" / "09_runs" / ".cache" / "raw").glob("*.json"))) == 1
    original = raw.stat()

    replacement = toy / "replacement.csv"
    replacement.write_text("x\n7\n8\n9\n", encoding="utf-8")  # same size as the original
    os.utime(replacement, ns=(original.st_atime_ns, original.st_mtime_ns))
    os.replace(replacement, raw)
    assert (raw.stat().st_size, raw.stat().st_mtime_ns) == (original.st_size, original.st_mtime_ns)
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "h1")
    assert refused.returncode == 40, refused.stderr
    assert "  toy.StepA: input changed: raw" in refused.stderr.splitlines()

    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "h2").returncode == 0
    wait_settled()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "h2").returncode == 0  # caches
    before = raw.stat()
    with open(raw, "r+b") as f:  # rewritten in place: same inode
        f.write(b"x\n4\n5\n6\n")
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (raw.stat().st_ino, raw.stat().st_size, raw.stat().st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "h2")
    assert refused.returncode == 40, refused.stderr
    assert "  toy.StepA: input changed: raw" in refused.stderr.splitlines()


def test_a_raw_input_gone_since_a_run_leaves_it_complete_and_unjudged(toy: Path) -> None:
    """A raw file moved away cannot be hashed: no stale verdict, no crash, no record of a guess."""
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g1").returncode == 30
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g2").returncode == 0
    raw = toy / "data" / "01_raw" / "raw.csv"
    raw.rename(toy / "raw.csv.away")
    calls_log = toy / "calls.log"
    calls_log.unlink()

    again = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g2")
    assert again.returncode == 0, again.stderr
    assert "run g2 is complete" in again.stderr and "Traceback" not in again.stderr
    shown = run_cli(toy, "runs", "show", "g2", "--module", "toy_pipeline", env={"PYTHONPATH": str(TOY_DIR)})
    assert shown.returncode == 0, shown.stderr
    step_a = next(line for line in shown.stdout.splitlines() if line.startswith("toy.StepA"))
    assert "ran" in step_a and "not checked for changes: raw input raw is missing" in step_a
    assert "stale" not in shown.stdout
    drawn = run_cli(toy, "viz", "--run-id", "g2", "--module", "toy_pipeline", env={"PYTHONPATH": str(TOY_DIR)})
    assert drawn.returncode == 0 and "(not checked for changes)" in drawn.stdout, drawn.stderr

    resumed = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g1")  # B and C can run without raw
    assert resumed.returncode == 0, resumed.stderr
    assert calls(toy) == ["b", "c"]
    assert records(toy, "g1")["toy.StepB"]["fingerprint"] is None  # made from an upstream that cannot be hashed

    reuse = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g3", "--reuse-from", "g2")
    assert reuse.returncode == 20, reuse.stderr  # Luigi's missing data: the raw file, named
    assert str(raw) in reuse.stderr and "Traceback" not in reuse.stderr
    assert "toy.StepA" not in records(toy, "g3")  # not reused: its input cannot be compared

    (toy / "raw.csv.away").rename(raw)
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g2").returncode == 0  # not stale: unchanged
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g4", "--reuse-from", "g1").returncode == 0
    reused = records(toy, "g4")
    assert reused["toy.StepA"]["status"] == "reused" and reused["toy.StepB"]["status"] == "done"
    assert reused["toy.StepB"]["reason"] == "no fingerprint to compare in run g1"
    shown = run_cli(toy, "runs", "show", "g1", "--module", "toy_pipeline", env={"PYTHONPATH": str(TOY_DIR)}).stdout
    assert [line.split("  ")[0] for line in shown.splitlines() if "no fingerprint was recorded" in line] == [
        "toy.StepB", "toy.StepC"
    ]


def _edited_toy(tmp: Path, old: str, new: str) -> Path:
    folder = tmp / "edited"
    folder.mkdir(exist_ok=True)
    text = (TOY_DIR / "toy_pipeline.py").read_text()
    assert old in text
    (folder / "toy_pipeline.py").write_text(text.replace(old, new))
    return folder


def test_an_edited_node_function_makes_it_and_its_downstream_stale(toy: Path, tmp_path: Path) -> None:
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s1").returncode == 0
    cosmetic = _edited_toy(tmp_path, "    return a.head(1)", "    # a comment\n    return a.head(1)  # same code")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s1", module_dir=cosmetic).returncode == 0

    edited = _edited_toy(tmp_path, 'a.assign(x=a["x"] + 1)', 'a.assign(x=a["x"] + 2)')
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s1", module_dir=edited)
    assert refused.returncode == 40, refused.stderr
    assert "Run 's1' has stale results" in refused.stderr
    assert "  toy.StepB: code changed in step_b" in refused.stderr.splitlines()
    assert "  toy.StepC: input changed: b" in refused.stderr.splitlines()
    assert "toy.StepA" not in refused.stderr and "toy.StepD" not in refused.stderr

    shown = run_cli(toy, "runs", "show", "s1", "--module", "toy_pipeline", env={"PYTHONPATH": str(edited)})
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()[2:]}
    assert "stale" in lines["toy.StepB"] and "code changed in step_b" in lines["toy.StepB"]
    assert " ran " in lines["toy.StepA"]

    helper = _edited_toy(tmp_path, 'f.write(name + "\\n")', 'f.write(name + "\\n")\n        f.flush()')
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s1", module_dir=helper)
    assert refused.returncode == 40 and "  toy.StepA: code changed in step_a" in refused.stderr.splitlines()


def _toy_package_project(toy: Path) -> Path:
    """The toy project with the dataset ``e`` that ``toy_package``'s step_e makes."""
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("e: {type: pandas.ParquetDataset, filepath: data/03/e.parquet, versioned: true}\n")
    return toy


def _edited_toy_folder(tmp: Path, file: str, old: str, new: str) -> Path:
    """A copy of the toy's modules (``toy_pipeline.py``, ``toy_package/``) with ``old``
    replaced by ``new`` in ``file``."""
    folder = tmp / "edited-folder"
    shutil.copytree(TOY_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new))
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        pytest.param("toy_package/__init__.py", "FACTOR = 1", "FACTOR = 3", id="module constant"),
        pytest.param("toy_package/__init__.py", "ROWS = 2", "ROWS = 1", id="default argument"),
        pytest.param("toy_package/helpers.py", 'frame["x"] + OFFSET', 'frame["x"] - OFFSET', id="class method"),
        pytest.param("toy_package/helpers.py", "OFFSET = 0", "OFFSET = 5", id="constant read by a class method"),
        pytest.param("toy_package/helpers.py", "frame.head(rows)", "frame.tail(rows)", id="helper through a module"),
        pytest.param("toy_package/helpers.py", "return 1  # scale", "return 3  # scale", id="lru_cache helper"),
        pytest.param("toy_package/helpers.py", "return frame  # bump", "return frame.tail(1)  # bump",
                     id="helper imported inside the node"),
        pytest.param("toy_package/helpers.py", "return fn(*args, **kwargs)", "return fn(*args, **kwargs).head(1)",
                     id="the node's decorator"),
        pytest.param("toy_package/helpers.py", "return frame  # clip", "return frame.head(1)  # clip",
                     id="helper in a module-level list"),
    ],
)
def test_an_edit_of_what_a_node_reads_from_its_package_makes_it_stale(
    toy: Path, tmp_path: Path, file: str, old: str, new: str
) -> None:
    """step_e reads a constant, a default argument value, a class (whose method reads a
    constant of another module) and a helper through its module: edited, a rerun of the same
    run is refused and a new run reusing it runs step_e again, not reusing its old output."""
    project = _toy_package_project(toy)
    run = functools.partial(run_toy, project, "ToyPackagePipeline", "--local-scheduler", module="toy_package")
    assert run("--run-id", "p1").returncode == 0
    cosmetic = _edited_toy_folder(tmp_path / "cosmetic", "toy_package/helpers.py", "    return frame.head(rows)\n",
                                  "    # a comment\n    return frame.head(rows)  # same code\n")
    assert run("--run-id", "p1", module_dir=cosmetic).returncode == 0

    edited = _edited_toy_folder(tmp_path, file, old, new)
    refused = run("--run-id", "p1", module_dir=edited)
    assert refused.returncode == 40, refused.stderr
    assert "  toy.StepE: code changed in step_e" in refused.stderr.splitlines()
    assert "toy.StepA" not in refused.stderr

    (project / "calls.log").unlink()
    assert run("--run-id", "p2", "--reuse-from", "p1", module_dir=edited).returncode == 0
    assert calls(project) == ["e"]
    reused = records(project, "p2")
    assert reused["toy.StepA"]["status"] == "reused"
    assert (reused["toy.StepE"]["status"], reused["toy.StepE"]["reason"]) == ("done", "code changed in step_e since run p1")


def test_the_code_recorded_is_the_code_that_ran_not_an_edit_made_during_the_run(toy: Path, tmp_path: Path) -> None:
    """A teammate's edit (or a git pull) while a long run goes on: StepB rewrites step_c in
    the module's file before StepC runs the code imported at the start."""
    folder = tmp_path / "editing"
    folder.mkdir()
    text = (TOY_DIR / "toy_pipeline.py").read_text()
    text = text.replace('    _called("b")\n', '    _called("b")\n    _rewrite_step_c()\n', 1) + (
        "\n\ndef _rewrite_step_c() -> None:\n"
        "    path = Path(__file__)\n"
        "    path.write_text(path.read_text().replace('{\"total\": float', '{\"sum\": float'))\n"
    )
    (folder / "toy_pipeline.py").write_text(text)
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "e1", module_dir=folder).returncode == 0
    assert '{"sum": float' in (folder / "toy_pipeline.py").read_text()  # edited while the run went on
    assert json.loads((toy / "data/03/c.json/e1/c.json").read_text()) == {"total": 15.0}  # the old code ran
    rerun = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "e1", module_dir=folder)
    assert rerun.returncode == 40 and "  toy.StepC: code changed in step_c" in rerun.stderr.splitlines(), rerun.stderr


def test_a_changed_load_or_save_arg_makes_the_nodes_it_touches_stale(toy: Path) -> None:
    """``load_args: {columns: ...}`` changes what a node reads: its results, and its
    downstream's, can no longer be reused or called complete."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "o1").returncode == 0
    overlay = toy / "config/local/catalog.yml"
    overlay.write_text("a: {type: pandas.ParquetDataset, filepath: data/02/a.parquet, versioned: true, "
                       "load_args: {columns: [x]}}\n")
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "o1")
    assert refused.returncode == 40, refused.stderr
    stale = [line.strip() for line in refused.stderr.splitlines() if line.startswith("  toy.")]
    assert sorted(stale) == [  # StepA writes a: its load_args do not touch it
        "toy.StepB: catalog options of its datasets changed (load_args, save_args, ...)",
        "toy.StepC: input changed: b",
        "toy.StepD: catalog options of its datasets changed (load_args, save_args, ...)",
    ], refused.stderr
    (toy / "calls.log").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "o2", "--reuse-from", "o1").returncode == 0
    assert sorted(calls(toy)) == ["b", "c", "d"]


def test_a_changed_encoding_of_a_raw_text_file_makes_its_reader_stale(toy: Path) -> None:
    """``fs_args.open_args_load.encoding`` changes what a CSV reads ('café' or 'cafÃ©'): the node
    reading it is stale, though the rest of fs_args (where and how to reach the file) is not."""
    (toy / "data/01_raw/raw.csv").write_bytes("x,name\n1,café\n2,b\n".encode())
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "e1").returncode == 0
    (toy / "config/local/catalog.yml").write_text(
        "raw: {type: pandas.CSVDataset, filepath: data/01_raw/raw.csv, fs_args: {open_args_load: {encoding: latin-1}}}\n"
    )
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "e1")
    assert refused.returncode == 40, refused.stderr[-2000:]
    stale = [line.strip() for line in refused.stderr.splitlines() if line.startswith("  toy.")]
    assert stale[0] == "toy.StepA: catalog options of its datasets changed (load_args, save_args, ...)", stale


def test_a_dataset_of_another_type_at_the_same_filepath_is_not_reused(toy: Path) -> None:
    """b becomes a PickleDataset at its old filepath: run v0's b.parquet is Parquet, which the
    new type cannot read, so b (and what is made from it) is made again, not reused."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "v0").returncode == 0
    (toy / "config/local/catalog.yml").write_text(
        "b: {type: pickle.PickleDataset, filepath: data/02/b.parquet, versioned: true}\n"
    )
    (toy / "calls.log").unlink()
    reuse = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "w1", "--reuse-from", "v0")
    assert reuse.returncode == 0, reuse.stderr[-2000:]
    assert sorted(calls(toy)) == ["b", "c"]
    assert records(toy, "w1")["toy.StepB"]["reason"] == (
        "b is stored otherwise now (was ParquetDataset at data/02/b.parquet, versioned, now PickleDataset at "
        "data/02/b.parquet, versioned) since run v0"
    )
    assert load_output("b", "w1", Project.load(toy))["x"].tolist() == [3, 5, 7]


def test_a_renamed_dataset_is_named_as_renamed_in_why_its_nodes_are_stale(toy: Path, tmp_path: Path) -> None:
    """Renaming ``b`` to ``b2`` (catalog and nodes) changes the writer's and the reader's
    fingerprints; the reason named 'catalog options' or 'fingerprint', not the rename."""
    overlay = toy / "config/local/catalog.yml"
    overlay.write_text("b: {type: pandas.ParquetDataset, filepath: data/02/b.parquet, versioned: true, "
                       "load_args: {columns: [x]}}\n")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1").returncode == 0
    folder = tmp_path / "renamed"
    folder.mkdir()
    text = (TOY_DIR / "toy_pipeline.py").read_text()
    text = text.replace('node(step_b, "a", "b",', 'node(step_b, "a", "b2",').replace('node(step_c, "b", "c",', 'node(step_c, "b2", "c",')
    (folder / "toy_pipeline.py").write_text(text)
    overlay.write_text(overlay.read_text().replace("b: ", "b2: ").replace("b.parquet", "b2.parquet"))
    (toy / "config/catalog.yml").write_text(
        (toy / "config/catalog.yml").read_text().replace("\nb: ", "\nb2: ").replace("b.parquet", "b2.parquet")
    )
    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1", module_dir=folder)
    assert refused.returncode == 40, refused.stderr
    stale = [line.strip() for line in refused.stderr.splitlines() if line.startswith("  toy.")]
    assert stale == ["toy.StepB: writes other datasets: b -> b2", "toy.StepC: reads other datasets: b -> b2"]
    env = {"PYTHONPATH": str(folder)}
    shown = run_cli(toy, "runs", "show", "n1", "--module", "toy_pipeline", env=env).stdout
    rows = {line.split()[0]: line for line in shown.splitlines() if line.startswith("toy.")}
    assert rows.keys() == {"toy.StepA", "toy.StepB", "toy.StepC", "toy.StepD"}, shown  # b2's writer not dropped
    assert "stale" in rows["toy.StepB"] and "writes other datasets: b -> b2" in rows["toy.StepB"], shown
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).stdout
    assert [line.split()[-1] for line in listed.splitlines() if line.startswith("n1 ")] == ["complete"], listed

    removed = tmp_path / "removed"  # StepD gone from the pipeline: its record still shows
    removed.mkdir()
    (removed / "toy_pipeline.py").write_text((folder / "toy_pipeline.py").read_text().replace("parts = (C, D)", "parts = (C,)").replace(
        'D = node(step_d, "a", "d", namespace="toy")', ""))
    shown = run_cli(toy, "runs", "show", "n1", "--module", "toy_pipeline", env={"PYTHONPATH": str(removed)}).stdout
    assert re.search(r"^toy\.StepD +ran +- +not in the pipelines now$", shown, re.M), shown


def test_a_renamed_node_takes_over_its_old_names_record(toy: Path, tmp_path: Path) -> None:
    """Without it the run counted the outputs done and the node "not run", ever after."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1").returncode == 0
    renamed = _edited_toy(tmp_path, 'D = node(step_d, "a", "d", namespace="toy")',
                          'D = node(step_d, "a", "d", name="step_dd", namespace="toy")')
    (toy / "calls.log").unlink()
    again = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1", module_dir=renamed)
    assert again.returncode == 0 and calls(toy) == [], again.stderr
    env = {"PYTHONPATH": str(renamed)}
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).stdout
    assert [line.split()[-1] for line in listed.splitlines() if line.startswith("n1 ")] == ["complete"], listed
    shown = run_cli(toy, "runs", "show", "n1", "--module", "toy_pipeline", env=env).stdout
    rows = {line.split()[0]: line for line in shown.splitlines() if line.startswith("toy.")}
    assert rows.keys() == {"toy.StepA", "toy.StepB", "toy.StepC", "toy.StepDd"}, shown
    assert rows["toy.StepDd"].split()[1] == "ran" and "(as toy.StepD, renamed since)" in rows["toy.StepDd"], shown

    edited = renamed / "toy_pipeline.py"  # renamed, and its code changed too
    edited.write_text(edited.read_text().replace("    return a.head(1)", "    return a.head(2)"))
    stale = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1", module_dir=renamed)
    assert stale.returncode == 40 and "toy.StepDd: code changed in step_d" in stale.stderr, stale.stderr


def test_reuse_runs_only_changed_nodes_and_reused_outputs_load(project: Path) -> None:
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "u1").returncode == 0
    u1 = tree_digest(project / "data")
    (project / "config/local/parameters.yml").write_text(
        "model: {estimator: sklearn.linear_model.Ridge, init_args: {alpha: 10.0}}\n"
    )
    second = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "u2", "--reuse-from", "latest")
    assert second.returncode == 0, second.stderr
    recs = records(project, "u2")
    assert {k: v["status"] for k, v in recs.items()} == {
        "data_engineering.PreprocessHouses": "reused",
        "data_engineering.SplitData": "reused",
        "data_science.TrainModel": "done",
        "data_science.Predict": "done",
        "data_science.EvaluateModel": "done",
    }
    assert recs["data_engineering.SplitData"]["versions"]["train_x"] == "u1"
    assert recs["data_science.TrainModel"]["reason"] == "parameters changed since run u1"
    assert not (project / "data/05_model_input/train_x.parquet/u2").exists()  # pointed at, not copied
    after = tree_digest(project / "data")
    assert {k: after[k] for k in u1} == u1
    catalog = Project.load(project).catalog
    model = catalog.load("model", "u2")
    assert type(model).__name__ == "Ridge" and model.alpha == 10.0
    test_x = catalog.load("test_x", "u1")
    assert len(catalog.load("predictions", "u2")) == len(test_x) == 110
    assert 0.5 < json.loads((project / "data/08_reporting/metrics.json/u2/metrics.json").read_text())["r2"] < 0.75

    # In a notebook: the catalog alone looks in u2's own folder; load_output follows u2's record.
    p = Project.load(project)
    with pytest.raises(DatasetError, match=r"has no data at .*/u2/.*load_output\('test_x', 'u2'\)"):
        p.catalog.load("test_x", run_id="u2")
    assert load_output("test_x", "u2", p).equals(test_x)
    assert load_output("metrics", "latest", p) == json.loads(
        (project / "data/08_reporting/metrics.json/u2/metrics.json").read_text()
    )
    assert load_output("houses", "u1", p).shape == (546, 12)  # a raw input: unversioned
    with pytest.raises(RunError, match=re.escape("Run 'u9' does not exist")):
        load_output("model", "u9", p)

    again = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "u2")
    assert again.returncode == 0 and "Did not run any tasks" in again.stderr

    missing = run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "u3", "--reuse-from", "nope")
    assert missing.returncode == 40 and "--reuse-from nope: no such run" in missing.stderr


def test_invalidate_reruns_the_node_and_downstream_and_keeps_the_old_files(toy: Path) -> None:
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "i1").returncode == 0
    old_c = (toy / "data/03/c.json/i1/c.json").read_bytes()
    (toy / "calls.log").unlink()
    result = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert result.returncode == 0, result.stderr
    assert "invalidated toy.StepB" in result.stdout and "invalidated toy.StepC" in result.stdout
    shown = run_cli(toy, "runs", "show", "i1", "--module", "toy_pipeline", env=env).stdout.splitlines()
    assert [line.split()[1:3] for line in shown if line.startswith(("toy.StepB", "toy.StepC"))] == [["invalidated", "-"]] * 2
    asides = sorted((toy / "data").rglob("*.aside-*"))
    assert [p.parent.parent.name for p in asides] == ["b.parquet", "c.json"]
    again = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert again.returncode == 0 and again.stdout.splitlines()[:2] == [
        f"toy.{step} in run i1 was invalidated already (nothing more to set aside)" for step in ("StepB", "StepC")
    ], again.stdout
    kept = re.escape("was invalidated (`luigi-tasks invalidate` kept each old file beside it, as <file>.aside-<time>)")
    with pytest.raises(RunError, match=r"^Run 'i1' has no 'c': no node saved it in that run \(it " + kept):
        load_output("c", "i1", Project.load(toy))
    with pytest.raises(RunError, match=r"^No run in .* saved 'c' now: it was invalidated in run\(s\) i1 \(`luigi-tasks"):
        load_output("c", project=Project.load(toy))
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "i1").returncode == 0
    assert calls(toy) == ["b", "c"]
    assert [p.read_bytes() for p in asides if p.parent.parent.name == "c.json"] == [old_c]
    assert records(toy, "i1")["toy.StepC"]["reason"] == "invalidated"

    unknown = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_x", "--module", "toy_pipeline", env=env)
    assert unknown.returncode == 2 and "No node called 'step_x'. Nodes: step_a, step_b, step_c, step_d" in unknown.stderr


def test_invalidate_refuses_to_set_aside_outputs_another_run_reuses(toy: Path) -> None:
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "v1").returncode == 0
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "v2", "--reuse-from", "v1").returncode == 0
    data_before = tree_digest(toy / "data")
    refused = run_cli(toy, "invalidate", "--run-id", "v1", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "luigi-tasks: error: Other runs reuse outputs of run 'v1' that this would set aside: toy.StepB in run v2, "
        "toy.StepC in run v2. Invalidate those first (luigi-tasks invalidate --run-id <run> --from <node>), then this."
    )
    assert tree_digest(toy / "data") == data_before

    first = run_cli(toy, "invalidate", "--run-id", "v2", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == (
        "Rerun them with: luigi --module toy_pipeline ToyPipeline --local-scheduler --run-id v2 --reuse-from v1"
    )
    assert run_cli(toy, "invalidate", "--run-id", "v1", "--from", "step_b", "--module", "toy_pipeline", env=env).returncode == 0
    assert load_output("a", "v2", Project.load(toy)).equals(load_output("a", "v1", Project.load(toy)))  # A: still reused
    newest = run_cli(toy, "invalidate", "--run-id", "latest", "--from", "step_d", "--module", "toy_pipeline", env=env)
    assert newest.returncode == 0 and newest.stdout.startswith("invalidated toy.StepD in run v2"), newest.stderr


def test_invalidate_refuses_a_node_that_is_running_now(toy: Path, tmp_path: Path) -> None:
    """Its save at the end would undo the invalidation: the run would end complete with the
    old code's output and nothing set aside."""
    import subprocess
    import time

    from tests.conftest import LUIGI

    waiting = _edited_toy(tmp_path, '    _called("b")\n', '    _called("b")\n    _wait_for_go()\n')
    module = waiting / "toy_pipeline.py"
    module.write_text(module.read_text() + (
        "\n\ndef _wait_for_go() -> None:\n    import time\n"
        "    for _ in range(600):\n        if Path('GO').exists():\n            return\n        time.sleep(0.05)\n"
    ))
    env = {"PYTHONPATH": str(waiting)}
    (toy / "GO").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "i1", module_dir=waiting).returncode == 0
    (toy / "GO").unlink()
    for gone in ("data/02/b.parquet/i1/b.parquet", "data/03/c.json/i1/c.json"):
        (toy / gone).unlink()  # StepB and StepC run again in i1; StepB waits for GO
    slow = subprocess.Popen(
        [LUIGI, "--module", "toy_pipeline", "ToyPipeline", "--local-scheduler", "--run-id", "i1"],
        cwd=toy, env={**os.environ, "PYTHONPATH": str(waiting)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        lease = toy / f"data/09_runs/i1/workers/{socket.gethostname()}-{slow.pid}"
        for _ in range(300):  # the command has prepared the run: its lease names it
            if lease.exists():
                break
            time.sleep(0.02)

        def saved() -> dict[str, str]:  # but the journal, where the node records that it runs
            return {k: v for k, v in tree_digest(toy / "data").items() if "/journal/" not in k}

        before = saved()
        early = run_cli(toy, "runs", "delete", "i1", "--yes", "--module", "toy_pipeline", env=env)
        assert early.returncode == 2, early.stderr
        assert early.stderr.startswith(f"luigi-tasks: error: Run 'i1' is being run now: pid {slow.pid} on this host")
        assert "Nothing was deleted" in early.stderr
        listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).stdout
        assert next(line for line in listed.splitlines() if line.startswith("i1 ")).endswith(
            f"; being run now (pid {slow.pid} on this host)"
        ), listed  # not just "unfinished", as a run stopped by Ctrl-C is
        for _ in range(300):  # a node busy for over a second records that it runs
            if records(toy, "i1").get("toy.StepB", {}).get("status") == "running":
                break
            time.sleep(0.1)
        refused = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_a", "--module", "toy_pipeline", env=env)
        assert refused.returncode == 2, refused.stderr
        assert f"Run 'i1' is being run now: toy.StepB (pid {slow.pid} on this host). Invalidating now" in refused.stderr
        assert saved() == before
    finally:
        (toy / "GO").touch()
        assert slow.wait(timeout=120) == 0, slow.stderr.read() if slow.stderr else ""
    done = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_a", "--module", "toy_pipeline", env=env)
    assert done.returncode == 0 and "invalidated toy.StepB" in done.stdout, done.stderr


def test_invalidate_takes_a_running_record_whose_worker_exited_for_an_interrupted_attempt(toy: Path) -> None:
    import subprocess
    import sys

    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "i1").returncode == 0
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    write_node_record(Project.load(toy), dataclasses.replace(NodeRecord.start("toy.StepB", "i1"), pid=exited.pid))
    done = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert done.returncode == 0 and "invalidated toy.StepB" in done.stdout, done.stderr
    write_node_record(Project.load(toy), dataclasses.replace(NodeRecord.start("toy.StepC", "i1"), host="elsewhere"))
    refused = run_cli(toy, "invalidate", "--run-id", "i1", "--from", "step_b", "--module", "toy_pipeline", env=env)
    assert refused.returncode == 2 and "is being run now: toy.StepC (host elsewhere, pid" in refused.stderr


def test_runs_list_says_a_run_whose_worker_was_killed_is_interrupted(toy: Path) -> None:
    """Killed (out of memory, SIGKILL) while a node ran: not "unfinished", which a finished
    partial run also is; a script alerting on the JSON gets the nodes by name."""
    import subprocess
    import sys

    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "toy.StepA", "--local-scheduler", "--run-id", "k1").returncode == 0
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    write_node_record(Project.load(toy), dataclasses.replace(NodeRecord.start("toy.StepB", "k1"), pid=killed.pid))
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env)
    assert listed.stdout.splitlines()[1].endswith("interrupted: toy.StepB (its worker on this host exited while it ran)")
    scripted = json.loads(run_cli(toy, "runs", "list", "--json", "--module", "toy_pipeline", env=env).stdout)
    assert [(r["complete"], r["failed"], r["interrupted"]) for r in scripted] == [(False, [], ["toy.StepB"])]


def test_latest_is_the_newest_run_that_has_what_is_asked(toy: Path) -> None:
    env = {"PYTHONPATH": str(TOY_DIR)}
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "toy.StepB", "--local-scheduler", "--run-id", "l0").returncode == 30  # A done, B failed
    assert run_cli(toy, "invalidate", "--run-id", "l0", "--from", "step_a", "--module", "toy_pipeline", env=env).returncode == 0
    nothing = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "l0c", "--reuse-from", "latest")
    assert nothing.returncode == 40
    assert "has a completed node to reuse (an invalidated one no longer counts). Leave --reuse-from out" in nothing.stderr
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "l1").returncode == 0
    assert run_toy(toy, "toy.StepA", "--local-scheduler", "--run-id", "l2").returncode == 0  # only a
    raw = toy / "data" / "01_raw" / "raw.csv"
    raw.rename(toy / "raw.away")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "l3").returncode == 20  # nothing done
    (toy / "raw.away").rename(raw)
    p = Project.load(toy)
    assert load_output("c", "latest", p) == json.loads((toy / "data/03/c.json/l1/c.json").read_text())
    assert load_output("c", "LATEST", p) == load_output("c", "latest", p)  # asked for in any case
    assert load_output("a", "latest", p).equals(p.catalog.load("a", run_id="l2"))

    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "l4", "--reuse-from", "latest").returncode == 0
    assert json.loads((toy / "data/09_runs/l4/run.json").read_text())["reuse_from"] == "l2"  # l3 completed nothing
    shown = run_cli(toy, "runs", "show", "latest", "--module", "toy_pipeline", env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("run l4 "), shown.stderr
    compared = run_cli(toy, "runs", "compare", "l1", "latest", "--module", "toy_pipeline", env=env)
    assert compared.returncode == 0 and "l4" in compared.stdout, compared.stderr


def test_a_run_keeps_the_run_it_reuses_from(toy: Path) -> None:
    for args in (("--run-id", "b1"), ("--run-id", "b2", "--reuse-from", "b1"), ("--run-id", "b3")):
        assert run_toy(toy, "ToyPipeline", "--local-scheduler", *args).returncode == 0
    data_before = tree_digest(toy / "data")
    other = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "b2", "--reuse-from", "b3")
    assert other.returncode == 40
    assert (
        "Run 'b2' was started reusing from run b1, so it cannot reuse from run b3 now: leave --reuse-from out "
        "to continue it, or start a new run: --run-id <new id> --reuse-from b3."
    ) in other.stderr
    late = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "b3", "--reuse-from", "b1")
    assert late.returncode == 40 and "Run 'b3' was started without --reuse-from" in late.stderr
    assert tree_digest(toy / "data") == data_before
    again = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "b2", "--reuse-from", "latest")
    assert again.returncode == 0, again.stderr  # latest (b3 now) means b2's own source when b2 exists
    assert json.loads((toy / "data/09_runs/b2/run.json").read_text())["reuse_from"] == "b1"


def test_an_unversioned_output_is_made_again_in_each_run(toy: Path, tmp_path: Path) -> None:
    """Its one file is shared by every run and may hold another run's result (other code or
    parameters): in a new run its node runs, as in Kedro, though the file exists; reused only
    where no node of the run reads it."""
    (toy / "config/local/catalog.yml").write_text("b: {type: pandas.ParquetDataset, filepath: data/02/b.parquet}\n")
    total = lambda run: json.loads((toy / f"data/03/c.json/{run}/c.json").read_text())["total"]  # noqa: E731
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1").returncode == 0
    (toy / "calls.log").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n2").returncode == 0
    assert sorted(calls(toy)) == ["a", "b", "c", "d"]
    assert records(toy, "n2")["toy.StepB"]["reason"] == "b: not versioned (one file for every run), so made again in each run"
    (toy / "calls.log").unlink()
    again = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n2")
    assert again.returncode == 0 and calls(toy) == []  # a run's own is complete

    # Another experiment rewrites the shared file; a run reusing n2 whose StepC must run
    # (its n2 output is gone) makes b again with its own code before StepC reads it.
    edited = _edited_toy(tmp_path, 'a.assign(x=a["x"] + 1)', 'a.assign(x=a["x"] + 100)')
    assert run_toy(toy, "toy.StepB", "--local-scheduler", "--run-id", "m1", module_dir=edited).returncode == 0
    (toy / "data/03/c.json/n2/c.json").unlink()
    (toy / "calls.log").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n3", "--reuse-from", "n2").returncode == 0
    assert calls(toy) == ["b", "c"] and total("n3") == total("n1")
    # Where every reader is reused, so is the node: nothing reads its file.
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n4", "--reuse-from", "n3").returncode == 0
    assert calls(toy) == ["b", "c"] and records(toy, "n4")["toy.StepB"]["status"] == "reused"

    # Invalidating n1's StepB leaves the shared file to the runs that use it; n1 makes it again.
    shared = (toy / "data/02/b.parquet").read_bytes()
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_cli(toy, "invalidate", "--run-id", "n1", "--from", "step_b", "--module", "toy_pipeline", env=env).returncode == 0
    assert (toy / "data/02/b.parquet").read_bytes() == shared and not list((toy / "data/02").glob("b.parquet.aside-*"))
    (toy / "calls.log").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "n1").returncode == 0
    assert calls(toy) == ["b", "c"]

    # Forked workers: the node runs in another process, and its reader finds it complete.
    (toy / "calls.log").unlink()
    workers = run_toy(toy, "ToyPipeline", "--local-scheduler", "--workers", "2", "--run-id", "n5")
    assert workers.returncode == 0, workers.stderr[-3000:]
    assert sorted(calls(toy)) == ["a", "b", "c", "d"]


def test_a_shared_file_another_run_rewrote_is_never_taken_for_the_runs_own(toy: Path, tmp_path: Path) -> None:
    """Reusing a node whose unversioned file another run has rewritten since would leave the
    new run "complete" with that other run's data in it."""
    (toy / "config/local/catalog.yml").write_text("b: {type: pandas.ParquetDataset, filepath: data/02/b.parquet}\n")
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "u1").returncode == 0
    own = (toy / "data/02/b.parquet").read_bytes()
    assert load_output("b", "u1", Project.load(toy)).equals(pd.read_parquet(toy / "data/02/b.parquet"))
    edited = _edited_toy(tmp_path, 'a.assign(x=a["x"] + 1)', 'a.assign(x=a["x"] + 100)')
    assert run_toy(toy, "toy.StepB", "--local-scheduler", "--run-id", "u2", module_dir=edited).returncode == 0
    assert (toy / "data/02/b.parquet").read_bytes() != own  # u2's now

    with pytest.raises(RunError, match=r"'b' is not versioned \(one file for every run\), and its file .*b.parquet was "
                       r"rewritten or removed since run 'u1' saved it: it holds another run's data now, or none"):
        load_output("b", "u1", Project.load(toy))
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env)
    assert "u1  " in listed.stdout and "outputs gone: toy.StepB" in listed.stdout.split("u1 ", 1)[1].splitlines()[0]
    shown = run_cli(toy, "runs", "show", "u1", "--module", "toy_pipeline", env=env)
    assert "b rewritten since by another run (not versioned); running the run again makes them again" in shown.stdout

    (toy / "calls.log").unlink(missing_ok=True)
    reused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "u3", "--reuse-from", "u1")
    assert reused.returncode == 0, reused.stderr
    assert calls(toy) == ["b", "c"]  # b made again with u3's (u1's) code, and c from it
    assert records(toy, "u3")["toy.StepB"]["reason"] == "b rewritten or removed (not versioned) since run u1"
    assert (toy / "data/02/b.parquet").read_bytes() == own
    assert load_output("b", "u3", Project.load(toy)).equals(pd.read_parquet(toy / "data/02/b.parquet"))


def test_runs_list_and_show_say_a_dataset_the_catalog_moved_since_is_stored_elsewhere(toy: Path) -> None:
    """Not "outputs gone": the run's version is where it saved it; another overlay points elsewhere."""
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "o1").returncode == 0
    (toy / "config/local/catalog.yml").write_text("d: {type: pandas.ParquetDataset, filepath: data/03/d_v2.parquet, versioned: true}\n")
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].endswith("stored elsewhere now: d (the catalog moved them since the run)")
    shown = run_cli(toy, "runs", "show", "o1", "--module", "toy_pipeline", env=env)
    row = next(line for line in shown.stdout.splitlines() if line.startswith("toy.StepD"))
    assert "stored elsewhere" in row and "d: the catalog stores it elsewhere now (was ParquetDataset at data/03/d.parquet" in row
    assert "outputs gone" not in shown.stdout
    assert (toy / "data/03/d.parquet/o1/d.parquet").exists()
    deleted = run_cli(toy, "runs", "delete", "o1", "--yes", "--module", "toy_pipeline", env=env)
    assert deleted.returncode == 0, deleted.stderr  # found where the run saved it
    assert f"  {toy}/data/03/d.parquet/o1" in deleted.stdout.splitlines()
    assert not (toy / "data/03/d.parquet/o1").exists() and not (toy / "data/09_runs/o1").exists()


def test_invalidate_names_a_command_that_reruns_what_it_set_aside(project: Path) -> None:
    """A run started with one pipeline and finished with another: its first command would not
    reach a node of the second."""
    assert run_luigi(project, *MODULE, "DataEngineeringPipeline", "--local-scheduler", "--run-id", "v1").returncode == 0
    assert run_luigi(project, *MODULE, "FullPipeline", "--local-scheduler", "--run-id", "v1").returncode == 0
    done = run_cli(project, "invalidate", "--run-id", "v1", "--from", "evaluate_model")
    assert done.returncode == 0, done.stderr
    command = next(line for line in done.stdout.splitlines() if line.startswith("Rerun them with: "))
    assert command == (
        "Rerun them with: luigi --module luigi_tasks.pipelines DataSciencePipeline --local-scheduler --run-id v1"
    )
    rerun = run_luigi(project, *command.removeprefix("Rerun them with: luigi ").split())
    assert rerun.returncode == 0, rerun.stderr
    assert records(project, "v1")["data_science.EvaluateModel"]["status"] == "done"


REPLACES_RAW = """
from pathlib import Path

from luigi_tasks import PipelineTask, node


def first(raw):
    Path("data/01_raw/raw2.csv").write_text("x\\n7\\n")  # another job replaces a raw file mid-run
    return raw


def second(a, raw2):
    return raw2


A = node(first, "raw", "a", namespace="rr")
B = node(second, ["a", "raw2"], "b", namespace="rr")


class RR(PipelineTask):
    parts = (B,)
"""


def test_a_raw_file_replaced_while_the_run_runs_is_not_taken_for_the_hashed_one(toy: Path, tmp_path: Path) -> None:
    """The run hashes raw files when it starts; results made from a file replaced since would be
    recorded with the old hash, and a later --reuse-from would reuse them as unchanged."""
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("raw2: {type: pandas.CSVDataset, filepath: data/01_raw/raw2.csv}\n")
    (toy / "data/01_raw/raw2.csv").write_text("x\n1\n2\n")
    folder = tmp_path / "rr"
    folder.mkdir()
    (folder / "rr_pipeline.py").write_text(REPLACES_RAW)
    failed = run_toy(toy, "RR", "--local-scheduler", "--run-id", "rr1", module_dir=folder, module="rr_pipeline")
    assert failed.returncode == 30, failed.stderr
    assert f"Raw input 'raw2' ({toy}/data/01_raw/raw2.csv) was replaced or edited while run 'rr1' ran" in failed.stderr
    assert not (toy / "data/02/b.parquet/rr1").exists()
    again = run_toy(toy, "RR", "--local-scheduler", "--run-id", "rr1", module_dir=folder, module="rr_pipeline")
    assert again.returncode == 0, again.stderr  # the resume hashes the file as it is now
    assert load_output("b", "rr1", Project.load(toy))["x"].tolist() == [7]


def test_outputs_whose_record_cannot_be_written_are_set_aside(toy: Path) -> None:
    """A full disk after a node's saves: its outputs without a record counted as done for Luigi
    and as "not run" for the run's record, ever after. A file size limit makes the record's
    write fail (the journal outgrows it after three records; each output is smaller)."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2100, 2100))

    command = [str(BIN / "luigi"), "--module", "toy_pipeline", "ToyPipeline", "--local-scheduler", "--run-id", "j1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}
    full = subprocess.run(command, cwd=toy, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert full.returncode == 30, full.stderr
    # Which node's record outgrows the limit depends on the length of the paths it holds.
    failed = re.search(r"ERROR: The record of (toy\.\w+) in run 'j1' cannot be written in .*Its outputs were set "
                       r"aside, so the resume makes them again: (\w+) -> (\S+)\.", full.stderr)
    assert failed, full.stderr
    node, output, aside = failed.groups()
    saved = Path(aside.split(".aside-")[0])
    assert Path(aside).exists() and not saved.exists() and saved.name.startswith(output)
    resumed = subprocess.run(command, cwd=toy, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert records(toy, "j1")[node]["status"] == "done" and saved.exists()


FAIL_AFTER_SAVE = """
import os
from luigi_tasks import PipelineTask, node
from luigi_tasks.datasets import JSONDataset


class SavesThenFails(JSONDataset):
    \"\"\"A faulty dataset type: it writes the file, then raises.\"\"\"

    def save(self, data):
        super().save(data)
        if os.path.exists("FAIL_AFTER_SAVE"):
            raise RuntimeError("failed after saving")


def count(raw):
    with open("calls.log", "a") as f:
        f.write("count\\n")
    return {"rows": len(raw)}


Count = node(count, "raw", "counted", namespace="fs")


class Everything(PipelineTask):
    parts = (Count,)
"""


def test_a_node_that_failed_after_saving_is_not_complete(toy: Path) -> None:
    """Its output exists, but it failed: the run is not called complete, and the rerun runs it
    again (setting the saved file aside) instead of taking the file for done."""
    (toy / "faulty.py").write_text(FAIL_AFTER_SAVE)
    with open(toy / "config/catalog.yml", "a") as f:
        f.write("counted: {type: faulty.SavesThenFails, filepath: data/03/counted.json, versioned: true}\n")
    env = {"PYTHONPATH": str(toy)}
    (toy / "FAIL_AFTER_SAVE").touch()
    failed = run_luigi(toy, "--module", "faulty", "Everything", "--local-scheduler", "--run-id", "f1", env=env)
    assert failed.returncode == 30 and (toy / "data/03/counted.json/f1/counted.json").is_file()
    assert "luigi-tasks: run f1 did not complete." in failed.stderr and "is complete" not in failed.stderr
    assert "fs.Count failed: RuntimeError: failed after saving" in failed.stderr
    (toy / "FAIL_AFTER_SAVE").unlink()
    again = run_luigi(toy, "--module", "faulty", "Everything", "--local-scheduler", "--run-id", "f1", env=env)
    assert again.returncode == 0 and "luigi-tasks: run f1 is complete." in again.stderr, again.stderr[-2000:]
    assert calls(toy) == ["count", "count"] and len(list((toy / "data/03/counted.json/f1").glob("*.aside-*"))) == 1


def test_a_resumed_run_remakes_an_unversioned_file_another_run_rewrote(toy: Path, tmp_path: Path) -> None:
    """f1's StepA is complete in f1, but another experiment has rewritten the shared a.parquet
    since: resuming f1 must not feed the other run's data to its StepB."""
    (toy / "config/local/catalog.yml").write_text("a: {type: pandas.ParquetDataset, filepath: data/02/a.parquet}\n")
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "f1").returncode == 30
    (toy / "FAIL_B").unlink()
    other = _edited_toy(tmp_path, 'raw.assign(x=raw["x"] * 2)', 'raw.assign(x=raw["x"] * 30)')
    assert run_toy(toy, "toy.StepA", "--local-scheduler", "--run-id", "f2", module_dir=other).returncode == 0
    (toy / "calls.log").unlink()
    resumed = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "f1")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    made = calls(toy)  # a first; d too, as it was made from f1's first a
    assert made[0] == "a" and sorted(made) == ["a", "b", "c", "d"], made
    assert json.loads((toy / "data/03/c.json/f1/c.json").read_text()) == {"total": 15.0}
    assert records(toy, "f1")["toy.StepA"]["reason"] == "a: rewritten or removed since this run saved it (not versioned)"


def test_a_pipeline_of_unversioned_outputs_runs_again_in_a_new_run(toy: Path) -> None:
    """Every output exists (one file for every run): the pipeline task is not complete for
    that in a new run, as its node is not."""
    (toy / "faulty.py").write_text(FAIL_AFTER_SAVE)
    with open(toy / "config/catalog.yml", "a") as f:
        f.write("counted: {type: json.JSONDataset, filepath: data/03/counted.json}\n")
    env = {"PYTHONPATH": str(toy)}
    for run_id in ("u1", "u2", "u2"):
        assert run_luigi(toy, "--module", "faulty", "Everything", "--local-scheduler", "--run-id", run_id, env=env).returncode == 0
    assert calls(toy) == ["count", "count"]  # u1, u2; u2 again is complete


def test_parallel_workers_record_every_node(toy: Path) -> None:
    result = run_toy(toy, "ToyPipeline", "--local-scheduler", "--workers", "3", "--run-id", "w1")
    assert result.returncode == 0, result.stderr
    recs = records(toy, "w1")
    assert sorted(recs) == ["toy.StepA", "toy.StepB", "toy.StepC", "toy.StepD"]
    assert {r["status"] for r in recs.values()} == {"done"}


def _write_many(args: tuple[str, int]) -> None:
    root, worker = args
    project = Project.load(Path(root))
    for i in range(20):
        write_node_record(project, NodeRecord.start(f"ns.Node{worker}_{i}", "c1").finish("done"))


def test_concurrent_record_writers_lose_no_entries(project: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_write_many, [(str(project), w) for w in range(4)])
    found = read_node_records(Project.load(project), "c1")
    assert len(found) == 80 and {r.status for r in found.values()} == {"done"}


# -- the journal: how node records are stored -------------------------------------------------

def test_journal_keeps_the_latest_record_and_skips_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    (run / "nodes").mkdir(parents=True)
    (run / "nodes" / "ns.A.json").write_text(json.dumps({"node": "ns.A", "status": "failed"}))  # before the journal
    journal.append(str(run), {"node": "ns.A", "status": "running"})
    journal.append(str(run), {"node": "ns.A", "status": "done"})
    journal.append(str(run), {"node": "ns.B", "status": "failed"})
    files = list((run / "journal").glob("*.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 3
    with files[0].open("ab") as f:
        f.write(b'{"node": "ns.A", "status": "inval')  # a kill -9 mid-write
    latest = journal.read_latest(str(run))
    assert {n: e["status"] for n, e in latest.items()} == {"ns.A": "done", "ns.B": "failed"}
    # Another process's later record wins over this one's.
    later = {"node": "ns.B", "status": "done", journal.WRITTEN: latest["ns.B"][journal.WRITTEN] + 1}
    (run / "journal" / "other-1-x.jsonl").write_text(json.dumps(later) + "\n")
    assert journal.read_latest(str(run))["ns.B"]["status"] == "done"


def _open_journals(folder: Path) -> list[str]:
    """This process's open files under ``folder``."""
    fds = Path("/proc/self/fd")
    return [t for t in (os.path.realpath(fds / fd) for fd in os.listdir(fds)) if t.startswith(str(folder.resolve()))]


def _append_in_child(run: str, report: str) -> None:
    inherited = _open_journals(Path(run))
    journal.append(run, {"node": "ns.Child", "status": "done"})
    Path(report).write_text(json.dumps({"inherited": inherited, "after": _open_journals(Path(run))}))


def test_a_forked_worker_writes_a_journal_of_its_own(tmp_path: Path) -> None:
    run, report = str(tmp_path / "r1"), tmp_path / "report.json"
    journal.append(run, {"node": "ns.Parent", "status": "done"})
    child = multiprocessing.get_context("fork").Process(target=_append_in_child, args=(run, str(report)))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    files = sorted(str(p.resolve()) for p in (tmp_path / "r1" / "journal").glob("*.jsonl"))
    assert len(files) == 2 and set(journal.read_latest(run)) == {"ns.Parent", "ns.Child"}
    opened = json.loads(report.read_text())
    assert opened["inherited"] == []  # the parent's journal was closed in the child ...
    assert len(opened["after"]) == 1 and opened["after"][0] in files  # ... which wrote its own
    parents = _open_journals(tmp_path / "r1")  # the parent's own stays open, for its next record
    assert len(parents) == 1 and parents[0] in files and parents != opened["after"]


def test_a_long_lived_process_keeps_a_bounded_number_of_journals_open(tmp_path: Path) -> None:
    runs_ = [str(tmp_path / f"r{i}") for i in range(journal.MAX_OPEN + 5)]
    for run in runs_:
        journal.append(run, {"node": "ns.A", "status": "running"})
    assert len(_open_journals(tmp_path)) == journal.MAX_OPEN
    journal.append(runs_[0], {"node": "ns.A", "status": "done"})  # its file was closed: a new one
    assert len(list((tmp_path / "r0" / "journal").glob("*.jsonl"))) == 2
    assert journal.read_latest(runs_[0])["ns.A"]["status"] == "done"
    assert all(journal.read_latest(run)["ns.A"]["status"] == "running" for run in runs_[1:])


def test_a_journal_deleted_under_a_long_lived_process_is_made_again(tmp_path: Path) -> None:
    """A notebook keeps its journal file open; `luigi-tasks runs delete` removes the run from
    another shell; the notebook runs it again: its records must land in a file that exists."""
    run = str(tmp_path / "d1")
    journal.append(run, {"node": "ns.A", "status": "done"})
    shutil.rmtree(run)
    journal.append(run, {"node": "ns.A", "status": "running"})
    assert journal.read_latest(run)["ns.A"]["status"] == "running"


def test_on_an_object_store_each_record_is_a_file_of_its_own() -> None:
    import fsspec

    run = "memory://bucket/runs/r1"
    journal.append(run, {"node": "ns.A", "status": "running"})
    journal.append(run, {"node": "ns.A", "status": "done"})
    fs = fsspec.filesystem("memory")
    assert fs.exists("/bucket/runs/r1/nodes/ns.A.json") and not fs.exists("/bucket/runs/r1/journal")
    assert journal.read_latest(run)["ns.A"]["status"] == "done"


def test_a_run_state_belongs_to_its_project_object_and_goes_with_it(project: Path) -> None:
    first = Project.load(project)
    run_plan._states[first] = {"r1": run_plan.RunState("r1", reasons={"ns.A": "missing"})}
    assert run_plan.state(first, "r1").reasons == {"ns.A": "missing"}
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None  # the states do not keep it alive, so its id() may be reused ...
    second = Project.load(project)  # ... and an object there starts empty
    assert run_plan.state(second, "r1").reasons == {}


def test_a_node_start_reads_records_as_of_the_last_full_read(project: Path) -> None:
    loaded = Project.load(project)
    write_node_record(loaded, NodeRecord.start("ns.A", "s1").finish("failed", error="x"))
    assert read_node_records(loaded, "s1")["ns.A"].status == "failed"
    # Another process's write (straight to the store: this process does not see it happen).
    journal.append(run_info.run_dir(loaded, "s1"), dataclasses.asdict(NodeRecord.start("ns.A", "s1").finish("done")))
    assert node_records.read_node_record(loaded, "s1", "ns.A").status == "failed"  # not read again
    assert read_node_records(loaded, "s1")["ns.A"].status == "done"
    assert node_records.read_node_record(loaded, "s1", "ns.A").status == "done"


def test_parameter_diff_names_each_changed_key_once() -> None:
    old = {"split": {"test_size": 0.2, "random_state": 42}, "model": {"init_args": {}}}
    new = {"split": {"test_size": 0.3, "random_state": 42}, "model": {"init_args": {"alpha": 0.5}}, "extra": "x"}
    assert run_info.parameter_diff(old, new) == [
        "extra: (absent) -> 'x'",
        "model.init_args.alpha: (absent) -> 0.5",
        "split.test_size: 0.2 -> 0.3",
    ]
    assert run_info.parameter_diff(new, old)[1] == "model.init_args.alpha: 0.5 -> (absent)"
    assert run_info.parameter_diff({"a": {}}, {"a": 1}) == ["a: {} -> 1"]  # nothing under it: still a change
    assert run_info.parameter_diff(old, old) == []


def test_runs_list_shows_each_run_complete_failed_or_unfinished(toy: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}
    assert run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).stdout.startswith("No runs yet in ")
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 30
    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2", "--reuse-from", "r1").returncode == 0
    assert run_toy(toy, "toy.StepA", "--local-scheduler", "--run-id", "r3").returncode == 0
    (toy / "data/09_runs/NOTES.txt").write_text("a user's note beside the runs\n")  # not a run

    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["run", "id", "created", "reuse", "from", "state"]
    rows = {cells[0]: (cells[2], cells[3]) for cells in (line.split(None, 3) for line in lines)}
    assert rows == {
        "r1": ("-", "failed: toy.StepB"),
        "r2": ("r1", "complete"),
        "r3": ("-", "unfinished: 1 of 4 nodes done"),
    }
    with pytest.raises(RunError, match=re.escape("Run 'r1' has no 'b': no node saved it in that run")):
        load_output("b", "r1", Project.load(toy))


def test_runs_show_a_failure_recorded_without_its_error(toy: Path) -> None:
    """A record written by an older version or by hand may say "failed" with no error text."""
    env = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}
    assert run_toy(toy, "toy.StepA", "--local-scheduler", "--run-id", "f0").returncode == 0
    write_node_record(Project.load(toy), NodeRecord.start("toy.StepB", "f0").finish("failed", error=None))
    shown = run_cli(toy, "runs", "show", "f0", "--module", "toy_pipeline", env=env)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("toy.StepB"))
    assert row.split()[1] == "failed" and "None" not in row, row


def test_runs_list_and_show_say_when_a_complete_runs_outputs_were_deleted(toy: Path) -> None:
    """Freeing disk by hand: a run whose file is gone (its own, or the earlier run's it
    reused) is not 'complete', as its rerun would make the node again."""
    env = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g1").returncode == 0
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g2", "--reuse-from", "g1").returncode == 0
    shutil.rmtree(toy / "data/03/c.json/g1")

    def states() -> dict[str, str]:
        listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env)
        assert listed.returncode == 0, listed.stderr
        return {cells[0]: cells[-1] for cells in (re.split(r"\s{2,}", line) for line in listed.stdout.splitlines()[1:])}

    assert states() == {"g1": "outputs gone: toy.StepC", "g2": "outputs gone: toy.StepC"}
    shown = run_cli(toy, "runs", "show", "g2", "--module", "toy_pipeline", env=env)
    step_c = next(line for line in shown.stdout.splitlines() if line.startswith("toy.StepC"))
    cells = re.split(r"\s{2,}", step_c)  # node, status, duration, reason
    assert (cells[1], cells[3]) == ("outputs gone", "c deleted since; running the run again makes them again")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "g1").returncode == 0  # makes c again
    assert states() == {"g1": "complete", "g2": "complete"}  # g2's c is g1's version, there again


def test_runs_delete_removes_a_runs_versions_and_record_but_not_what_another_run_reuses(toy: Path) -> None:
    """Freeing disk: a run goes, versions and record, once no run reuses it; the raw file, other
    runs and unversioned files stay; without --yes nothing is deleted."""
    env = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}

    def delete(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(toy, "runs", "delete", *args, "--module", "toy_pipeline", env=env)

    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "d1").returncode == 0
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "d2", "--reuse-from", "d1").returncode == 0
    (toy / "data/02/a.parquet/d1/a.parquet.aside-20260101T000000000000Z").write_bytes(b"set aside")
    before = tree_digest(toy / "data")
    refused = delete("d1", "--yes")
    assert refused.returncode == 2 and refused.stderr == (
        "luigi-tasks: error: Run(s) d2 reuse outputs of run 'd1', which they would lose. Nothing was deleted. "
        "Delete those runs first, or keep d1.\n"
    )
    listed = delete("d2")  # d2 made nothing of its own: only its record
    assert listed.returncode == 0 and listed.stdout.splitlines()[1:] == [
        f"  {toy}/data/09_runs/d2", "Run again with --yes to delete: luigi-tasks runs delete d2 --yes"
    ]
    assert tree_digest(toy / "data") == before
    assert delete("d2", "--yes").returncode == 0 and delete("d1", "--yes").returncode == 0
    left = sorted(str(p.relative_to(toy / "data")) for p in (toy / "data").rglob("*") if p.is_file())
    assert [p for p in left if not p.startswith("09_runs/.cache/")] == ["01_raw/raw.csv"], left
    assert run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).stdout.startswith("No runs yet in ")
    assert delete("latest").returncode == 2


def test_runs_delete_finds_the_versions_of_a_dataset_no_longer_in_the_catalog(toy: Path, tmp_path: Path) -> None:
    """A dataset removed from the catalog since the run (with its node) keeps its versions
    where the run recorded them; deleting the run deletes them too, not only the others."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "x1").returncode == 0
    assert (toy / "data/03/d.parquet/x1/d.parquet").is_file()
    removed = tmp_path / "removed"
    removed.mkdir()
    (removed / "toy_pipeline.py").write_text((TOY_DIR / "toy_pipeline.py").read_text().replace(
        "parts = (C, D)", "parts = (C,)").replace('D = node(step_d, "a", "d", namespace="toy")', ""))
    catalog = toy / "config/catalog.yml"
    catalog.write_text("".join(line for line in catalog.read_text().splitlines(keepends=True) if not line.startswith("d:")))
    env = {"PYTHONPATH": str(removed)}
    listed = run_cli(toy, "runs", "delete", "x1", "--module", "toy_pipeline", env=env)
    assert listed.returncode == 0 and f"  {toy}/data/03/d.parquet/x1" in listed.stdout.splitlines(), listed.stdout
    assert (toy / "data/03/d.parquet/x1/d.parquet").is_file()  # without --yes: nothing deleted
    assert run_cli(toy, "runs", "delete", "x1", "--yes", "--module", "toy_pipeline", env=env).returncode == 0
    assert not (toy / "data/03/d.parquet/x1").exists() and not (toy / "data/02/a.parquet/x1").exists()


def test_a_dataset_added_to_a_run_then_moved_is_refused_not_made_again(toy: Path, tmp_path: Path) -> None:
    """run.json records the catalog of the run's creation; a dataset added later (with its
    node) and then moved would make its node run again as if its output were gone, leaving
    the saved version where no command finds it. Refused, as a move of the others is."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "a1").returncode == 0
    catalog = toy / "config/catalog.yml"
    grown = grow_toy(toy, tmp_path / "grown")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "a1", module_dir=grown).returncode == 0
    assert "e" not in json.loads((toy / "data/09_runs/a1/run.json").read_text())["catalog"]
    catalog.write_text(catalog.read_text().replace("data/03/e.json", "data/04/e.json"))

    refused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "a1", module_dir=grown)
    assert refused.returncode == 40, refused.stderr[-3000:]
    assert f"  e: saved at {toy}/data/03/e.json/a1/e.json, now {toy}/data/04/e.json/a1/e.json" in (
        refused.stderr.splitlines()
    ), refused.stderr[-3000:]
    assert not (toy / "data/04").exists()
    # A new run is not concerned.
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "a2", module_dir=grown).returncode == 0


def test_a_run_named_latest_from_before_the_name_was_reserved_is_left_out(project: Path) -> None:
    """``latest`` is no run id any more; a folder of that name must not break listing the runs."""
    for run_id in ("latest", "LATEST", "r1"):
        (project / "data" / "09_runs" / run_id).mkdir(parents=True)
        (project / "data" / "09_runs" / run_id / "run.json").write_text(json.dumps({"run_id": run_id, "created": "x"}))
    assert [info["run_id"] for info in run_info.list_runs(Project.load(project))] == ["r1"]


def test_a_fingerprint_recorded_before_catalog_options_counted_is_compared_as_it_was_made() -> None:
    """A run recorded by an earlier version has no 'options' in its fingerprints: its nodes
    are not stale for options that were there all along, only for what really changed."""
    from luigi_tasks.fingerprint import Fingerprint

    current = Fingerprint("code", "params", {"a": "new-a"}, "new-digest", (), "opts", "old-digest", {"a": "old-a"})
    recorded = {"code": "code", "params": "params", "inputs": {"a": "old-a"}, "digest": "old-digest"}
    assert Fingerprint.from_dict(recorded).options is None
    assert current.explain_change(Fingerprint.from_dict(recorded), "f") is None
    moved = {**recorded, "inputs": {"a": "other-a"}, "digest": "other"}
    assert current.explain_change(Fingerprint.from_dict(moved), "f") == "input changed: a"
    now = Fingerprint.from_dict(current.to_dict())  # recorded from now on: options compared
    assert now.options == "opts" and current.explain_change(now, "f") is None
    assert current.explain_change(Fingerprint.from_dict({**current.to_dict(), "options": "", "digest": "d"}), "f") == (
        "catalog options of its datasets changed (load_args, save_args, ...)"
    )


def test_a_node_made_again_because_its_output_was_deleted_makes_its_downstream_again(toy: Path) -> None:
    """A node that is not deterministic (a random split) makes other data the second time:
    keeping what was made downstream from its first outputs would mix the two."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "m1").returncode == 0
    (toy / "calls.log").unlink()
    (toy / "data/02/b.parquet/m1/b.parquet").unlink()
    rerun = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "m1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert sorted(calls(toy)) == ["b", "c"]  # not a (upstream), not d (beside b)
    assert "why: toy.StepB upstream runs again (its outputs were gone), so what was made from it is made again too" in rerun.stderr
    assert rerun.stderr.strip().endswith("luigi-tasks: run m1 is complete.")
    (toy / "calls.log").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "m1").returncode == 0
    assert calls(toy) == []  # complete again: nothing more runs


def test_runs_list_and_show_judge_a_run_by_the_pipelines_nodes_it_could_make(toy: Path, tmp_path: Path) -> None:
    """A node taken out of the pipeline's parts (still defined) is not counted; nor, for an
    older run, a node added since (its output was not in that run's catalog)."""
    env = {"PYTHONPATH": str(TOY_DIR)}
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "old").returncode == 0
    without_d = _edited_toy(tmp_path, "parts = (C, D)", "parts = (C,)")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "nod", module_dir=without_d).returncode == 0
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env={"PYTHONPATH": str(without_d)})
    assert [line.split()[-1] for line in listed.stdout.splitlines()[1:]] == ["complete", "complete"], listed.stdout
    shown = run_cli(toy, "runs", "show", "nod", "--module", "toy_pipeline", env={"PYTHONPATH": str(without_d)})
    assert shown.returncode == 0 and "toy.StepD" not in shown.stdout and "toy.StepC" in shown.stdout

    grown = grow_toy(toy, tmp_path / "grown")
    listed = run_cli(toy, "runs", "list", "--module", "toy_pipeline", env={"PYTHONPATH": str(grown)})
    assert listed.returncode == 0, listed.stderr
    states = {line.split()[0]: " ".join(line.split()[3:]) for line in listed.stdout.splitlines()[1:]}
    assert states == {"old": "complete", "nod": "unfinished: 3 of 4 nodes done"}, listed.stdout
    assert run_cli(toy, "runs", "list", "--module", "toy_pipeline", env=env).returncode == 0


def test_invalidate_refuses_when_the_parameters_now_differ_from_the_runs(project: Path) -> None:
    """The rerun it prints would be refused (other parameters), leaving the run with its outputs
    set aside: refused before anything moves."""
    assert run_luigi(project, "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler", "--run-id", "p1").returncode == 0
    (project / "config/local/parameters.yml").write_text("split:\n  test_size: 0.3\n  random_state: 42\n")
    before = tree_digest(project / "data")
    refused = run_cli(project, "invalidate", "--run-id", "p1", "--from", "train_model")
    assert refused.returncode == 2
    assert "Run 'p1' was started with other parameters, so its nodes cannot run again with these:" in refused.stderr
    assert "split.test_size: 0.2 -> 0.3" in refused.stderr, refused.stderr
    assert "Nothing was invalidated." in refused.stderr and tree_digest(project / "data") == before


def test_a_node_the_reused_run_never_had_is_said_to_be_not_in_it(toy: Path, tmp_path: Path) -> None:
    without_d = _edited_toy(tmp_path, "parts = (C, D)", "parts = (C,)")
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s1", module_dir=without_d).returncode == 0
    reused = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "s2", "--reuse-from", "s1")
    assert reused.returncode == 0, reused.stderr[-2000:]
    assert records(toy, "s2")["toy.StepD"]["reason"] == "not in run s1"
    assert records(toy, "s2")["toy.StepA"]["status"] == "reused"


def test_a_node_whose_upstream_is_made_again_is_not_reused_from_the_earlier_run(toy: Path) -> None:
    """b's version in run r1 is gone, so run r2 (reusing r1) makes b again: c and what else r1
    made from its b must be made from r2's b too. A node that is not deterministic (a
    model's training) makes another b, and r1's c would not be c of r2's b."""
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 0
    (toy / "data/02/b.parquet/r1/b.parquet").unlink()
    (toy / "calls.log").unlink()
    reuse = run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2", "--reuse-from", "r1")
    assert reuse.returncode == 0, reuse.stderr[-2000:]
    assert sorted(calls(toy)) == ["b", "c"]  # a and d (beside b) reused
    made = records(toy, "r2")
    assert {family: rec["status"] for family, rec in made.items()} == {
        "toy.StepA": "reused", "toy.StepB": "done", "toy.StepC": "done", "toy.StepD": "reused"
    }
    assert made["toy.StepC"]["reason"] == (
        "toy.StepB upstream is made in this run, not reused from run r1, so what was made from it in run r1 "
        "is made again too"
    )
    assert (toy / "data/03/c.json/r2/c.json").exists() and made["toy.StepC"]["versions"] == {"c": "r2"}


TWO_OUTPUTS = """
import pandas as pd
from luigi_tasks import PipelineTask, node


def split(raw):
    return raw.head(1), "not a table"


Split = node(split, "raw", ["first", "second"], namespace="two")


class Both(PipelineTask):
    parts = (Split,)
"""


def test_a_node_with_a_wrong_output_saves_none_of_its_outputs(toy: Path) -> None:
    """The second output is of the wrong type: refused before the first one is written, so a
    rerun finds nothing to set aside."""
    (toy / "two.py").write_text(TWO_OUTPUTS)
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("first: {type: pandas.ParquetDataset, filepath: data/04/first.parquet, versioned: true}\n")
        f.write("second: {type: pandas.ParquetDataset, filepath: data/04/second.parquet, versioned: true}\n")
    failed = run_luigi(toy, "--module", "two", "Both", "--local-scheduler", "--run-id", "t1", env={"PYTHONPATH": str(toy)})
    assert failed.returncode == 30, failed.stderr[-2000:]
    assert "Dataset 'second' (ParquetDataset) saves a DataFrame, but was given a builtins.str" in failed.stderr
    assert not (toy / "data/04").exists() or not [p for p in (toy / "data/04").rglob("*") if p.is_file()]


def test_each_fingerprint_is_made_once_however_many_nodes_read_it(in_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's fingerprint combines its upstream nodes': each is worked out once per run (a
    spy counts the real calls), not again for every node below it."""
    from luigi_tasks.graph import current_graph
    from luigi_tasks.pipelines import FullPipeline

    made: list[str] = []
    real = fingerprint._node_fingerprint

    def counted(project, task, run_id, graph):  # type: ignore[no-untyped-def]
        made.append(task.get_task_family())
        return real(project, task, run_id, graph)

    monkeypatch.setattr(fingerprint, "_node_fingerprint", counted)
    fingerprint.forget_fingerprints()
    nodes = current_graph().closure(FullPipeline(run_id="once"))  # prepares the run: every fingerprint
    assert sorted(made) == sorted(task.get_task_family() for task in nodes), made
    for task in reversed(nodes):
        fingerprint.node_fingerprint(task, "once")
    assert len(made) == len(nodes)  # asked again: none made again


def test_a_long_chain_runs_with_several_workers_without_recursion(tmp_path: Path) -> None:
    """With --workers N each node runs in a forked child: a fingerprint made there from its
    whole upstream chain recursed once per node above it (RecursionError past ~500 nodes) and
    cost O(N) per node. They are made in the parent, upstream first, and the children inherit them."""
    from benchmarks import trivial
    from benchmarks.generate import luigi_tasks_project

    n = 700
    project = luigi_tasks_project(tmp_path / "chain", catalog=trivial.catalog("chain", n))
    env = {**trivial.env("chain", n), "PYTHONPATH": str(REPO)}
    done = run_luigi(project, "--module", "benchmarks.nodes_luigi_tasks", "Pipeline", "--local-scheduler",
                     "--run-id", "w1", "--workers", "2", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().endswith("luigi-tasks: run w1 is complete.")
    last = json.loads((project / f"data/many/d{n - 1:04d}.json/w1/d{n - 1:04d}.json").read_text())
    assert last == n - 1  # 0, then +1 per link
    fingerprints = {rec["fingerprint"]["digest"] for rec in records(project, "w1").values()}
    assert len(fingerprints) == n


def test_a_later_root_of_the_same_run_in_one_process_is_prepared_for_what_it_asks(in_project: Path) -> None:
    """A notebook builds DataEngineeringPipeline(run_id="h"), then FullPipeline(run_id="h",
    reuse_from="c"): a fresh process refuses the second (run h was started without reuse);
    one process prepared run h once, for the first root, and silently ignored reuse_from."""
    import luigi

    from luigi_tasks.pipelines import DataEngineeringPipeline, FullPipeline

    assert luigi.build([FullPipeline(run_id="c")], local_scheduler=True, log_level="WARNING")
    assert luigi.build([DataEngineeringPipeline(run_id="h")], local_scheduler=True, log_level="WARNING")
    with pytest.raises(RunError, match=r"^Run 'h' was started without --reuse-from, so it cannot reuse from run c now"):
        FullPipeline(run_id="h", reuse_from="c")
    assert luigi.build([FullPipeline(run_id="h")], local_scheduler=True, log_level="WARNING")  # prepared for DS too
    made = read_node_records(Project.load(in_project), "h")
    assert {family: rec.status for family, rec in made.items()}["data_science.EvaluateModel"] == "done"
