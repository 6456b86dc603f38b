"""The catalog: Kedro's keys, paths against the project root, overlays, clear errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import CSVDataset, JSONDataset, ParquetDataset
from luigi_tasks.errors import CatalogError
from luigi_tasks.project import Project
from tests.conftest import REPO, run_cli, wait_settled
from tests.toy import TOY_DIR


def catalog(tmp_path: Path, text: str) -> DataCatalog:
    return DataCatalog.from_config(yaml.safe_load(text), root=tmp_path, source="cat.yml")


def test_the_example_catalog_builds_typed_versioned_targets(project: Path) -> None:
    cat = Project.load(project).catalog
    houses = cat.dataset("houses", "r1")
    assert isinstance(houses, CSVDataset) and houses.path == str(project / "data/01_raw/house.csv")
    train_x = cat.dataset("train_x", "r1")
    assert isinstance(train_x, ParquetDataset)
    assert train_x.path == str(project / "data/05_model_input/train_x.parquet/r1/train_x.parquet")
    assert isinstance(cat.dataset("metrics", "r9"), JSONDataset)
    assert cat.load("houses").shape == (546, 12)


def test_kedro_spellings_and_anchors_are_accepted(tmp_path: Path) -> None:
    cat = catalog(
        tmp_path,
        """
        _csv: &csv {type: kedro_datasets.pandas.CSVDataSet, load_args: {sep: ";"}}
        a: {<<: *csv, filepath: a.csv}
        b: {type: pandas.ParquetDataset, filepath: /abs/b.pq, versioned: true, metadata: {owner: me}}
        """,
    )
    assert list(cat) == ["a", "b"] and cat.dataset("a").load_args["sep"] == ";"
    assert cat.dataset("b", "r1").path == "/abs/b.pq/r1/b.pq"
    with pytest.raises(CatalogError, match="versioned: give the run id"):
        cat.dataset("b")


def test_user_dataset_class_by_dotted_path(tmp_path: Path) -> None:
    cat = catalog(tmp_path, "m: {type: tests.test_catalog.UpperJSON, filepath: m.json}")
    cat.save("m", {"k": "v"})
    assert cat.load("m") == {"K": "v"}


class UpperJSON(JSONDataset):
    def _load_from(self, src):  # type: ignore[no-untyped-def]
        return {k.upper(): v for k, v in super()._load_from(src).items()}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: {type: pandas.CSVDataset, filepath: x.csv, filpath: y}", r"cat.yml: dataset 'x': unknown key 'filpath' \(did you mean 'filepath'\?\)"),
        ("x: {typ: pandas.CSVDataset, filepath: x.csv}", r"cat.yml: dataset 'x': 'type' is missing or not a string \('typ' is not a key: did you mean 'type'\?\)"),
        ("x: {type: pandas.CSVDataset}", r"dataset 'x': 'filepath' is missing"),
        ("x: {type: pandas.CSVDataset, filepath: x.csv, layer: raw}", r"unknown key 'layer' \(Kedro 0.19 moved it under metadata"),
        ("x: {type: pandas.CSVDatset, filepath: x.csv}", r"unknown type 'pandas.CSVDatset'. Close matches: pandas.CSVDataset"),
        ("x: [1, 2]", r"dataset 'x': the entry must be a mapping"),
        ("x: {type: builtins.dict, filepath: x}", r"not a subclass of luigi_tasks.datasets.AbstractDataset"),
        ("x: {type: text.TextDataset, filepath: x.txt, save_args: {encoding: latin-1}}",
         r"cat.yml: dataset 'x': text.TextDataset takes no save_args: it has no reader or writer options \(as in "
         r"Kedro\); give the file's encoding, errors or newline in fs_args: \{open_args_load"),
    ],
)
def test_bad_entries_name_file_dataset_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        catalog(tmp_path, text)


def test_unknown_dataset_suggests_close_names(tmp_path: Path) -> None:
    cat = catalog(tmp_path, "train_x: {type: pandas.CSVDataset, filepath: x.csv}")
    with pytest.raises(CatalogError, match=re.escape("Dataset 'trian_x' is not in the catalog. Did you mean 'train_x'")):
        cat.dataset("trian_x")


def test_a_versioned_dataset_without_a_run_id_points_at_load_output(tmp_path: Path) -> None:
    cat = catalog(tmp_path, "model: {type: pickle.PickleDataset, filepath: m.pkl, versioned: true}")
    with pytest.raises(CatalogError, match=re.escape("or use luigi_tasks.load_output('model') for the newest run's")):
        cat.load("model")


def test_local_overlay_replaces_entries_and_parameters(project: Path) -> None:
    (project / "config/local/catalog.yml").write_text("houses: {type: pandas.CSVDataset, filepath: elsewhere.csv}\n")
    (project / "config/local/parameters.yml").write_text("split: {test_size: 0.3, random_state: 1}\n")
    loaded = Project.load(project)
    assert loaded.catalog.dataset("houses").path == str(project / "elsewhere.csv")
    assert loaded.parameter("params:split.test_size") == 0.3
    assert loaded.parameter("params:model.estimator").endswith("LinearRegression")


def test_a_file_url_is_a_path_under_the_project_not_the_working_folder(tmp_path: Path) -> None:
    """``file://data/x.csv`` is ``data/x.csv``: from a notebook in a subfolder it must not
    save under that subfolder; ``file:///abs`` is the absolute path."""
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        cat = catalog(tmp_path, f"a: {{type: pandas.CSVDataset, filepath: 'file://data/a.csv'}}\n"
                                f"b: {{type: pandas.CSVDataset, filepath: 'file://{tmp_path}/b.csv'}}\n")
        assert cat.dataset("a").path == f"{tmp_path}/data/a.csv" and cat.dataset("b").path == f"{tmp_path}/b.csv"
        cat.save("a", pd.DataFrame({"x": [1]}))
    finally:
        os.chdir(cwd)
    assert (tmp_path / "data/a.csv").is_file() and not (elsewhere / "data").exists()


