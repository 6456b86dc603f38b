"""Each dataset type: round trip, exists(), versions never overwritten, atomic saves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import AbstractDataset, CSVDataset, JSONDataset, ParquetDataset, PickleDataset, TextDataset
from luigi_tasks.datasets.atomic import HOST, TEMP_MARKER
from luigi_tasks.datasets.base import Source
from luigi_tasks.errors import CatalogError, DatasetError, VersionExistsError

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})
CASES: list[tuple[type[AbstractDataset], str, Any]] = [
    (CSVDataset, "t.csv", FRAME),
    (ParquetDataset, "t.parquet", FRAME),
    (PickleDataset, "t.pkl", {"model": LinearRegression(), "n": 3}),
    (JSONDataset, "t.json", {"r2": 0.61, "names": ["a", "b"]}),
    (TextDataset, "t.txt", "line one\nligne deux: été\n"),
]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    if isinstance(a, dict) and "model" in a:
        return type(a["model"]) is type(b["model"]) and a["n"] == b["n"]
    return a == b


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(("cls", "name", "data"), CASES, ids=[c[0].__name__ for c in CASES])
def test_round_trip_and_exists_unversioned(tmp_path: Path, cls: type[AbstractDataset], name: str, data: Any) -> None:
    ds = cls(str(tmp_path / name))
    assert not ds.exists()
    ds.save(data)
    assert ds.exists() and ds.path == str(tmp_path / name)
    assert same(data, ds.load())
    ds.save(data)  # an unversioned dataset may be replaced (atomically)
    assert files(tmp_path) == [name]


@pytest.mark.parametrize(("cls", "name", "data"), CASES, ids=[c[0].__name__ for c in CASES])
def test_versions_live_under_the_run_id_and_are_never_overwritten(
    tmp_path: Path, cls: type[AbstractDataset], name: str, data: Any
) -> None:
    v1 = cls(str(tmp_path / name), version="r1")
    v1.save(data)
    assert Path(v1.path) == tmp_path / name / "r1" / name
    before = Path(v1.path).read_bytes()
    with pytest.raises(VersionExistsError, match=r"version 'r1' exists already.*new --run-id"):
        cls(str(tmp_path / name), version="r1").save(data)
    assert Path(v1.path).read_bytes() == before
    v2 = cls(str(tmp_path / name), version="r2")
    assert not v2.exists()
    v2.save(data)
    assert same(data, v2.load()) and files(tmp_path) == [f"{name}/r1/{name}", f"{name}/r2/{name}"]


class HalfWritten(ParquetDataset):
    """Writes some bytes, then fails, as a full disk or a crash would."""

    def _save_to(self, data: pd.DataFrame, dst: Source) -> None:
        with open(dst, "wb") as f:  # type: ignore[arg-type]
            f.write(b"PAR1 partial")
        raise OSError(28, "No space left on device")


def test_a_save_that_fails_half_way_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    versioned = HalfWritten(str(tmp_path / "x.parquet"), version="r1")
    with pytest.raises(DatasetError, match="No space left on device"):
        versioned.save(FRAME)
    assert not versioned.exists() and files(tmp_path) == []

    ParquetDataset(str(tmp_path / "y.parquet")).save(FRAME)
    before = (tmp_path / "y.parquet").read_bytes()
    with pytest.raises(DatasetError):
        HalfWritten(str(tmp_path / "y.parquet")).save(FRAME.head(1))
    assert (tmp_path / "y.parquet").read_bytes() == before and files(tmp_path) == ["y.parquet"]


@pytest.mark.parametrize(
    ("cls", "bad"),
    [(ParquetDataset, {"not": "a frame"}), (CSVDataset, [1, 2]), (JSONDataset, {"x": object()}), (PickleDataset, lambda: 1)],
    ids=["parquet", "csv", "json", "pickle"],
)
def test_a_type_the_dataset_cannot_save_is_refused_by_name(tmp_path: Path, cls: type[AbstractDataset], bad: Any) -> None:
    ds = cls(str(tmp_path / "out"), version="r1", name="train_x")
    with pytest.raises(DatasetError, match="Dataset 'train_x'"):
        ds.save(bad)
    assert not ds.exists() and files(tmp_path) == []


def test_a_save_removes_temporary_files_only_of_writers_that_are_gone(tmp_path: Path) -> None:
    """What a SIGKILL mid-save leaves is removed by the next save of that file on this host,
    once its writer has exited; a live writer's, another host's and unknown names stay."""
    ds = ParquetDataset(str(tmp_path / "t.parquet"), version="r1")
    folder = Path(ds.path).parent
    folder.mkdir(parents=True)
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, live = int(exited.stdout), os.getppid()
    marker = f".t.parquet{TEMP_MARKER}"
    keep = [f"{marker}{HOST}-{live}-aa", f"{marker}otherhost-{dead}-bb", f"{marker}0123456789ab", f".u.parquet{TEMP_MARKER}{HOST}-{dead}-cc"]
    for name in [f"{marker}{HOST}-{dead}-dd", *keep]:
        (folder / name).write_bytes(b"PAR1 half")
    ds.save(FRAME)
    assert ds.load().equals(FRAME)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*keep, "t.parquet"])


def test_load_of_missing_or_corrupt_data_names_dataset_and_path(tmp_path: Path) -> None:
    ds = ParquetDataset(str(tmp_path / "m.parquet"), name="train_x", version="r1")
    with pytest.raises(DatasetError, match=r"Dataset 'train_x'.*no data at .*m.parquet/r1/m.parquet"):
        ds.load()
    Path(ds.path).parent.mkdir(parents=True)
    Path(ds.path).write_bytes(b"PAR1 truncated")
    with pytest.raises(DatasetError, match=r"could not be loaded from .*corrupt or truncated"):
        ds.load()


def test_set_aside_moves_a_version_without_deleting_it(tmp_path: Path) -> None:
    ds = JSONDataset(str(tmp_path / "m.json"), version="r1")
    ds.save({"r2": 0.1})
    aside = ds.set_aside()
    assert not ds.exists() and os.path.exists(aside) and ".aside-" in aside
    ds.save({"r2": 0.2})
    assert ds.load() == {"r2": 0.2} and JSONDataset(aside).load() == {"r2": 0.1}


def test_remote_paths_go_through_fsspec() -> None:
    ds = ParquetDataset("memory://bucket/frames/t.parquet", version="r1")
    ds.save(FRAME)
    assert ds.path.startswith("memory://") and ds.path.endswith("/bucket/frames/t.parquet/r1/t.parquet")
    assert ds.exists() and ds.load().equals(FRAME)
    with pytest.raises(VersionExistsError):
        ParquetDataset("memory://bucket/frames/t.parquet", version="r1").save(FRAME)
    with pytest.raises(DatasetError, match=r"no data at memory://.*/r2/t\.parquet"):
        ParquetDataset("memory://bucket/frames/t.parquet", version="r2").load()


def test_local_datasets_work_without_importing_fsspec(tmp_path: Path) -> None:
    """fsspec costs every command an import; a project on the local disk never needs it."""
    script = (
        "import sys\n"
        "from luigi_tasks.datasets import JSONDataset\n"
        f"ds = JSONDataset({str(tmp_path / 'm.json')!r}, version='r1')\n"
        "ds.save({'a': 1}); assert ds.exists() and ds.load() == {'a': 1}\n"
        "print('fsspec' in sys.modules)\n"
        "ds.set_aside()  # a move, through fsspec's local filesystem\n"
        "print('fsspec' in sys.modules, ds.exists())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]


@pytest.mark.parametrize("root", ["local", "memory"])
def test_an_unversioned_dataset_over_the_folder_of_its_versions_says_so(tmp_path: Path, root: str) -> None:
    """Its filepath exists (a folder) but holds versions: reading it would fail, or for
    Parquet, silently read every version as one table."""
    path = str(tmp_path / "model.pkl") if root == "local" else f"memory://{tmp_path.name}/model.pkl"
    for run_id in ("r1", "r2"):
        PickleDataset(path, version=run_id).save({"run": run_id})
    unversioned = PickleDataset(path, name="model")
    message = r"Dataset 'model' \(PickleDataset\) is not versioned, but its filepath .*model.pkl is a folder \(versions "
    message += r"saved when it was versioned: .*model.pkl/<run_id>/model.pkl, for runs r1, r2\). Add 'versioned: true' back"
    with pytest.raises(DatasetError, match=message):
        unversioned.check_filepath()
    with pytest.raises(DatasetError, match=message):
        unversioned.load()
    if root == "local":  # exists() asks the local disk once anyway, and that answer tells a folder
        with pytest.raises(DatasetError, match=message):
            unversioned.exists()


@pytest.mark.parametrize("root", ["local", "memory"])
def test_parquet_never_reads_the_folder_of_its_versions_as_one_table(tmp_path: Path, root: str) -> None:
    """pyarrow reads a local folder of Parquet files as one partitioned table: loaded
    directly (a notebook's ``catalog.load``), with no ``exists()`` before, the versions of
    every run would come back as one frame."""
    path = str(tmp_path / "t.parquet") if root == "local" else f"memory://{tmp_path.name}/t.parquet"
    for run_id in ("r1", "r2"):
        ParquetDataset(path, version=run_id).save(pd.DataFrame({"run": [run_id]}))
    with pytest.raises(DatasetError, match=r"'t' \(ParquetDataset\) is not versioned, but .* for runs r1, r2\)"):
        ParquetDataset(path, name="t").load()


@pytest.mark.parametrize("root", ["local", "memory"])
def test_a_versioned_dataset_over_a_file_it_saved_unversioned_says_so(tmp_path: Path, root: str) -> None:
    """Versions need <filepath>/ to be a folder. Locally a run refuses it up front
    (``check_versions_folder``); on remote storage the failed save tells, and writes nothing."""
    path = str(tmp_path / "m.pkl") if root == "local" else f"memory://{tmp_path.name}/m.pkl"
    PickleDataset(path).save({"flat": True})
    message = r"Dataset 'm' \(PickleDataset\) is versioned, but its filepath .*m.pkl is a file \(saved while"
    if root == "local":
        with pytest.raises(DatasetError, match=message):
            PickleDataset(path, name="m").check_versions_folder()
    with pytest.raises(DatasetError, match=message + r".*nothing was written"):
        PickleDataset(path, name="m", version="r1").save({"flat": False})
    assert PickleDataset(path).load() == {"flat": True}
    PickleDataset(str(tmp_path / "new.pkl")).check_versions_folder()  # no file there: passes


def test_an_unversioned_dataset_may_be_a_folder_of_its_own(tmp_path: Path) -> None:
    """A user's type may save a folder (partitions, a saved model): only version folders count."""
    folder = tmp_path / "parts.csv"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "part-0.csv").write_text("a\n1\n")
    (folder / "part-1.csv").write_text("a\n2\n")
    dataset = CSVDataset(str(folder))
    dataset.check_filepath()
    assert dataset.exists() and dataset.exists()


