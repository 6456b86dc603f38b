"""pandas DataFrames in SQL databases (Kedro's ``pandas.SQLTableDataset`` and
``pandas.SQLQueryDataset``).

The connection string is Kedro's ``credentials: {con: <url>}``, an entry of
``config/local/credentials.yml``: it is never shown (not in reprs, logs or messages, where a
database is named by its SQLite file, or by dialect, database and host). ``sqlite:///<path>``
(relative to the project root, as filepaths are) goes through the standard library's
``sqlite3``; any other URL through SQLAlchemy, the ``sql`` extra
(``pip install "luigi-tasks[sql]"``).

A save writes the frame to a temporary table, then swaps it in for the old table in one
transaction, so a save that fails or is killed leaves the old table whole. A table, like a
file without ``versioned: true``, is shared by every run: SQL datasets cannot be versioned.

Example (catalog.yml, and ``db: {con: sqlite:///data/houses.db}`` in credentials.yml):
    houses_table:
      type: pandas.SQLTableDataset
      table_name: houses
      credentials: db
      save_args: {if_exists: replace}
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast
from urllib.parse import quote, urlsplit

from luigi_tasks.datasets import filesystem
from luigi_tasks.datasets.atomic import HOST, TEMP_MARKER
from luigi_tasks.datasets.base import TEXT_OPEN_ARGS, WHOLE_TABLE, AbstractDataset, Source, _secret_strings, text
from luigi_tasks.errors import DatasetError, VersionExistsError
from luigi_tasks.processes import alive

if TYPE_CHECKING:
    import sqlite3

    import pandas as pd

SQLITE = "sqlite:///"
INSTALL_HINT = 'pip install "luigi-tasks[sql]"'
_IF_EXISTS = ("fail", "replace", "append")
_NOT_VERSIONABLE = (
    "a SQL table is one table, shared by every run (Kedro cannot version SQL datasets either). "
    "Remove 'versioned: true', or save the data to a file dataset (e.g. pandas.ParquetDataset) "
    "to keep each run's."
)


class Database:
    """Where a connection string points: a SQLite file, opened with the standard library,
    or any other database, through a SQLAlchemy engine (one per connection string and
    process). Shown by :attr:`shown`, which never holds the connection string.

    Example:
        >>> Database("sqlite:////data/houses.db").shown
        '/data/houses.db'
    """

    _engines: ClassVar[dict[str, Any]] = {}
    _lock = threading.Lock()

    def __init__(self, con: str) -> None:
        self._con = con
        self.sqlite_file: str | None = None
        if con.startswith(SQLITE) and "?" not in con:
            self.sqlite_file = os.path.abspath(con[len(SQLITE) :])
            self.shown = self.sqlite_file
        elif "://" not in con:  # not a URL: any part of it may be the password (user:secret@host)
            self.shown = "a database whose connection string is not a URL (<dialect>://...)"
        else:
            parts = urlsplit(con)
            where = f" on {parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else ""
            self.shown = f"{parts.scheme or 'unknown'} database {parts.path.lstrip('/') or '(default)'}{where}"

    @contextmanager
    def sqlite(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A connection to the SQLite file, in autocommit mode (transactions are explicit).
        Only ``write`` creates the file (and its folder) if missing. Never read-only: after a
        writer was killed, the first connection must roll its journal back."""
        import sqlite3

        assert self.sqlite_file is not None
        if write:
            os.makedirs(os.path.dirname(self.sqlite_file), exist_ok=True)
            con = sqlite3.connect(self.sqlite_file, isolation_level=None)
        else:
            con = sqlite3.connect(f"file:{quote(self.sqlite_file)}?mode=rw", uri=True, isolation_level=None)
        with closing(con):
            yield con

    def engine(self) -> Any:
        """The SQLAlchemy engine of this connection string (made once per process)."""
        with self._lock:
            if self._con not in self._engines:
                from sqlalchemy import create_engine

                self._engines[self._con] = create_engine(self._con)
            return self._engines[self._con]

    def quote(self, name: str) -> str:
        """``name`` as a quoted SQL identifier."""
        if self.sqlite_file is not None:
            return '"' + name.replace('"', '""') + '"'
        return str(self.engine().dialect.identifier_preparer.quote(name))


