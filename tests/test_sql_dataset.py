"""SQL datasets (pandas.SQLTableDataset, pandas.SQLQueryDataset) on real SQLite files:
through a project's catalog.yml and credentials.yml, and through the API."""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import SQLQueryDataset, SQLTableDataset
from luigi_tasks.datasets.atomic import HOST, TEMP_MARKER
from luigi_tasks.errors import CatalogError, DatasetError, VersionExistsError
from tests.conftest import REPO

FRAME = pd.DataFrame({"price": [42000.0, 38500.0, 49500.0], "lotsize": [5850, 4000, 3060], "airco": ["no", "no", "yes"]})

CATALOG = """
houses_table:
  type: pandas.SQLTableDataset
  table_name: houses
  credentials: db
  save_args: {if_exists: replace}
big_houses:
  type: pandas.SQLQueryDataset
  sql: SELECT * FROM houses WHERE lotsize > 3500
  credentials: db
query_from_file:
  type: kedro_datasets.pandas.SQLQueryDataSet
  filepath: queries/airco.sql
  credentials: db
"""


def sqlite_rows(db: Path, table: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(f'SELECT * FROM "{table}"').fetchall()


def tables(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


@pytest.fixture
def sql_project(project: Path) -> Path:
    """The example project with SQL datasets; the connection string in credentials.yml."""
    with open(project / "config" / "catalog.yml", "a", encoding="utf-8") as f:
        f.write(CATALOG)
    (project / "config" / "local" / "credentials.yml").write_text("db: {con: 'sqlite:///data/houses.db'}\n")
    (project / "queries").mkdir()
    (project / "queries" / "airco.sql").write_text("SELECT price FROM houses WHERE airco = 'yes'\n")
    return project


def test_a_table_through_the_catalog_lives_in_the_sqlite_file_under_the_project_root(
    sql_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # not the project: sqlite:///data/... is under the project root, as filepaths are
    catalog = DataCatalog.from_project(sql_project)
    db = sql_project / "data" / "houses.db"
    assert catalog.entry("houses_table").filepath == f"{db} (table houses)"
    table = catalog.dataset("houses_table", "r1")
    assert not table.exists()
    catalog.save("houses_table", FRAME, run_id="r1")
    assert table.exists() and db.is_file()
    assert catalog.load("houses_table").equals(FRAME)
    assert sqlite_rows(db, "houses")[2] == (49500.0, 3060, "yes")
    assert catalog.load("big_houses").equals(FRAME[FRAME.lotsize > 3500])
    assert catalog.load("query_from_file")["price"].tolist() == [49500.0]
    catalog.save("houses_table", FRAME.head(1))  # if_exists: replace
    assert catalog.load("houses_table").equals(FRAME.head(1)) and tables(db) == ["houses"]


def test_a_query_is_load_only_and_refused_as_a_node_output_before_a_run(sql_project: Path) -> None:
    catalog = DataCatalog.from_project(sql_project)
    message = r"Dataset 'big_houses' \(SQLQueryDataset\) is load-only .* pandas.SQLTableDataset .* in .*catalog.yml"
    with pytest.raises(DatasetError, match=message):
        catalog.save("big_houses", FRAME)
    with pytest.raises(DatasetError, match=message):
        catalog.check_filepath("big_houses")  # what the graph check asks of each node output
    assert not (sql_project / "data" / "houses.db").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: db, versioned: true}",
         r"'x': 'versioned: true' is not supported for pandas.SQLTableDataset: a SQL table is one table, shared by every run .*Remove 'versioned: true'"),
        ("{type: pandas.SQLQueryDataset, sql: SELECT 1, credentials: db, versioned: true}",
         r"'versioned: true' is not supported for pandas.SQLQueryDataset"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: {con: 'sqlite:///x.db'}}",
         r"'credentials' must name an entry of config/local/credentials.yml"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: db, load_args: {con: 'postgresql://u:pw@h/d'}}",
         r"'load_args.con' holds a database connection string, and this file is committed"),
        ("{type: pandas.SQLTableDataset, credentials: db}", r"'x': 'table_name' is missing"),
        ("{type: pandas.SQLTableDataset, table_name: t}", r"'x': it needs a connection string: 'credentials: <entry>'"),
        ("{type: pandas.SQLQueryDataset, credentials: db}", r"'x': give the query in 'sql', or the path of a .sql file"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: db, sql: SELECT 1}", r"unknown key 'sql'"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: memory}", r"an in-memory SQLite database cannot work here"),
        ("{type: pandas.SQLTableDataset, table_name: t, credentials: db, filepath: data/x.db}",
         r"'x': 'filepath' does not apply to a table: the database is the 'con' of its credentials .*Remove 'filepath'\.$"),
    ],
    ids=["versioned-table", "versioned-query", "inline-credentials", "con-in-load-args", "no-table", "no-con", "no-query", "sql-key", "memory-db", "table-filepath"],
)
def test_bad_sql_entries_are_refused_naming_the_file_and_dataset(project: Path, entry: str, message: str) -> None:
    (project / "config" / "catalog.yml").write_text(f"x: {entry}\n")
    (project / "config" / "local" / "credentials.yml").write_text("db: {con: 'sqlite:///d.db'}\nmemory: {con: 'sqlite://'}\n")
    with pytest.raises(CatalogError, match=r"catalog.yml: dataset .*" + message):
        DataCatalog.from_project(project)