def catalog(tmp_path: Path, text: str) -> DataCatalog:
    return DataCatalog.from_config(yaml.safe_load(text), root=tmp_path, source="cat.yml")


@pytest.mark.parametrize(("cls", "name", "data"), CASES, ids=[c[0].__name__ for c in CASES])
def test_none_is_never_saved(tmp_path: Path, cls: type[AbstractDataset], name: str, data: Any) -> None:
    """A node without ``return`` gives None: saved as ``null`` it would make the run complete."""
    for version in (None, "r1"):
        ds = cls(str(tmp_path / name), version=version, name="metrics")
        with pytest.raises(DatasetError, match=r"^Dataset 'metrics' \(\w+\) was given None: the node returned nothing; return the data to save"):
            ds.save(None)
        assert not ds.exists() and files(tmp_path) == []


def test_text_dataset_is_a_builtin_type_and_keeps_a_str(tmp_path: Path) -> None:
    cat = catalog(tmp_path, "notes: {type: text.TextDataset, filepath: notes.md}\nold: {type: text.TextDataSet, filepath: o.txt}")
    cat.save("notes", "# Notes\n\nprix: 42 €\n")
    assert (tmp_path / "notes.md").read_bytes() == "# Notes\n\nprix: 42 €\n".encode()
    assert cat.load("notes") == "# Notes\n\nprix: 42 €\n" and isinstance(cat.dataset("old"), TextDataset)
    with pytest.raises(DatasetError, match=r"Dataset 'notes' \(TextDataset\) saves a str, but was given a builtins.bytes"):
        cat.save("notes", b"bytes")