class _SQLDataset(AbstractDataset[Any]):
    """What the SQL datasets share: the connection (``credentials: {con: ...}``), no file,
    no versions."""

    needs_filepath: ClassVar[bool] = False
    not_versionable: ClassVar[str | None] = _NOT_VERSIONABLE
    refused_args: ClassVar[Mapping[str, str]] = {"load_args.chunksize": WHOLE_TABLE}

    def stamp(self) -> None:
        """A table has no file stamp: a rewrite by another run is not told (see the README)."""
        return None
    _default_name = "query"

    def __init__(
        self,
        *,
        credentials: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        version: str | None = None,
        name: str | None = None,
    ) -> None:
        # The base class's __init__ sets up a file on fsspec; a SQL dataset has none.
        self.name = name or self._default_name
        self.version = version
        self.filepath = ""
        self.metadata = metadata or {}
        self.load_args = {**self.default_load_args, **(load_args or {})}
        self.save_args = {**self.default_save_args, **(save_args or {})}
        self._check_args(load_args, save_args)
        try:
            con = _connection_string(credentials)
        except ValueError as exc:
            raise DatasetError(f"{self._describe()}: {exc}.") from None
        if version is not None:
            raise DatasetError(f"{self._describe()}: it cannot be versioned: {_NOT_VERSIONABLE}")
        self._secrets = frozenset(_secret_strings(credentials)) | _url_secrets(con)
        self.db = Database(con)
        if self.db.sqlite_file is None and importlib.util.find_spec("sqlalchemy") is None:
            raise DatasetError(
                f"{self._describe()}: its connection string is not 'sqlite:///<file>', and other "
                f"databases need SQLAlchemy, which is not installed. Install it: {INSTALL_HINT}"
            )
        for args in ("load_args", "save_args"):
            for key in ("con", "name", "table_name", "sql"):
                if key in getattr(self, args):
                    raise DatasetError(
                        f"{self._describe()}: '{args}.{key}' is not allowed: the connection string goes in "
                        "'credentials' (an entry of config/local/credentials.yml, 'con: <url>'), the table in "
                        f"'table_name' and a query in 'sql' or 'filepath'. Fix {self._declared()}."
                    )

    @classmethod
    def catalog_options(cls, options: dict[str, Any], *, root: str) -> dict[str, Any]:
        """Check the connection string; a relative SQLite file is under the project root."""
        con = _connection_string(options.get("credentials"))
        if con.startswith(SQLITE) and not os.path.isabs(con[len(SQLITE) :]) and "?" not in con:
            path = os.path.join(root, con[len(SQLITE) :])
            options = {**options, "credentials": {**options["credentials"], "con": SQLITE + path}}
        if "fs_args" in options and not options.get("filepath"):
            raise ValueError("'fs_args' applies to files, and this dataset has none. Remove it")
        return options

    # -- what users call ----------------------------------------------------------------

    def missing_hint(self) -> str:
        return (
            f"Create it there, or fix the 'con' of its credentials (config/<env>/credentials.yml) or its entry in "
            f"{self._declared()}."
        )

    def check_filepath(self) -> None:
        """Nothing to check: a SQL dataset has no filepath."""

    def check_versions_folder(self) -> None:
        """Nothing to check: a SQL dataset is never versioned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, path={self.path!r})"

    # -- helpers ------------------------------------------------------------------------

    def _load_from(self, src: Source) -> Any:  # pragma: no cover - load() is overridden
        raise NotImplementedError

    def _save_to(self, data: Any, dst: Source) -> None:  # pragma: no cover - save() is overridden
        raise NotImplementedError

    def _read(self, query: str, params: Any = None) -> pd.DataFrame:
        """``query``'s rows, read with pandas (``load_args``)."""
        import pandas as pd

        args = dict(self.load_args)
        if params is not None:
            args["params"] = params
        # A DataFrame: refused_args keeps out load_args.chunksize, which would make it an iterator.
        if self.db.sqlite_file is not None:
            with self.db.sqlite(write=False) as con:
                return cast("pd.DataFrame", pd.read_sql_query(query, con, **args))
        return cast("pd.DataFrame", pd.read_sql_query(query, self.db.engine(), **args))

    def _load_failed(self, exc: Exception, fix: str) -> NoReturn:
        self._fail(
            f"{self._describe()} could not be loaded from {self.path}: {_explain(exc)}. {fix}",
            exc,
        )


