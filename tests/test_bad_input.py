"""Issue 5, bad input: each case gets a clear error and a non-zero exit, and loses nothing.

Every case runs the real ``luigi --module luigi_tasks.pipelines ...`` command in a copy of
the example project where run ``r0`` is complete, and checks that:

- the exit code is not 0;
- the message (file, dataset or node, what is wrong, what to do) is on the last lines of
  the output, not above or inside a traceback;
- every file saved before is unchanged and no temporary file is left.

Where the natural level is the API (a dataset, the catalog), the case is tested there too.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import CSVDataset, ParquetDataset, PickleDataset
from luigi_tasks.errors import CatalogError, DatasetError
from tests.crash_support import (
    BASE_RUN,
    assert_refused,
    assert_unchanged,
    done_project,
    free_port,
    luigi,
    outputs_of,
    saved_files,
    write_module,
)

FULL = ("FullPipeline", "--local-scheduler")


@pytest.fixture(scope="session")
def template_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("done-template")


@pytest.fixture
def proj(tmp_path: Path, template_root: Path) -> Path:
    """The example project with run r0 complete."""
    return done_project(tmp_path / "project", template_root)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# 1 -------------------------------------------------------------------------------------


def test_01_catalog_that_is_not_yaml_names_file_and_line(proj: Path) -> None:
    before = saved_files(proj)
    catalog = proj / "config/catalog.yml"
    line = catalog.read_text(encoding="utf-8").splitlines().index("  filepath: data/06_models/model.pkl") + 1
    edit(catalog, "  filepath: data/06_models/model.pkl", "\tfilepath: data/06_models/model.pkl")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, f"config/catalog.yml: not valid YAML at line {line}, column 1", "Fix the file")
    assert_unchanged(before, proj)


def test_01_entry_that_is_not_a_mapping(proj: Path) -> None:
    before = saved_files(proj)
    with open(proj / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("\nextra: data/extra.csv\n")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, "catalog.yml: dataset 'extra': the entry must be a mapping with at least 'type' and 'filepath'")
    assert_unchanged(before, proj)


# 2 -------------------------------------------------------------------------------------


def test_02_unknown_type_lists_close_known_types(proj: Path) -> None:
    before = saved_files(proj)
    edit(proj / "config/catalog.yml", "type: pickle.PickleDataset", "type: pickle.PikleDataset")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, "dataset 'model': unknown type 'pickle.PikleDataset'. Close matches: pickle.PickleDataset")
    assert_unchanged(before, proj)


# 3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  filepath: data/06_models/model.pkl\n", "", "dataset 'model': 'filepath' is missing"),
        ("  versioned: true\n\npredictions:", "  versoined: true\n\npredictions:", "dataset 'model': unknown key 'versoined' (did you mean 'versioned'?)"),
    ],
    ids=["missing-filepath", "unknown-key"],
)
def test_03_missing_filepath_or_unknown_key(proj: Path, old: str, new: str, message: str) -> None:
    before = saved_files(proj)
    edit(proj / "config/catalog.yml", old, new)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, "config/catalog.yml", message)
    assert_unchanged(before, proj)


# 4 -------------------------------------------------------------------------------------


def test_04_missing_raw_file_is_named_with_luigis_summary(proj: Path) -> None:
    before = saved_files(proj)
    raw = proj / "data/01_raw/house.csv"
    raw.unlink()
    del before["01_raw/house.csv"]
    result = luigi(proj, *FULL, "--run-id", "r1")
    end = assert_refused(result, f"raw dataset 'houses' is missing: expected at {raw}", "Put the file there", "resume with:")
    assert result.returncode == 20  # luigi.cfg [retcode] missing_data
    assert "were missing external dependencies" in result.stderr and "RawData(dataset=houses" in result.stderr, end
    assert_unchanged(before, proj)


def test_04_a_raw_filepath_from_the_local_overlay_is_blamed_on_the_overlay(proj: Path) -> None:
    before = saved_files(proj)
    overlay = proj / "config/local/catalog.yml"
    overlay.write_text("houses: {type: pandas.CSVDataset, filepath: data/01_raw/hose.csv}\n", encoding="utf-8")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, f"raw dataset 'houses' is missing: expected at {proj / 'data/01_raw/hose.csv'}",
        f"Put the file there, or fix its filepath in {overlay}.",
    )
    assert result.returncode == 20
    assert_unchanged(before, proj)


def test_04_a_versioned_input_no_node_makes_says_where_it_is_looked_for(proj: Path) -> None:
    """Kedro loads a versioned raw input's newest version; here each run reads its own."""
    before = saved_files(proj)
    overlay = proj / "config/local/catalog.yml"
    overlay.write_text("houses: {type: pandas.CSVDataset, filepath: data/01_raw/house.csv, versioned: true}\n",
                       encoding="utf-8")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, f"raw dataset 'houses' is missing: expected at {proj / 'data/01_raw/house.csv/r1/house.csv'}. It is "
        "versioned, so each run reads its own version, which no node of this module makes: run the module that "
        f"makes it with this --run-id first, or, for a raw input, remove 'versioned: true' in {overlay}.",
    )
    assert result.returncode == 20
    assert_unchanged(before, proj)