LATIN1 = "town;price\nBoulogne-sur-Mer;42000\nSaint-Étienne;38500\nNîmes;49500\n"


def test_open_args_load_and_save_reach_the_file_open(tmp_path: Path) -> None:
    """Kedro's fs_args.open_args_load/open_args_save: the encoding of a real latin-1 file."""
    (tmp_path / "raw.csv").write_bytes(LATIN1.encode("latin-1"))
    cat = catalog(
        tmp_path,
        """
        raw: {type: pandas.CSVDataset, filepath: raw.csv, load_args: {sep: ;}, fs_args: {open_args_load: {encoding: latin-1}}}
        out: {type: pandas.CSVDataset, filepath: out.csv, fs_args: {open_args_save: {encoding: latin-1, newline: ''}}}
        text: {type: text.TextDataset, filepath: raw.csv, fs_args: {open_args_load: {encoding: latin-1}}}
        json: {type: json.JSONDataset, filepath: m.json, fs_args: {open_args_save: {encoding: utf-16}, open_args_load: {encoding: utf-16}}}
        """,
    )
    frame = cat.load("raw")
    assert frame.town.tolist() == ["Boulogne-sur-Mer", "Saint-Étienne", "Nîmes"]
    cat.save("out", frame)
    assert (tmp_path / "out.csv").read_bytes() == LATIN1.replace(";", ",").encode("latin-1")
    assert cat.load("text") == LATIN1
    cat.save("json", {"town": "Nîmes"})
    assert (tmp_path / "m.json").read_bytes().startswith(b"\xff\xfe") and cat.load("json") == {"town": "Nîmes"}
    with pytest.raises(DatasetError, match="could not be loaded") as untold:  # as before: UTF-8 unless told
        CSVDataset(str(tmp_path / "raw.csv"), load_args={"sep": ";"}).load()
    assert str(untold.value).endswith(
        "The file is not utf-8 text: give its encoding in the catalog, e.g. "
        "'fs_args: {open_args_load: {encoding: latin-1}}'."
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{type: pandas.ParquetDataset, filepath: x.pq, fs_args: {open_args_load: {encoding: latin-1}}}",
         r"'fs_args.open_args_load.encoding' cannot apply: ParquetDataset is a binary format, so its file open takes no encoding; give pyarrow's options in load_args"),
        ("{type: pickle.PickleDataset, filepath: x.pkl, fs_args: {open_args_save: {newline: ''}}}",
         r"'fs_args.open_args_save.newline' cannot apply: PickleDataset is a binary format"),
        ("{type: pandas.CSVDataset, filepath: x.csv, fs_args: {open_args_load: {compression: gzip}}}",
         r"'fs_args.open_args_load.compression' is not an argument of the file open here: it takes encoding, errors, newline \(and mode: r\). Give the reader's other options in load_args"),
        ("{type: pandas.CSVDataset, filepath: x.csv, fs_args: {open_args_save: {mode: a}}}",
         r"'fs_args.open_args_save.mode: a' cannot apply: CSVDataset is a text format, opened with mode 'w', and every save writes a whole new file"),
    ],
    ids=["parquet-encoding", "pickle-newline", "csv-compression", "csv-append"],
)
def test_open_args_a_format_cannot_take_are_refused_by_name(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(CatalogError, match=r"^cat.yml: dataset 'x': " + message):
        catalog(tmp_path, f"x: {entry}")


def test_open_args_that_change_nothing_are_accepted(tmp_path: Path) -> None:
    """A Kedro catalog often spells out the default modes."""
    cat = catalog(tmp_path, "x: {type: pandas.ParquetDataset, filepath: x.pq, fs_args: {open_args_load: {mode: rb}, open_args_save: {mode: wb}}}")
    cat.save("x", FRAME)
    assert cat.load("x").equals(FRAME)


def test_pickle_backend_joblib(tmp_path: Path) -> None:
    """Kedro's ``backend`` key: the file is joblib's (loadable by joblib itself), compressed."""
    cat = catalog(tmp_path, "model: {type: pickle.PickleDataset, filepath: m.joblib, backend: joblib, save_args: {compress: 3}, versioned: true}")
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 2.0, 4.0])
    cat.save("model", model, run_id="r1")
    path = tmp_path / "m.joblib" / "r1" / "m.joblib"
    assert joblib.load(path).coef_.round(6).tolist() == [2.0]
    assert cat.load("model", run_id="r1").predict([[3.0]]).round(6).tolist() == [6.0]
    with pytest.raises(DatasetError, match=r"pickle data was truncated|invalid load key"):  # not a plain pickle
        PickleDataset(str(path)).load()