def test_api_round_trip_exists_append_and_if_exists_fail(tmp_path: Path) -> None:
    con = {"con": f"sqlite:///{tmp_path}/db/shop.db"}
    table = SQLTableDataset(table_name="sales", credentials=con)
    assert not table.exists() and not (tmp_path / "db").exists()  # asking creates no file
    table.save(FRAME)
    assert table.exists() and table.load().equals(FRAME)
    with pytest.raises(VersionExistsError, match=r"Dataset 'sales' \(SQLTableDataset\): table sales exists already in .*shop.db, and save_args if_exists is 'fail'.*if_exists: replace"):
        table.save(FRAME)
    SQLTableDataset(table_name="sales", credentials=con, save_args={"if_exists": "append"}).save(FRAME[["airco", "price", "lotsize"]])
    assert len(table.load()) == 6 and table.load().iloc[3].tolist() == [42000.0, 5850, "no"]
    assert SQLTableDataset(table_name="sales", credentials=con, load_args={"columns": ["airco"]}).load().columns.tolist() == ["airco"]
    aside = table.set_aside()  # what `luigi-tasks invalidate` and a rerun after a kill do
    assert "sales_aside_" in aside and not table.exists()
    assert len(tables(tmp_path / "db" / "shop.db")) == 1


def test_a_missing_table_or_a_wrong_type_says_which_dataset_and_table(tmp_path: Path) -> None:
    con = {"con": f"sqlite:///{tmp_path}/shop.db"}
    with pytest.raises(DatasetError, match=r"Dataset 'sales' \(SQLTableDataset\): table sales is not in .*shop.db. Run the node"):
        SQLTableDataset(table_name="sales", credentials=con).load()
    with pytest.raises(DatasetError, match=r"Dataset 'sales' \(SQLTableDataset\) saves a DataFrame, but was given a builtins.list"):
        SQLTableDataset(table_name="sales", credentials=con).save([1, 2])
    with pytest.raises(DatasetError, match=r"Dataset 'sales' \(SQLTableDataset\) saves a DataFrame, but was given a builtins.str"):
        SQLTableDataset(table_name="sales", credentials=con).check_saveable("rows")  # a node's check before any save
    with pytest.raises(DatasetError, match=r"cannot be versioned: a SQL table is one table"):
        SQLTableDataset(table_name="sales", credentials=con, version="r1")
    with pytest.raises(DatasetError, match=r"Dataset 'q' \(SQLQueryDataset\): 'fs_args.open_args_load' must be a mapping, not int"):
        SQLQueryDataset(filepath=str(tmp_path / "q.sql"), credentials=con, fs_args={"open_args_load": 3}, name="q")


class _Overtaken(SQLTableDataset):
    """A save that another writer overtakes: it creates the table after this save's check."""

    def __init__(self, con: dict[str, str]) -> None:
        super().__init__(table_name="sales", credentials=con)
        self.other = SQLTableDataset(table_name="sales", credentials=con)

    def _save_sqlite(self, data: pd.DataFrame, mode: str) -> None:
        self.other.save(FRAME.head(1))
        super()._save_sqlite(data, mode)

    def _save_sqlalchemy(self, data: pd.DataFrame, mode: str) -> None:
        self.other.save(FRAME.head(1))
        super()._save_sqlalchemy(data, mode)