# 5 -------------------------------------------------------------------------------------

SCHEMA_OVERLAY = """\
houses:
  type: pandas.CSVDataset
  filepath: data/01_raw/house.csv
  schema: {price: number, lotsize: int, bedrooms: int, airco: str}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop-airco", "column(s) 'airco' required by the catalog schema are missing"),
        ("text-price", "column 'price' should be number (catalog schema), but it is"),
    ],
)
def test_05_raw_csv_against_a_schema(proj: Path, change: str, message: str) -> None:
    (proj / "config/local/catalog.yml").write_text(SCHEMA_OVERLAY, encoding="utf-8")
    raw = proj / "data/01_raw/house.csv"
    frame = pd.read_csv(raw)
    if change == "drop-airco":
        frame = frame.drop(columns=["airco"])
    else:
        frame["price"] = frame["price"].astype(object)
        frame.loc[3, "price"] = "42k"
    frame.to_csv(raw, index=False)
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    end = assert_refused(
        result, "data_engineering.PreprocessHouses failed", "Dataset 'houses' (CSVDataset)", str(raw), message,
        f"schema of 'houses' in {proj / 'config/local/catalog.yml'}.", "resume with:",  # the overlay declares it
    )
    if change == "text-price":
        assert "e.g. '42k' at index 3" in end
    assert_unchanged(before, proj)


def test_05_the_same_schema_passes_the_real_file_and_checks_saves(tmp_path: Path) -> None:
    catalog = DataCatalog.from_config(
        {"houses": {"type": "pandas.CSVDataset", "filepath": "h.csv", "schema": {"price": "number", "airco": "str"}}},
        root=tmp_path,
    )
    good = pd.DataFrame({"price": [1.5, 2.0], "airco": ["yes", "no"]})
    catalog.save("houses", good)
    assert catalog.load("houses").equals(good)
    with pytest.raises(DatasetError, match=r"Dataset 'houses' \(CSVDataset\), saving to .*h.csv: column 'price' should be number"):
        catalog.save("houses", good.assign(price=["a", "b"]))
    assert catalog.load("houses").equals(good)  # the refused save wrote nothing
    with pytest.raises(CatalogError, match=r"dataset 'x': 'schema' column 'a': unknown dtype 'integr'"):
        DataCatalog.from_config({"x": {"type": "pandas.CSVDataset", "filepath": "x", "schema": {"a": "integr"}}}, root=tmp_path)
    with pytest.raises(CatalogError, match=r"dataset 'm': 'schema' applies only to table datasets"):
        DataCatalog.from_config({"m": {"type": "pickle.PickleDataset", "filepath": "m", "schema": {"a": "int"}}}, root=tmp_path)


# 6 -------------------------------------------------------------------------------------


def _copy_run_outputs(proj: Path, names: list[str], run_id: str) -> dict[str, Path]:
    """Give ``run_id`` copies of run r0's outputs ``names`` (as if its first nodes ran)."""
    catalog = DataCatalog.from_project(proj)
    paths = {}
    for name in names:
        src, dst = Path(catalog.dataset(name, BASE_RUN).path), Path(catalog.dataset(name, run_id).path)
        dst.parent.mkdir(parents=True)
        dst.write_bytes(src.read_bytes())
        paths[name] = dst
    return paths