def test_catalog_save_load_through_run_ids(project: Path) -> None:
    cat = Project.load(project).catalog
    frame = pd.DataFrame({"x": [1.0]})
    cat.save("train_x", frame, run_id="r1")
    assert cat.load("train_x", run_id="r1").equals(frame)
    assert not cat.dataset("train_x", "r2").exists()


def test_each_dataset_version_is_built_once(project: Path) -> None:
    """A node's output object is its downstream nodes' input object (Luigi checks each often)."""
    cat = Project.load(project).catalog
    assert cat.dataset("train_x", "r1") is cat.dataset("train_x", "r1")
    assert cat.dataset("train_x", "r1") is not cat.dataset("train_x", "r2")
    assert cat.dataset("train_x", "r2").path.endswith("/r2/train_x.parquet")
    assert cat.dataset("houses") is cat.dataset("houses", "r1")  # unversioned: one object for every run


# -- the parse cache of committed config files -------------------------------------------------

def _cache_files(project: Path) -> list[Path]:
    return sorted((project / "data" / "09_runs" / ".cache" / "config").glob("*.json"))


@pytest.fixture
def settled_project(project: Path) -> Path:
    """The project once its config files may be cached (a fresh file is not)."""
    wait_settled()
    return project


def test_config_parse_is_cached_and_an_edit_is_seen(settled_project: Path) -> None:
    project = settled_project
    first = Project.load(project)
    assert len(_cache_files(project)) == 2  # catalog.yml and parameters.yml
    assert Project.load(project).parameters == first.parameters
    params = project / "config" / "parameters.yml"
    params.write_text(params.read_text().replace("random_state: 42", "random_state: 43"))
    assert "random_state: 43" in params.read_text()
    assert Project.load(project).parameter("params:split.random_state") == 43  # same size: mtime tells
    catalog_yml = project / "config" / "catalog.yml"
    catalog_yml.write_text(catalog_yml.read_text() + "\nextra:\n  type: json.JSONDataset\n  filepath: x.json\n")
    assert "extra" in Project.load(project).catalog


def test_a_later_command_skips_yaml_and_reads_the_same_config(settled_project: Path) -> None:
    project = settled_project
    probe = (
        "import sys; from pathlib import Path; from luigi_tasks.project import Project; "
        f"p = Project.load(Path({str(project)!r})); "
        "print('yaml' in sys.modules, sorted(p.catalog), p.parameters)"
    )
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert first.stdout.startswith("True ")
    assert second.stdout.startswith("False ")
    assert second.stdout.split(" ", 1)[1] == first.stdout.split(" ", 1)[1]


def test_credentials_overlays_and_what_json_cannot_hold_are_never_cached(settled_project: Path) -> None:
    project = settled_project
    (project / "config" / "local" / "credentials.yml").write_text("db: {password: s3cret-value}\n")
    (project / "config" / "local" / "parameters.yml").write_text("model: {estimator: m.Ridge, init_args: {random_state: 9}}\n")
    params = project / "config" / "parameters.yml"
    params.write_text(params.read_text() + "\ncodes: {1: one}\n")  # an int key: JSON would make it a str
    loaded = Project.load(project)
    assert loaded.parameters["codes"] == {1: "one"}
    assert Project.load(project).parameters["codes"] == {1: "one"}
    assert loaded.parameters["model"] == {"estimator": "m.Ridge", "init_args": {"random_state": 9}}
    cached = "".join(f.read_text() for f in _cache_files(project))
    assert len(_cache_files(project)) == 1  # the catalog only
    assert "s3cret-value" not in cached and "random_state" not in cached