@pytest.mark.parametrize("url", ["sqlite:///{}/shop.db", "sqlite+pysqlite:///{}/shop.db"])
def test_a_table_made_by_another_writer_during_a_save_keeps_its_rows(tmp_path: Path, url: str) -> None:
    con = {"con": url.format(tmp_path)}
    with pytest.raises(VersionExistsError, match=r"table sales was created in .* by another writer while this one saved"):
        _Overtaken(con).save(FRAME)
    assert SQLTableDataset(table_name="sales", credentials=con).load().equals(FRAME.head(1))
    assert tables(tmp_path / "shop.db") == ["sales"]


def test_a_failed_save_leaves_the_old_table_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    table = SQLTableDataset(table_name="sales", credentials={"con": f"sqlite:///{db}"}, save_args={"if_exists": "replace"})
    table.save(FRAME)
    before = sqlite_rows(db, "sales")
    bad = pd.DataFrame({"price": [1.0, 2.0], "lotsize": [1, 2], "airco": ["yes", {"not": "storable"}]})
    with pytest.raises(DatasetError, match=r"Dataset 'sales' \(SQLTableDataset\) could not be saved to .*shop.db \(table sales\).*The table is as it was"):
        table.save(bad)
    assert sqlite_rows(db, "sales") == before and tables(db) == ["sales"]


KILLED_SAVE = """
import sys
import pandas as pd
from luigi_tasks.datasets import SQLTableDataset
n = 400_000
frame = pd.DataFrame({"price": [1.0] * n, "lotsize": range(n), "airco": ["new"] * n})
ds = SQLTableDataset(table_name="sales", credentials={"con": sys.argv[1]}, save_args={"if_exists": "replace"})
print("saving", flush=True)
while True:
    ds.save(frame)
"""


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_table_whole(tmp_path: Path) -> None:
    """SIGKILL while saving again and again: the table is always all of one save's rows,
    and the next save removes the temporary table the killed one left."""
    db = tmp_path / "shop.db"
    con = f"sqlite:///{db}"
    table = SQLTableDataset(table_name="sales", credentials={"con": con}, save_args={"if_exists": "replace"})
    table.save(FRAME)
    for delay in (0.3, 0.9, 1.7, 2.6):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, con], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and select.select([proc.stdout], [], [], 60)[0], "the child never started"
        assert proc.stdout.readline() == "saving\n"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = table.load()
        assert loaded.equals(FRAME) or (len(loaded) == 400_000 and set(loaded.airco) == {"new"}), len(loaded)
    table.save(FRAME)
    assert tables(db) == ["sales"] and table.load().equals(FRAME)