@pytest.mark.parametrize(
    ("dataset", "node"),
    [("train_x", "data_science.TrainModel"), ("model", "data_science.Predict")],
    ids=["parquet", "pickle"],
)
def test_06_corrupt_or_truncated_parquet_or_pickle(proj: Path, dataset: str, node: str) -> None:
    upstream = ["preprocessed_houses", "train_x", "test_x", "train_y", "test_y"]
    paths = _copy_run_outputs(proj, upstream + (["model"] if dataset == "model" else []), "r1")
    data = paths[dataset].read_bytes()
    paths[dataset].write_bytes(data[: len(data) // 2])  # truncated, as by a copy cut short
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, f"{node} failed: DatasetError: Dataset '{dataset}'", f"could not be loaded from {paths[dataset]}",
        "corrupt or truncated", "resume with:",
    )
    assert_unchanged(before, proj)


@pytest.mark.parametrize(
    ("cls", "payload"),
    [(ParquetDataset, b"PAR1\x00\x00garbage"), (PickleDataset, pickle.dumps({"a": list(range(100))})[:20]), (CSVDataset, b"a,b\n1,2,3,4\n\x00\xff")],
    ids=["parquet", "pickle", "csv"],
)
def test_06_api_corrupt_files_give_dataset_error(tmp_path: Path, cls: type, payload: bytes) -> None:
    path = tmp_path / "f"
    path.write_bytes(payload)
    with pytest.raises(DatasetError, match=rf"Dataset 'thing' \({cls.__name__}\) could not be loaded from {path}"):
        cls(str(path), name="thing").load()


# 7 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["../x", "a/b", "", "x" * 200, "/tmp/abs"], ids=["dotdot", "slash", "empty", "200-chars", "absolute"])
def test_07_run_id_that_is_not_a_name(proj: Path, run_id: str) -> None:
    before = saved_files(proj)
    around = sorted(p.name for p in proj.parent.iterdir())
    result = luigi(proj, *FULL, "--run-id", run_id)
    assert_refused(result, "Invalid run id", "a run id is a name, not a path", "--run-id")
    assert result.returncode == 40  # refused while the task is built, before any task runs
    assert_unchanged(before, proj)
    assert saved_files(proj).keys() == before.keys()
    assert sorted(p.name for p in proj.parent.iterdir()) == around


# 8 -------------------------------------------------------------------------------------


def test_08_missing_parameter_names_node_and_file(proj: Path) -> None:
    before = saved_files(proj)
    edit(proj / "config/parameters.yml", "split:", "splt:")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, "Node data_engineering.SplitData: Parameter 'split' is not in config/parameters.yml", "Add it there")
    assert_unchanged(before, proj)


def test_08_parameter_of_the_wrong_type_names_node_and_parameter(proj: Path) -> None:
    before = saved_files(proj)
    edit(proj / "config/parameters.yml", "test_size: 0.2", "test_size: twenty percent")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(result, "data_engineering.SplitData failed", "test_size", "resume with:")
    assert_unchanged(before, proj)


# 9 and 10: nodes of a user's module ---------------------------------------------------------