def _frame_hash(frame: pd.DataFrame) -> str:
    """A hash of a frame's columns, dtypes and rows (pandas' own row hashing)."""
    import pandas as pd

    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class SQLTableDataset(_SQLDataset):
    """A DataFrame as a table of a SQL database: ``table_name``, ``credentials: {con: ...}``;
    ``load_args`` go to pandas' ``read_sql_query`` (``index_col``, ``parse_dates``,
    ``columns`` ...), ``save_args`` to ``DataFrame.to_sql`` (``if_exists``: ``fail``, the
    default as in pandas and Kedro, ``replace`` or ``append``; ``index`` is ``False``).

    Luigi's completeness check is whether the table exists. A save is atomic: the new rows are
    written to a temporary table, which replaces (or, with ``append``, is added to) the table
    in one transaction.

    Example (Python):
        >>> ds = SQLTableDataset(table_name="houses", credentials={"con": "sqlite:///houses.db"},
        ...                      save_args={"if_exists": "replace"})
        >>> ds.save(frame); ds.exists(), ds.load().shape
        (True, (546, 12))
    """

    default_save_args: ClassVar[dict[str, Any]] = {"index": False, "if_exists": "fail"}
    catalog_keys: ClassVar[frozenset[str]] = frozenset({"table_name"})

    def __init__(self, *, table_name: str, **kwargs: Any) -> None:
        self._default_name = str(table_name)
        super().__init__(**kwargs)
        if not isinstance(table_name, str) or not table_name:
            raise DatasetError(f"{self._describe()}: 'table_name' must be a table's name, not {table_name!r}.")
        self.table_name = table_name
        if self.save_args["if_exists"] not in _IF_EXISTS:
            raise DatasetError(
                f"{self._describe()}: save_args if_exists must be one of {', '.join(_IF_EXISTS)}, "
                f"not {self.save_args['if_exists']!r}. Fix {self._declared()}."
            )
        self._schema = self.load_args.pop("schema", None) or self.save_args.get("schema")
        self._columns = self.load_args.pop("columns", None)
        if self._schema is not None and self.db.sqlite_file is not None:
            raise DatasetError(
                f"{self._describe()}: 'schema' does not apply to a SQLite file (sqlite:///...), which "
                f"has one. Remove it from load_args and save_args in {self._declared()}."
            )

    @classmethod
    def catalog_options(cls, options: dict[str, Any], *, root: str) -> dict[str, Any]:
        if not isinstance(options.get("table_name"), str) or not options["table_name"]:
            raise ValueError("'table_name' is missing or not a string: name the table to load and save")
        if options.get("filepath"):
            raise ValueError(
                "'filepath' does not apply to a table: the database is the 'con' of its credentials "
                "(e.g. con: sqlite:///data/shop.db in config/local/credentials.yml), the table is 'table_name'. "
                "Remove 'filepath'"
            )
        return super().catalog_options(options, root=root)

    @classmethod
    def location(cls, options: dict[str, Any]) -> str:
        return f"{Database(_connection_string(options.get('credentials'))).shown} (table {options['table_name']})"

    @property
    def path(self) -> str:
        """The database (its SQLite file, or dialect, database and host) and the table."""
        return f"{self.db.shown} (table {self._qualified()})"

    def exists(self) -> bool:
        """Whether the table exists (Luigi's ``complete()``).

        Raises:
            DatasetError: the database cannot be asked (unreachable, wrong credentials).
        """
        try:
            if self.db.sqlite_file is not None:
                if not os.path.isfile(self.db.sqlite_file):
                    return False
                with self.db.sqlite(write=False) as con:
                    return _sqlite_has_table(con, self.table_name)
            from sqlalchemy import inspect

            return bool(inspect(self.db.engine()).has_table(self.table_name, schema=self._schema))
        except Exception as exc:  # noqa: BLE001 - any database error becomes a DatasetError
            self._fail(
                f"{self._describe()}: cannot check whether table {self._qualified()} exists in "
                f"{self.db.shown}: {_explain(exc)}. Check the database and the credentials.",
                exc,
            )

    def load(self) -> pd.DataFrame:
        """Read the whole table (or ``load_args.columns``).

        Raises:
            DatasetError: the table is missing or cannot be read; naming the dataset and the table.
        """
        columns = ", ".join(self.db.quote(c) for c in self._columns) if self._columns else "*"
        try:
            return self._read(f"SELECT {columns} FROM {self._qualified_sql()}")
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a DatasetError
            if not self.exists():
                raise DatasetError(
                    f"{self._describe()}: table {self._qualified()} is not in {self.db.shown}. Run the node "
                    f"that produces it first, or fix 'table_name' or the credentials in {self._declared()}."
                ) from None
            self._load_failed(exc, "Check the table, and the dataset's load_args in the catalog.")

    def content_hash(self) -> str:
        """The rows' hash (a table has no file to hash): read in full, as a node reading it would."""
        return _frame_hash(self.load()) if self.exists() else "missing"

    def save(self, data: pd.DataFrame) -> None:
        """Write ``data`` as the table, atomically (``save_args.if_exists`` says what happens
        to a table that exists: ``fail``, ``replace`` or ``append``).

        Raises:
            VersionExistsError: the table exists and ``if_exists`` is ``fail``.
            DatasetError: ``data`` is not a DataFrame, or writing failed; the table is as before.
        """
        if data is None:
            self._refuse_none()
        self._check_type(data)
        mode = self.save_args["if_exists"]
        if mode == "fail" and self.exists():
            raise VersionExistsError(
                f"{self._describe()}: table {self._qualified()} exists already in {self.db.shown}, and "
                "save_args if_exists is 'fail' (pandas' and Kedro's default). Set 'save_args: {if_exists: "
                f"replace}}' in {self._declared()} to replace it at each save (atomically), or 'append'."
            )
        try:
            if self.db.sqlite_file is not None:
                self._save_sqlite(data, mode)
            else:
                self._save_sqlalchemy(data, mode)
        except VersionExistsError as exc:  # another writer made the table since the check above
            raise VersionExistsError(
                f"{self._describe()}: table {self._qualified()} was created in {self.db.shown} by another "
                "writer while this one saved, and save_args if_exists is 'fail'; nothing was written."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any writer error becomes a DatasetError
            self._fail(
                f"{self._describe()} could not be saved to {self.path}: {_explain(exc)}. The table is as "
                "it was; fix the cause (the data's types, disk space, permissions, save_args) and run again.",
                exc,
            )

    def _check_type(self, data: Any) -> None:
        import pandas as pd  # here: a class attribute data_type would import pandas with the module

        if not isinstance(data, pd.DataFrame):
            raise DatasetError(
                f"{self._describe()} saves a DataFrame, but was given a {type(data).__module__}."
                f"{type(data).__qualname__}. Return a DataFrame from the node."
            )

    def set_aside(self) -> str:
        """Rename the table to ``<table>_aside_<utc stamp>``, so it can be written again;
        return where it went. Nothing is deleted."""
        stamp = datetime.now(tz=timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = f"{self.table_name}_aside_{stamp}"
        rename = f"ALTER TABLE {self._qualified_sql()} RENAME TO {self.db.quote(aside)}"
        if self.db.sqlite_file is not None:
            with self.db.sqlite(write=True) as con:
                con.execute(rename)
        else:
            from sqlalchemy import text as sql_text

            with self.db.engine().begin() as con:
                con.execute(sql_text(rename))
        return f"{self.db.shown} (table {aside})"

    # -- helpers ------------------------------------------------------------------------

    def _qualified(self) -> str:
        return f"{self._schema}.{self.table_name}" if self._schema else self.table_name

    def _qualified_sql(self, table: str | None = None) -> str:
        name = self.db.quote(table or self.table_name)
        return f"{self.db.quote(self._schema)}.{name}" if self._schema else name

    def _to_sql_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.save_args.items() if k not in ("if_exists", "schema")}

    def _save_sqlite(self, data: pd.DataFrame, mode: str) -> None:
        """The frame goes to a temporary table (pandas commits it), then one transaction
        swaps it in: a kill before the commit leaves the old table, and the next save on this
        host removes the temporary table once its writer has exited."""
        tmp = f".{self.table_name}{TEMP_MARKER}{HOST}-{os.getpid()}-{os.urandom(6).hex()}"
        with self.db.sqlite(write=True) as con:
            self._remove_orphaned_temps(con)
            try:
                # sqlite3's own transactions for pandas' inserts: in autocommit mode each row
                # was a transaction of its own, synced to disk (10,000 rows: 6.8 s, not 0.02 s).
                con.isolation_level = "DEFERRED"
                try:
                    data.to_sql(tmp, con, if_exists="fail", **self._to_sql_args())
                    con.commit()
                finally:
                    con.isolation_level = None
                con.execute("BEGIN IMMEDIATE")
                try:
                    self._swap(con.execute, tmp, mode, exists=_sqlite_has_table(con, self.table_name))
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.execute(f"DROP TABLE IF EXISTS {self.db.quote(tmp)}")

    def _save_sqlalchemy(self, data: pd.DataFrame, mode: str) -> None:
        """One transaction writes the temporary table and swaps it in (atomic where the
        database's DDL is transactional: PostgreSQL, SQL Server; not MySQL, nor SQLite through
        Python's driver, which creates a table outside the transaction: a failed save drops
        the temporary table then)."""
        from sqlalchemy import inspect
        from sqlalchemy import text as sql_text

        tmp = f"_tmp_{os.urandom(6).hex()}_{self.table_name}"[:60]
        engine = self.db.engine()
        try:
            with engine.begin() as con:
                data.to_sql(tmp, con, if_exists="fail", schema=self._schema, **self._to_sql_args())
                exists = inspect(con).has_table(self.table_name, schema=self._schema)
                self._swap(lambda sql: con.execute(sql_text(sql)), tmp, mode, exists=exists)
        except BaseException:
            with suppress(Exception), engine.begin() as con:  # the save's own error is the one to show
                con.execute(sql_text(f"DROP TABLE IF EXISTS {self._qualified_sql(tmp)}"))
            raise

    def _swap(self, execute: Any, tmp: str, mode: str, *, exists: bool) -> None:
        """Inside the caller's transaction: make the temporary table the table's contents."""
        table, temp = self._qualified_sql(), self._qualified_sql(tmp)
        if mode == "append" and exists:
            columns = ", ".join(self.db.quote(str(c)) for c in self._saved_columns(tmp, execute))
            execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {temp}")
            execute(f"DROP TABLE {temp}")
            return
        if exists:
            if mode == "fail":  # made by another writer since the check before writing
                raise VersionExistsError(f"table {self._qualified()} exists already")
            execute(f"DROP TABLE {table}")
        execute(f"ALTER TABLE {temp} RENAME TO {self.db.quote(self.table_name)}")

    def _saved_columns(self, tmp: str, execute: Any) -> list[str]:
        rows = execute(f"SELECT * FROM {self._qualified_sql(tmp)} WHERE 1 = 0")
        if hasattr(rows, "keys"):  # SQLAlchemy's result
            return [str(k) for k in rows.keys()]  # noqa: SIM118 - a result, not a dict
        return [d[0] for d in rows.description]  # sqlite3's cursor

    def _remove_orphaned_temps(self, con: sqlite3.Connection) -> None:
        """Drop the temporary tables of earlier saves of this table on this host whose
        writer has exited (killed between writing and swapping)."""
        prefix = f".{self.table_name}{TEMP_MARKER}{HOST}-"
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            pid = name[len(prefix) :].partition("-")[0] if name.startswith(prefix) else ""
            if pid.isdigit() and not alive(int(pid)):
                con.execute(f"DROP TABLE IF EXISTS {self.db.quote(name)}")


class SQLQueryDataset(_SQLDataset):
    """The rows of a SQL query, as a DataFrame; load-only. The query is ``sql`` or the file
    at ``filepath`` (a ``.sql`` file: relative to the project root, or any fsspec URL);
    ``load_args`` go to pandas' ``read_sql_query`` (``params``, ``index_col``,
    ``parse_dates`` ...).

    Luigi's completeness check (for a raw input) is whether the database, and the query's
    file, are there; a node cannot save to it.

    Example (catalog.yml):
        big_houses:
          type: pandas.SQLQueryDataset
          sql: SELECT * FROM houses WHERE lotsize > 8000
          credentials: db
    """

    catalog_keys: ClassVar[frozenset[str]] = frozenset({"sql"})
    open_args_keys = TEXT_OPEN_ARGS

    def __init__(
        self,
        *,
        sql: str | None = None,
        filepath: str | None = None,
        fs_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            _check_query(sql, filepath)
        except ValueError as exc:
            raise DatasetError(f"{self._describe()}: {exc}.") from None
        self.sql = sql
        self.filepath = filepath or ""
        if filepath:
            fs_args = dict(fs_args or {})
            try:
                self._open_args_load, _ = self.split_open_args(fs_args)
            except ValueError as exc:
                raise DatasetError(f"{self._describe()}: {exc}.") from None
            self._fs, self._path = filesystem.resolve(filepath, **fs_args)
        elif fs_args:
            raise DatasetError(f"{self._describe()}: 'fs_args' applies to a query's file ('filepath'). Remove it.")

    @classmethod
    def catalog_options(cls, options: dict[str, Any], *, root: str) -> dict[str, Any]:
        _check_query(options.get("sql"), options.get("filepath"))
        return super().catalog_options(options, root=root)

    @classmethod
    def location(cls, options: dict[str, Any]) -> str:
        query = options.get("filepath") or "sql"
        return f"{Database(_connection_string(options.get('credentials'))).shown} (query {query})"

    @property
    def path(self) -> str:
        """The database (its SQLite file, or dialect, database and host) and the query's file."""
        return f"{self.db.shown} (query {self.filepath or 'sql'})"

    def exists(self) -> bool:
        """Whether the query can be run: the SQLite file (or, for another database, a
        connection) and the query's file are there. The query itself is not run."""
        try:
            if self.filepath and not (
                os.path.isfile(self._path) if filesystem.is_local(self._fs) else self._fs.exists(self._path)
            ):
                return False
            if self.db.sqlite_file is not None:
                return os.path.isfile(self.db.sqlite_file)
            with self.db.engine().connect():
                return True
        except Exception as exc:  # noqa: BLE001 - any database error becomes a DatasetError
            self._fail(
                f"{self._describe()}: cannot reach {self.db.shown}: {_explain(exc)}. "
                "Check the database and the credentials.",
                exc,
            )

    def load(self) -> pd.DataFrame:
        """Run the query and return its rows.

        Raises:
            DatasetError: the query's file is missing, or the query fails (naming the dataset).
        """
        query = self.sql
        if query is None:
            try:
                with self._source() as src, text(src, "r", self._open_args_load) as f:
                    query = f.read()
            except FileNotFoundError:
                raise DatasetError(
                    f"{self._describe()}: its query's file {self.filepath} is missing. Put it there, or fix "
                    f"'filepath' in {self._declared()}."
                ) from None
        try:
            return self._read(query)
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a DatasetError
            self._load_failed(
                exc, f"Check the query in {self._declared()}, and the 'con' of its credentials "
                "(config/<env>/credentials.yml)."
            )

    def content_hash(self) -> str:
        """The hash of the query's rows (run in full, as a node reading it would)."""
        return _frame_hash(self.load()) if self.exists() else "missing"

    def check_saveable(self, data: Any) -> None:
        """Refused: a query's result cannot be written (see :meth:`save`)."""
        raise DatasetError(self._load_only())

    def save(self, data: Any) -> None:
        """Refused: a query's result cannot be written.

        Raises:
            DatasetError: always, naming the dataset and what to use instead.
        """
        raise DatasetError(self._load_only())

    def check_filepath(self) -> None:
        """Called before a run for each node's output: a query cannot be one.

        Raises:
            DatasetError: always, naming the dataset and what to use instead.
        """
        raise DatasetError(self._load_only())

    def set_aside(self) -> str:
        raise DatasetError(self._load_only())

    def _load_only(self) -> str:
        return (
            f"{self._describe()} is load-only (a query's result), so no node can save it. Make the node's "
            f"output a pandas.SQLTableDataset (a table) or a file dataset in {self._declared()}."
        )


def _connection_string(credentials: Any) -> str:
    """The ``con`` of a SQL dataset's credentials; ``ValueError`` naming what is wrong."""
    con = credentials.get("con") if isinstance(credentials, dict) else None
    if not isinstance(con, str) or not con:
        raise ValueError(
            "it needs a connection string: 'credentials: <entry>' naming an entry of "
            "config/local/credentials.yml that holds 'con: <url>' (e.g. con: sqlite:///data/db.sqlite)"
        )
    if con.rstrip("/") == "sqlite:" or con.endswith(":memory:"):
        raise ValueError(
            "an in-memory SQLite database cannot work here: each node is a Luigi task that may run in "
            "another process or on another machine, so its outputs must be stored. Give a file: "
            "con: sqlite:///data/<name>.db"
        )
    return con


def _check_query(sql: Any, filepath: Any) -> None:
    if sql and filepath:
        raise ValueError("give the query either in 'sql' or in a file ('filepath'), not both")
    if not sql and not filepath:
        raise ValueError("give the query in 'sql', or the path of a .sql file in 'filepath'")
    if sql is not None and not isinstance(sql, str):
        raise ValueError(f"'sql' must be a string (the query), not {type(sql).__name__}")


def _url_secrets(con: str) -> frozenset[str]:
    """The password (and user) in a connection string, so that messages quoting them alone
    mask them too."""
    try:
        parts = urlsplit(con)
        return frozenset(p for p in (parts.password, parts.username) if p and len(p) >= 4)
    except ValueError:
        return frozenset()


def _sqlite_has_table(con: sqlite3.Connection, table: str) -> bool:
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (table,))
    return row.fetchone() is not None


def _explain(exc: BaseException) -> str:
    """An error's type and text; for a missing driver or SQLAlchemy, what to install."""
    if isinstance(exc, ModuleNotFoundError):
        if exc.name == "sqlalchemy":
            return f"SQLAlchemy is not installed ({INSTALL_HINT})"
        return f"the database driver '{exc.name}' is not installed (pip install it; SQLAlchemy names it)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"