def test_a_temporary_table_of_a_killed_save_is_removed_by_the_next_save(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan, live = f".sales{TEMP_MARKER}{HOST}-{int(exited.stdout)}-aa", f".sales{TEMP_MARKER}{HOST}-{os.getppid()}-bb"
    with sqlite3.connect(db) as con:
        for name in (orphan, live):
            con.execute(f'CREATE TABLE "{name}" (x)')
    SQLTableDataset(table_name="sales", credentials={"con": f"sqlite:///{db}"}).save(FRAME)
    assert tables(db) == sorted([live, "sales"])


def test_a_query_from_a_file_with_params(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    SQLTableDataset(table_name="sales", credentials={"con": f"sqlite:///{db}"}).save(FRAME)
    (tmp_path / "q.sql").write_text("SELECT price FROM sales WHERE lotsize < ?", encoding="utf-8")
    query = SQLQueryDataset(filepath=str(tmp_path / "q.sql"), credentials={"con": f"sqlite:///{db}"}, load_args={"params": (4500,)})
    assert query.exists() and query.load()["price"].tolist() == [38500.0, 49500.0]
    gone = SQLQueryDataset(filepath=str(tmp_path / "none.sql"), credentials={"con": f"sqlite:///{db}"}, name="q")
    assert not gone.exists()
    with pytest.raises(DatasetError, match=r"Dataset 'q' \(SQLQueryDataset\): its query's file .*none.sql is missing"):
        gone.load()
    with pytest.raises(DatasetError, match=r"give the query either in 'sql' or in a file"):
        SQLQueryDataset(sql="SELECT 1", filepath="q.sql", credentials={"con": f"sqlite:///{db}"})


SECRET = "tiger-Pw-93kq"


def test_the_connection_string_never_shows(tmp_path: Path) -> None:
    """Not in reprs, paths or errors, nor in the errors they were raised from."""
    con = f"postgresql://scott:{SECRET}@db.internal:5432/prod"
    table = SQLTableDataset(table_name="sales", credentials={"con": con}, name="sales")
    assert repr(table) == "SQLTableDataset(name='sales', path='postgresql database prod on db.internal:5432 (table sales)')"
    with pytest.raises(DatasetError) as raised:
        table.exists()  # SQLAlchemy is there, the driver is not
    assert "Dataset 'sales' (SQLTableDataset): cannot check whether table sales exists in postgresql database prod" in str(raised.value)
    chain, cause = [], raised.value
    while cause is not None:
        chain.append(f"{cause!s} {cause!r}")
        cause = cause.__cause__ or cause.__context__
    assert all(SECRET not in text and con not in text for text in chain)
    local = SQLTableDataset(table_name="t", credentials={"con": f"sqlite:///{tmp_path}/x.db"})
    assert "sqlite:" not in repr(local) and "sqlite:" not in local.path
    schemeless = f"scott:{SECRET}@db.internal/prod"  # the dialect:// forgotten: the password is anywhere
    query = SQLQueryDataset(sql="SELECT 1", credentials={"con": schemeless}, name="q")
    assert SECRET not in query.path and SECRET not in repr(query) and "connection string is not a URL" in query.path
    with pytest.raises(DatasetError) as raised:
        query.load()
    assert SECRET not in str(raised.value) and "could not be loaded from a database whose connection string is not a URL" in str(raised.value)


def test_other_databases_without_sqlalchemy_say_what_to_install(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None  # as if it were not installed\n"
        "from luigi_tasks.datasets import SQLTableDataset\n"
        f"ds = SQLTableDataset(table_name='t', credentials={{'con': 'sqlite:///{tmp_path}/x.db'}})\n"
        "ds.save(__import__('pandas').DataFrame({'a': [1]})); print(ds.load().a.tolist())\n"
        f"SQLTableDataset(table_name='t', credentials={{'con': 'postgresql://u:{SECRET}@h/db'}}, name='sales')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout == "[1]\n"  # a SQLite file needs no SQLAlchemy
    assert done.stderr.strip().splitlines()[-1].endswith(
        "Dataset 'sales' (SQLTableDataset): its connection string is not "
        "'sqlite:///<file>', and other databases need SQLAlchemy, which is not installed. "
        'Install it: pip install "luigi-tasks[sql]"'
    )
    assert SECRET not in done.stderr


def test_sqlalchemy_urls_work_too(tmp_path: Path) -> None:
    """Any URL but sqlite:///<file> goes through SQLAlchemy; SQLite's driver stands in for a server here."""
    con = {"con": f"sqlite+pysqlite:///{tmp_path}/shop.db"}
    table = SQLTableDataset(table_name="sales", credentials=con, save_args={"if_exists": "replace"})
    assert not table.exists()
    table.save(FRAME)
    table.save(FRAME.head(2))
    assert table.exists() and table.load().equals(FRAME.head(2))
    assert tables(tmp_path / "shop.db") == ["sales"]
    assert SQLQueryDataset(sql="SELECT COUNT(*) AS n FROM sales", credentials=con).load().n.tolist() == [2]
    with pytest.raises(DatasetError, match=r"no such table: sale.*Check the query in the catalog, and the 'con' of its "
                       r"credentials \(config/<env>/credentials.yml\)"):
        SQLQueryDataset(sql="SELECT * FROM sale", credentials=con).load()


SUMMARY_MODULE = '''
import pandas as pd
from luigi_tasks import PipelineTask, node

def summarise(houses: pd.DataFrame) -> dict:
    return {"rows": len(houses), "price": float(houses["price"].sum())}

Summarise = node(summarise, "houses_table", "summary", namespace="sq")

class Everything(PipelineTask):
    parts = (Summarise,)
'''


def test_a_table_read_as_raw_input_is_fingerprinted_by_its_rows(sql_project: Path) -> None:
    """A table has no file to hash: its rows are, so reuse is judged as for a raw file."""
    import json

    from tests.conftest import run_luigi

    with open(sql_project / "config" / "catalog.yml", "a", encoding="utf-8") as f:
        f.write("summary: {type: json.JSONDataset, filepath: data/08_reporting/summary.json, versioned: true}\n")
    (sql_project / "summary_nodes.py").write_text(SUMMARY_MODULE, encoding="utf-8")
    DataCatalog.from_project(sql_project).save("houses_table", FRAME)
    env = {"PYTHONPATH": str(sql_project)}
    run = ("--module", "summary_nodes", "Everything", "--local-scheduler")
    assert run_luigi(sql_project, *run, "--run-id", "q1", env=env).returncode == 0
    same = run_luigi(sql_project, *run, "--run-id", "q2", "--reuse-from", "q1", env=env)
    assert same.returncode == 0 and "Did not run any tasks" in same.stderr, same.stderr[-2000:]
    with sqlite3.connect(sql_project / "data" / "houses.db") as con:
        con.execute("UPDATE houses SET price = 1 WHERE lotsize = 3060")
    changed = run_luigi(sql_project, *run, "--run-id", "q3", "--reuse-from", "q1", env=env)
    assert changed.returncode == 0 and "why: input changed: houses_table since run q1" in changed.stderr, changed.stderr
    assert json.loads((sql_project / "data/08_reporting/summary.json/q3/summary.json").read_text())["price"] == 80501.0


EXPORT = """
from luigi_tasks import PipelineTask, node


def export(raw):
    return raw


Export = node(export, "raw", "exported", namespace="export")


class Exporting(PipelineTask):
    parts = (Export,)
"""


def test_a_node_saving_a_table_that_exists_fails_as_if_exists_fail_says(toy: Path) -> None:
    """``if_exists: fail`` (the default) on a table another run made: the node fails with
    what to set, and the table is neither replaced nor renamed aside."""
    from tests.conftest import run_luigi

    (toy / "exporting.py").write_text(EXPORT)
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("exported: {type: pandas.SQLTableDataset, table_name: exported, credentials: db}\n")
    (toy / "config/local/credentials.yml").write_text("db: {con: 'sqlite:///data/out.db'}\n")
    env = {"PYTHONPATH": str(toy)}
    first = run_luigi(toy, "--module", "exporting", "Exporting", "--local-scheduler", "--run-id", "t1", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    db = toy / "data/out.db"
    assert sqlite_rows(db, "exported") == [(1,), (2,), (3,)]
    (toy / "data/01_raw/raw.csv").write_text("x\n7\n", encoding="utf-8")
    second = run_luigi(toy, "--module", "exporting", "Exporting", "--local-scheduler", "--run-id", "t2", env=env)
    assert second.returncode == 30, second.stderr[-2000:]
    assert "export.Export failed: VersionExistsError: Dataset 'exported' (SQLTableDataset): table exported exists " \
        "already in" in second.stderr
    assert "save_args if_exists is 'fail'" in second.stderr and "set aside" not in second.stderr
    assert tables(db) == ["exported"] and sqlite_rows(db, "exported") == [(1,), (2,), (3,)]


COUNT = """
from luigi_tasks import PipelineTask, node


def count(rows):
    return {"n": len(rows)}


Count = node(count, "rows", "n", namespace="q")


class Counting(PipelineTask):
    parts = (Count,)
"""


def test_a_raw_query_whose_database_is_missing_says_where_the_database_comes_from(toy: Path) -> None:
    """A SQL dataset has no filepath to fix: the message points at its credentials' 'con'."""
    from tests.conftest import run_luigi

    (toy / "counting.py").write_text(COUNT)
    with open(toy / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("rows: {type: pandas.SQLQueryDataset, sql: SELECT * FROM t, credentials: db}\n")
        f.write("n: {type: json.JSONDataset, filepath: data/n.json, versioned: true}\n")
    (toy / "config/local/credentials.yml").write_text("db: {con: 'sqlite:///data/crm.db'}\n")
    done = run_luigi(toy, "--module", "counting", "Counting", "--local-scheduler", "--run-id", "q1",
                     env={"PYTHONPATH": str(toy)})
    assert done.returncode == 20, done.stderr[-2000:]
    assert (
        f"  raw dataset 'rows' is missing: expected at {toy}/data/crm.db (query sql). Create it there, or fix the "
        f"'con' of its credentials (config/<env>/credentials.yml) or its entry in {toy}/config/catalog.yml."
    ) in done.stderr
    assert not (toy / "data/crm.db").exists()