def test_a_corrupt_cache_file_is_ignored_and_replaced(settled_project: Path) -> None:
    project = settled_project
    expected = Project.load(project).parameters
    for f in _cache_files(project):
        f.write_text("{not json")
    assert Project.load(project).parameters == expected
    assert all(json.loads(f.read_text())["value"] for f in _cache_files(project))


def test_a_config_file_changed_within_the_last_second_is_not_cached(settled_project: Path) -> None:
    project = settled_project
    params = project / "config" / "parameters.yml"
    params.write_text(params.read_text().replace("random_state: 42", "random_state: 43"))
    assert Project.load(project).parameter("params:split.random_state") == 43
    # A same-size edit right after: its mtime may equal the first's (file times are coarse).
    params.write_text(params.read_text().replace("random_state: 43", "random_state: 44"))
    assert Project.load(project).parameter("params:split.random_state") == 44
    assert len(_cache_files(project)) == 1  # the catalog, unchanged since the copy; not parameters.yml
    wait_settled()
    assert Project.load(project).parameter("params:split.random_state") == 44
    assert len(_cache_files(project)) == 2


# -- `luigi-tasks catalog list` -----------------------------------------------------------------

COLUMNS = ["dataset", "type", "versioned", "filepath", "made by", "read by"]


def _listed(stdout: str) -> dict[str, list[str]]:
    header, *lines = stdout.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == COLUMNS
    table = [re.split(r"\s{2,}", line.strip()) for line in lines if line.strip() and not line.startswith("Declared")]
    return {cells[0]: cells[1:] for cells in table}


def test_catalog_list_shows_each_dataset_and_the_nodes_that_make_and_read_it(project: Path) -> None:
    done = run_cli(project, "catalog", "list")
    assert done.returncode == 0, done.stderr
    rows = _listed(done.stdout)
    assert list(rows) == list(Project.load(project).catalog)  # every dataset, in catalog order
    assert rows["houses"] == ["pandas.CSVDataset", "-", "data/01_raw/house.csv", "(raw)", "data_engineering.PreprocessHouses"]
    assert rows["model"] == [
        "pickle.PickleDataset", "yes", "data/06_models/model.pkl", "data_science.TrainModel", "data_science.Predict"
    ]
    assert rows["metrics"][-2:] == ["data_science.EvaluateModel", "-"]  # the pipeline's end: nobody reads it
    assert "used by no node" not in done.stdout


def test_catalog_list_names_datasets_read_by_several_nodes_or_by_none(toy: Path) -> None:
    with open(toy / "config" / "catalog.yml", "a", encoding="utf-8") as f:
        f.write("old_features: {type: tests.crash_support.ChattyCSVDataset, filepath: data/04/old.csv}\n")
    done = run_cli(toy, "catalog", "list", "--module", "toy_pipeline", env={"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])})
    assert done.returncode == 0, done.stderr
    rows = _listed(done.stdout)
    assert rows["a"] == ["pandas.ParquetDataset", "yes", "data/02/a.parquet", "toy.StepA", "toy.StepB, toy.StepD"]
    assert rows["old_features"] == ["tests.crash_support.ChattyCSVDataset", "-", "data/04/old.csv", "-", "-"]
    assert done.stdout.strip().splitlines()[-1] == "Declared in the catalog, used by no node: old_features."


def test_a_command_from_a_subfolder_finds_the_module_in_the_projects_luigi_cfg(toy: Path) -> None:
    """``[core] module`` in the project's luigi.cfg (the README's own-project recipe) holds
    from a subfolder too: Luigi reads ./luigi.cfg, so the project's must be read first."""
    cfg = toy / "luigi.cfg"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[core]\n", "[core]\nmodule = toy_pipeline\n", 1))
    (toy / "notebooks").mkdir()
    done = run_cli(toy / "notebooks", "catalog", "list", env={"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])})
    assert done.returncode == 0, done.stderr
    assert _listed(done.stdout)["a"][-2:] == ["toy.StepA", "toy.StepB, toy.StepD"]


def test_catalog_list_with_a_module_that_does_not_exist_says_so(project: Path) -> None:
    wrong = run_cli(project, "catalog", "list", "--module", "my_pipelines")
    assert wrong.returncode == 2
    assert "luigi-tasks: error: No module named 'my_pipelines' (from --module" in wrong.stderr
    assert "Traceback" not in wrong.stderr