NODES_HEADER = """\
import pandas as pd
from luigi_tasks import PipelineTask, node
"""
BAD_NODES = {
    "wrong-count": (
        (
            "def halve(houses):\n    return houses\n"
            "Halve = node(halve, 'houses', ['train_x', 'test_x'], namespace='bad')\n"
        ),
        "bad.Halve",
        ["Node bad.Halve (halve) declares 2 outputs (train_x, test_x), but returned one DataFrame", "Return a tuple of 2 values"],
    ),
    "unsaveable-type": (
        (
            "def summarise(houses):\n    return {'rows': len(houses)}\n"
            "Summarise = node(summarise, 'houses', 'train_x', namespace='bad')\n"
        ),
        "bad.Summarise",
        ["bad.Summarise failed", "Dataset 'train_x' (ParquetDataset) saves a DataFrame, but was given a builtins.dict"],
    ),
    "two-producers": (
        (
            "def a(houses):\n    return houses\n"
            "def b(houses):\n    return houses\n"
            "A = node(a, 'houses', 'train_x', namespace='bad')\nB = node(b, 'houses', 'train_x', namespace='bad')\n"
        ),
        "bad.B",
        ["Dataset 'train_x' is produced by two nodes: bad.A and bad.B", "rename the output of one of them"],
    ),
    "cycle": (
        (
            "def a(train_x):\n    return train_x\n"
            "def b(test_x):\n    return test_x\n"
            "A = node(a, 'train_x', 'test_x', namespace='bad')\nB = node(b, 'test_x', 'train_x', namespace='bad')\n"
        ),
        "bad.B",
        ["The nodes form a cycle:", "bad.A", "bad.B", "Each produces a dataset the next one consumes", "break the cycle"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_NODES))
def test_09_10_bad_nodes_are_named(proj: Path, case: str) -> None:
    body, task, needles = BAD_NODES[case]
    write_module(proj, "bad_nodes", NODES_HEADER + body)
    before = saved_files(proj)
    result = luigi(
        proj, "--module", "bad_nodes", task, "--local-scheduler", "--run-id", "r1",
        env={"PYTHONPATH": f"{proj}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert_refused(result, *needles)
    assert_unchanged(before, proj)
    assert not any("r1" in k and "09_runs" not in k for k in saved_files(proj))


def test_a_command_run_in_another_projects_folder_says_whose_nodes_they_are(proj: Path, tmp_path: Path) -> None:
    other = tmp_path / "churn"
    (other / "config").mkdir(parents=True)
    (other / "config" / "catalog.yml").write_text("scores: {type: pandas.CSVDataset, filepath: data/scores.csv}\n")
    write_module(other, "churn_nodes", NODES_HEADER + (
        "def score(houses):\n    return houses\nScore = node(score, 'houses', 'scores', namespace='churn')\n"
    ))
    before = saved_files(proj)
    result = luigi(proj, "--module", "churn_nodes", "churn.Score", "--local-scheduler", "--run-id", "r1",
                   env={"PYTHONPATH": str(other)})
    assert_refused(
        result, f"Node churn.Score outputs 'scores', which is not in the catalog. Declare it in {proj}/config/catalog.yml",
        f"(The node's code is in the project at {other}, and this command read the project at {proj}, found from the "
        "working folder: run it in the node's own project folder.)",
    )
    assert_unchanged(before, proj)


# 11 ------------------------------------------------------------------------------------


def test_11_no_central_scheduler_says_how_to_start_it(proj: Path) -> None:
    before = saved_files(proj)
    port = free_port()
    result = luigi(proj, "FullPipeline", "--scheduler-url", f"http://127.0.0.1:{port}", "--run-id", "r1")
    assert_refused(
        result, "the central scheduler does not answer", f"Start it with: luigi-tasks scheduler start --port {port} ;", "--local-scheduler"
    )
    # The closing lines explain it: no framework traceback (urllib, tenacity) on the console, and
    # no "NoneType: None" from Luigi's retries; the traceback stays in the log file.
    assert "Traceback" not in result.stderr and "NoneType: None" not in result.stderr, result.stderr[-3000:]
    log = (proj / "logs/luigi-tasks.log").read_text(encoding="utf-8")
    # luigi.cfg's rpc-retry-attempts = 2: it gives up after two tries, not Luigi's default minutes of them.
    assert "luigi.rpc.RPCError: Errors (2 attempts)" in log and "NoneType: None" not in log, log[-3000:]
    assert_unchanged(before, proj)


def test_11_an_exception_in_a_nodes_own_code_keeps_its_traceback_on_the_console(proj: Path) -> None:
    """The README's promise: a user's own error is shown with the traceback that points at it."""
    (proj / "config/local/parameters.yml").write_text(
        "model: {estimator: sklearn.linear_model.LinearRegression, init_args: {fit_intercep: false}}\n", encoding="utf-8"
    )
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, "data_science.TrainModel failed: TypeError: LinearRegression.__init__() got an unexpected keyword "
        "argument 'fit_intercep'", "resume with:",
    )
    assert re.search(r'File ".*data_science\.py", line \d+, in make_estimator\n', result.stderr), result.stderr[-3000:]
    assert_unchanged(before, proj)


# 12 ------------------------------------------------------------------------------------


def test_12_full_disk_mid_write_keeps_earlier_versions_and_leaves_no_partial_file(proj: Path) -> None:
    """A real mid-write failure: RLIMIT_FSIZE makes writes past 10 kB fail with EFBIG,
    and preprocessed_houses (about 12 kB) is written past it; the raw file is only read."""
    before = saved_files(proj)
    for log in (proj / "logs").glob("*"):
        log.unlink()  # the log file is written too; start it empty
    result = luigi(proj, *FULL, "--run-id", "r1", fsize_limit=10_000)
    assert_refused(
        result, "data_engineering.PreprocessHouses failed: DatasetError: Dataset 'preprocessed_houses'",
        "could not be saved to", "File too large", "Nothing was written there", "resume with:",
    )
    assert_unchanged(before, proj)
    assert not (proj / "data/03_primary/preprocessed_houses.parquet/r1/preprocessed_houses.parquet").exists()
    again = luigi(proj, *FULL, "--run-id", "r1")  # the disk has room again: the resume completes
    assert again.returncode == 0, again.stderr[-2000:]
    assert_unchanged(before, proj)


@pytest.mark.parametrize("how", ["read-only-folder", "file-in-the-way"])
def test_12_unwritable_output_folder(proj: Path, how: str) -> None:
    blocked = proj / "blocked"
    if how == "read-only-folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; see file-in-the-way")
        blocked.mkdir()
        blocked.chmod(0o555)
    else:
        blocked.write_text("a file where the output folder should be\n", encoding="utf-8")
    (proj / "config/local/catalog.yml").write_text(
        "model: {type: pickle.PickleDataset, filepath: blocked/models/model.pkl, versioned: true}\n", encoding="utf-8"
    )
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, "data_science.TrainModel failed: DatasetError: Dataset 'model' (PickleDataset) could not be saved to",
        str(blocked / "models/model.pkl/r1/model.pkl"), "permissions", "resume with:",
    )
    assert_unchanged(before, proj)
    assert set(outputs_of(proj, "r1")) == {"preprocessed_houses", "train_x", "test_x", "train_y", "test_y"}