def test_pickle_backend_joblib_maps_arrays_with_mmap_mode(tmp_path: Path) -> None:
    """joblib maps an array from a file name only: the dataset hands it the path of a local file."""
    cat = catalog(tmp_path, "arr: {type: pickle.PickleDataset, filepath: a.joblib, backend: joblib, load_args: {mmap_mode: r}}")
    cat.save("arr", np.arange(1000.0))
    loaded = cat.load("arr")
    assert isinstance(loaded, np.memmap) and loaded[999] == 999.0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("backend: dill", r"Dataset 'x' \(PickleDataset\): backend 'dill' is not supported: use one of pickle, joblib"),
        ("load_args: {backend: joblib}", r"'backend' goes on the dataset's entry \(Kedro's place: 'backend: joblib' beside 'filepath'\), not in load_args"),
    ],
)
def test_pickle_backends_other_than_pickle_and_joblib_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    cat = catalog(tmp_path, f"x: {{type: pickle.PickleDataset, filepath: x.pkl, {entry}}}")
    with pytest.raises(DatasetError, match=message):
        cat.dataset("x")


@pytest.mark.parametrize("type_name", ["MemoryDataset", "kedro.io.MemoryDataset", "kedro.io.MemoryDataSet", "io.MemoryDataset"])
def test_memory_dataset_is_refused_saying_why_and_what_to_declare(tmp_path: Path, type_name: str) -> None:
    with pytest.raises(
        CatalogError,
        match=rf"^cat.yml: dataset 'x': type '{type_name}' cannot work here: it keeps data in one Python process, but each "
        r"node here is a Luigi task that may run in another process or on another machine, so what a node returns must be "
        r"stored for the next node to load. Declare a file dataset instead, e.g. 'type: pickle.PickleDataset' with a 'filepath'",
    ):
        catalog(tmp_path, f"x: {{type: {type_name}}}")