# 13 ------------------------------------------------------------------------------------


def test_13_local_overlay_naming_an_unknown_dataset_is_refused(proj: Path) -> None:
    before = saved_files(proj)
    (proj / "config/local/catalog.yml").write_text(
        "train_X: {type: pandas.ParquetDataset, filepath: data/x.parquet, versioned: true}\n", encoding="utf-8"
    )
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, "config/local/catalog.yml: overrides dataset(s) 'train_X'", "does not declare",
        "An overlay may only change existing datasets",
    )
    assert_unchanged(before, proj)


def test_13_parameters_overlay_with_a_nested_typo_is_refused(proj: Path) -> None:
    """The overlay replaces the whole ``split`` entry: without the check, SplitData would fail
    with a bare ``KeyError: 'test_size'``."""
    before = saved_files(proj)
    (proj / "config/local/parameters.yml").write_text("split: {test_siz: 0.3, random_state: 42}\n", encoding="utf-8")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, "config/local/parameters.yml: sets parameter(s) 'split.test_siz' (did you mean 'split.test_size'?) "
        f"that {proj}/config/parameters.yml does not declare",
    )
    assert result.returncode == 40  # before any task runs
    assert_unchanged(before, proj)
    assert not (proj / "data/09_runs/r1").exists()


def test_13_env_without_its_folder_is_refused(proj: Path) -> None:
    before = saved_files(proj)
    edit(proj / "luigi.cfg", "env = local", "env = staging")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, f"luigi.cfg [luigi_tasks] env = staging: there is no {proj}/config/staging/ folder",
        f"Env folders in {proj}/config: local. Create config/staging/, or set env to one of those.",
    )
    assert result.returncode == 40
    assert_unchanged(before, proj)
    assert not (proj / "data/09_runs/r1").exists()


# 14 ------------------------------------------------------------------------------------


def test_14_unknown_task_name_exits_non_zero_with_luigis_suggestion(proj: Path) -> None:
    before = saved_files(proj)
    result = luigi(proj, "FullPipelin", "--local-scheduler", "--run-id", "r1")
    end = "\n".join(result.stderr.strip().splitlines()[-2:])
    assert result.returncode == 1, result.stderr[-2000:]  # Luigi's own exit for an unknown task
    assert "No task FullPipelin. Did you mean:\nFullPipeline" in end, result.stderr[-2000:]
    assert_unchanged(before, proj)


def test_14_unknown_task_name_is_not_under_a_traceback(proj: Path) -> None:
    result = luigi(proj, "FullPipelin", "--local-scheduler", "--run-id", "r1")
    assert_refused(result, "ERROR: No task FullPipelin. Did you mean:\nFullPipeline", lines=2)
    assert "Traceback" not in result.stderr


# 15 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "what"),
    [("price,lotsize,bedrooms\n", "has 3 column(s) but no rows"), ("", "is an empty file (not even a header)")],
    ids=["header-only", "zero-bytes"],
)
def test_15_empty_raw_input(proj: Path, content: str, what: str) -> None:
    raw = proj / "data/01_raw/house.csv"
    raw.write_text(content, encoding="utf-8")
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, "data_engineering.PreprocessHouses failed: DatasetError: Dataset 'houses' (CSVDataset)", str(raw), what,
        "set 'allow_empty: true' on 'houses'", "resume with:",
    )
    assert_unchanged(before, proj)


def test_15_allow_empty_lets_an_empty_table_through(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("a,b\n", encoding="utf-8")
    catalog = DataCatalog.from_config(
        {
            "strict": {"type": "pandas.CSVDataset", "filepath": "e.csv"},
            "lenient": {"type": "pandas.CSVDataset", "filepath": "e.csv", "allow_empty": True},
        },
        root=tmp_path,
    )
    assert list(catalog.load("lenient").columns) == ["a", "b"]
    with pytest.raises(DatasetError, match="no rows"):
        catalog.load("strict")


# 16 ------------------------------------------------------------------------------------
def test_16_broken_logging_config_is_named_and_the_run_not_called_unfinished(proj: Path) -> None:
    """Luigi reads config/logging.ini before it checks any task; its error (file and line)
    stays visible, and the closing line does not blame other workers."""
    edit(proj / "config" / "logging.ini", "[handler_console]", "[handler_console]\n[handler_console]")
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert result.returncode == 40, result.stderr
    assert "config/logging.ini" in result.stderr and "handler_console" in result.stderr
    assert "run r1 did not start here: Luigi stopped before checking any task" in result.stderr
    assert "nothing failed in this process" not in result.stderr
    assert_unchanged(before, proj)


# 17 ------------------------------------------------------------------------------------


def test_17_an_output_made_unversioned_over_its_versions_is_refused_before_anything_runs(proj: Path) -> None:
    """Its filepath is now the folder of r0's version: Luigi would take it for the output
    (it exists), skip TrainModel, and Predict would fail on a folder."""
    overlay = proj / "config/local/catalog.yml"
    overlay.write_text("model: {type: pickle.PickleDataset, filepath: data/06_models/model.pkl}\n", encoding="utf-8")
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    folder = proj / "data/06_models/model.pkl"
    assert_refused(
        result, f"Dataset 'model' (PickleDataset) is not versioned, but its filepath {folder} is a folder",
        f"{folder}/<run_id>/model.pkl, for runs {BASE_RUN}", f"Add 'versioned: true' back in {overlay}, or give it another filepath.",
        lines=1,
    )
    assert result.returncode == 40
    assert "Traceback" not in result.stderr
    assert_unchanged(before, proj)
    assert saved_files(proj).keys() == before.keys()  # no node ran, no run r1 was recorded
    overlay.write_text("model: {type: pickle.PickleDataset, filepath: data/06_models/shared_model.pkl}\n", encoding="utf-8")
    fixed = luigi(proj, *FULL, "--run-id", "r1")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert (proj / "data/06_models/shared_model.pkl").is_file()


def test_17_an_output_made_versioned_over_its_unversioned_file_is_refused_before_anything_runs(proj: Path) -> None:
    """The other way round: versions need <filepath>/ to be a folder, and it is the file saved
    while the dataset was not versioned. Refused before TrainModel runs, not at its save
    (one stat per versioned local output and process); the file is left as it was."""
    overlay = proj / "config/local/catalog.yml"
    overlay.write_text("model: {type: pickle.PickleDataset, filepath: data/06_models/flat.pkl}\n", encoding="utf-8")
    assert luigi(proj, *FULL, "--run-id", "f1").returncode == 0
    overlay.write_text(
        "model: {type: pickle.PickleDataset, filepath: data/06_models/flat.pkl, versioned: true}\n", encoding="utf-8"
    )
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "f2")
    flat = proj / "data/06_models/flat.pkl"
    assert_refused(
        result, f"Dataset 'model' (PickleDataset) is versioned, but its filepath {flat} is a file",
        f"Give the dataset another filepath in {overlay} (moving that file away would take it", lines=1,
    )
    assert result.returncode == 40 and "Traceback" not in result.stderr
    assert_unchanged(before, proj)
    assert saved_files(proj).keys() == before.keys()  # no node ran, no run f2 was recorded
    assert flat.is_file()