def test_dataset_factories_are_refused_as_such(tmp_path: Path) -> None:
    with pytest.raises(
        CatalogError,
        match=r"^cat.yml: dataset '\{name\}_data' is a dataset factory \(Kedro's '\{name\}' pattern\), and dataset factories "
        r"are not supported: .* Declare each dataset by its name",
    ):
        catalog(tmp_path, '"{name}_data": {type: pandas.CSVDataset, filepath: "data/{name}.csv"}')


def test_an_argument_the_reader_or_writer_does_not_take_is_blamed_on_load_or_save_args(tmp_path: Path) -> None:
    path = str(tmp_path / "t.csv")
    CSVDataset(path).save(pd.DataFrame({"a": [1]}))
    with pytest.raises(DatasetError, match=r"unexpected keyword argument 'seperator'.*A load_args entry is not an argument"):
        CSVDataset(path, name="t", load_args={"seperator": ";"}).load()
    with pytest.raises(DatasetError, match=r"unexpected keyword argument 'idx'.*a save_args entry is not an argument"):
        CSVDataset(str(tmp_path / "u.csv"), name="u", save_args={"idx": False}).save(pd.DataFrame({"a": [1]}))
    with pytest.raises(DatasetError, match=r"fix the cause \(data this format cannot hold"):
        JSONDataset(str(tmp_path / "v.json"), name="v").save({"frame": pd.DataFrame({"a": [1]})})