def test_17_a_raw_input_over_a_folder_of_versions_is_named_not_read(proj: Path) -> None:
    """A dataset no node makes is not checked up front (that would cost a check per raw input
    and per process): the one check of its path that Luigi's completeness check makes tells."""
    raw = proj / "data/01_raw/house.csv"
    table = raw.read_bytes()
    raw.unlink()
    (raw / "old1").mkdir(parents=True)
    (raw / "old1" / "house.csv").write_bytes(table)  # as saved while 'houses' was versioned
    before = saved_files(proj)
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert_refused(
        result, f"Dataset 'houses' (CSVDataset) is not versioned, but its filepath {raw} is a folder",
        f"for runs old1). Add 'versioned: true' back in {proj / 'config/catalog.yml'}", "resume with:",
    )
    assert "Traceback" not in result.stderr
    assert_unchanged(before, proj)


def test_18_a_run_record_that_cannot_be_written_is_named_without_a_traceback(proj: Path) -> None:
    """data/09_runs is not a writable folder (a file in the way stands for permissions or a
    full disk, which root cannot be refused): the run is refused before any node runs."""
    runs_dir = proj / "data" / "09_runs"
    shutil.rmtree(runs_dir)
    runs_dir.write_text("not a folder\n")
    result = luigi(proj, *FULL, "--run-id", "w1")
    assert result.returncode == 40
    assert_refused(
        result, f"Run 'w1' cannot be recorded in {runs_dir}/w1: Not a directory. Make {runs_dir} a folder you can "
        "write to (permissions, free disk); nothing ran."
    )
    assert not list((proj / "data").rglob("w1"))  # no node ran: no version of run w1 anywhere


def test_18_a_node_record_that_cannot_be_written_fails_the_node_and_says_so(proj: Path) -> None:
    """The run's journal folder cannot be made: the node fails (its result is not recorded as
    done) and the closing lines say which node and why, though no record could say it."""
    (proj / "data" / "09_runs" / "w2").mkdir(parents=True)
    (proj / "data" / "09_runs" / "w2" / "journal").write_text("in the way\n")
    result = luigi(proj, *FULL, "--run-id", "w2")
    assert result.returncode == 30, result.stderr[-2000:]
    assert_refused(
        result, "luigi-tasks: run w2 did not complete.",
        "data_engineering.PreprocessHouses failed: RunError: The record of data_engineering.PreprocessHouses in run "
        f"'w2' cannot be written in {proj}/data/09_runs/w2: File exists.",
    )


@pytest.mark.parametrize(
    ("entry", "needles"),
    [
        pytest.param(
            "{type: pandas.ParquetDataset, filepath: 's3://bucket/train_x.parquet', versioned: true}",
            ("Dataset 'train_x' (ParquetDataset): its s3:// filepath needs a package that is not installed "
             "(Install s3fs to access S3): pip install it into this environment.",),
            marks=pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed here"),
            id="s3-without-s3fs",
        ),
        pytest.param(
            "{type: pandas.ParquetDataset, filepath: data/05/train_x.parquet, versioned: true, "
            "save_args: {partition_cols: [bedrooms]}}",
            ("Dataset 'train_x' (ParquetDataset): save_args 'partition_cols' is not supported: it makes a folder",),
            id="partition-cols",
        ),
    ],
)
def test_19_a_dataset_that_cannot_be_made_is_refused_before_anything_runs(
    proj: Path, entry: str, needles: tuple[str, ...]
) -> None:
    """Found when the run is prepared, naming the dataset and its entry's file (exit 40), not
    once the nodes before it have run (exit 35, "could not be scheduled", a traceback)."""
    before = saved_files(proj)
    (proj / "config/local/catalog.yml").write_text(f"train_x: {entry}\n", encoding="utf-8")
    result = luigi(proj, *FULL, "--run-id", "r1")
    assert result.returncode == 40, result.stderr[-3000:]
    assert_refused(result, *needles, f"Declared in {proj}/config/local/catalog.yml.")
    assert_unchanged(before, proj)