@pytest.mark.parametrize(
    ("entry", "refused"),
    [
        ("{type: pandas.CSVDataset, filepath: t.csv, load_args: {chunksize: 10}}", "load_args 'chunksize'"),
        ("{type: pandas.CSVDataset, filepath: t.csv, load_args: {iterator: true}}", "load_args 'iterator'"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: db, load_args: {chunksize: 10}}",
         "load_args 'chunksize'"),
    ],
)
def test_reading_a_table_in_chunks_is_refused_by_name(tmp_path: Path, entry: str, refused: str) -> None:
    """A node would get a reader, not a DataFrame, and the schema and empty-table checks
    would be skipped: refused when the dataset is made, naming it and its file."""
    cat = DataCatalog.from_config(
        yaml.safe_load(f"t: {entry}"), root=tmp_path, source="cat.yml",
        credentials={"db": {"con": f"sqlite:///{tmp_path}/db.sqlite"}},
    )
    with pytest.raises(DatasetError, match=re.escape(
        f"{refused} is not supported: a node receives the whole table as one DataFrame"
    )) as raised:
        cat.dataset("t")
    assert str(raised.value).startswith("Dataset 't' (") and str(raised.value).endswith("Declared in cat.yml.")


def test_json_keeps_the_keys_in_the_order_the_node_made_them(tmp_path: Path) -> None:
    """As Kedro's JSONDataset: a dict loads back in its order (sorted keys would reorder it)."""
    ds = JSONDataset(str(tmp_path / "m.json"))
    ds.save({"r2": 0.6, "mae": 1.0, "rmse": 2.0})
    assert list(ds.load()) == ["r2", "mae", "rmse"]


_KIND_FRAME = pd.DataFrame({
    "i": [1, 2], "f": [1.5, 2.5], "b": [True, False], "s": ["x", "y"],
    "d": pd.to_datetime(["2024-01-05", "2024-02-05"]), "c": pd.Categorical(["a", "b"]),
})


@pytest.mark.parametrize(
    ("kind", "column", "others"),
    [
        ("int", "i", "fbsdc"), ("float", "f", "ibsdc"), ("number", "i", "bsdc"), ("bool", "b", "ifsdc"),
        ("str", "s", "ifbdc"), ("datetime", "d", "ifbsc"), ("category", "c", "ifbsd"), ("int64", "i", "fbsdc"),
    ],
)
def test_each_schema_kind_accepts_its_columns_and_refuses_the_others(
    tmp_path: Path, kind: str, column: str, others: str
) -> None:
    """Every kind the schema offers (and a pandas dtype name), on a save: the matching column
    passes, each other column is refused naming the kind and the dtype found."""
    def dataset(col: str) -> ParquetDataset:
        return ParquetDataset(str(tmp_path / f"{kind}-{col}.parquet"), schema={col: kind}, name="t")

    dataset(column).save(_KIND_FRAME)
    for other in others:
        with pytest.raises(DatasetError, match=re.escape(f"column '{other}' should be {kind} (catalog schema), but it is")):
            dataset(other).save(_KIND_FRAME)
