"""The dataset abstraction: a typed Luigi Target that can load and save its data.

A dataset knows where its data lives (any fsspec path) and how to read and write one
type ``T``. Subclasses implement only :meth:`AbstractDataset._load_from` and
:meth:`AbstractDataset._save_to`; versions, atomic saves, the refusal to overwrite a
version and readable errors are handled here once.

Example:
    >>> ds = ParquetDataset("data/05_model_input/train_x.pq", version="r1")
    >>> ds.save(frame)           # data/05_model_input/train_x.pq/r1/train_x.pq
    >>> ds.exists(), ds.load().shape
"""

from __future__ import annotations

import abc
import io
import os
import posixpath
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from types import MappingProxyType
from typing import IO, Any, ClassVar, Generic, NoReturn, TypeVar

import luigi

from luigi_tasks.datasets import filesystem
from luigi_tasks.datasets.atomic import atomic_write
from luigi_tasks.errors import DatasetError, VersionExistsError
from luigi_tasks.versioning import RUN_ID_RE, version_path

T = TypeVar("T")

Source = str | IO[bytes]
#: Why a table dataset refuses to load in chunks (``chunksize``, ``iterator``).
WHOLE_TABLE = (
    "a node receives the whole table as one DataFrame (its schema and emptiness are checked on it): leave it out"
)

#: The arguments of a text file's open that ``fs_args.open_args_load``/``open_args_save`` may give.
TEXT_OPEN_ARGS = frozenset({"encoding", "errors", "newline"})


class AbstractDataset(luigi.Target, Generic[T], abc.ABC):
    """A Luigi Target holding data of type ``T`` at ``filepath`` (or a version of it).

    Args:
        filepath: Where the data lives: a local path or any fsspec URL.
        version: The run id to read and write, for a versioned dataset; ``None`` for an
            unversioned one. A version, once saved, is never overwritten.
        load_args: Keyword arguments for the underlying reader.
        save_args: Keyword arguments for the underlying writer.
        fs_args: Keyword arguments for the fsspec filesystem, and Kedro's
            ``open_args_load`` / ``open_args_save``: arguments of the file open (``encoding``,
            ``errors``, ``newline``) for a text format (:attr:`open_args_keys`).
        credentials: Passed to fsspec as storage options; never logged or shown.
        metadata: Free-form information for users and plugins; ignored here.
        name: The catalog name, used in error messages.

    Example (a dataset type of your own: implement the read and the write; versions, atomic
    saves, existence checks and error messages come with the base class):
        >>> class FeatherDataset(AbstractDataset[pd.DataFrame]):
        ...     data_type = pd.DataFrame
        ...     def _load_from(self, src): return pd.read_feather(src, **self.load_args)
        ...     def _save_to(self, data, dst): data.to_feather(dst, **self.save_args)
        >>> FeatherDataset("data/x.feather", version="r1").path   # from /project
        '/project/data/x.feather/r1/x.feather'

    In the catalog: ``type: my_project.datasets.FeatherDataset``.
    """

    #: The type(s) :meth:`save` accepts; ``None`` accepts anything.
    data_type: ClassVar[type | tuple[type, ...] | None] = None
    default_load_args: ClassVar[dict[str, Any]] = {}
    default_save_args: ClassVar[dict[str, Any]] = {}
    #: Whether the catalog keys ``schema`` and ``allow_empty`` apply (table datasets).
    accepts_schema: ClassVar[bool] = False
    #: The ``fs_args.open_args_load``/``open_args_save`` keys this format takes (a text
    #: format: ``encoding``, ``errors``, ``newline``); a binary format takes none.
    open_args_keys: ClassVar[frozenset[str]] = frozenset()
    #: What to say when a binary format is given open args: where its options go instead.
    open_args_hint: ClassVar[str] = "give the reader's and writer's options in load_args and save_args"
    #: Why ``load_args``/``save_args`` are refused for this class (it has no reader or writer
    #: options), or ``None`` if it takes them.
    no_args: ClassVar[str | None] = None
    #: ``load_args``/``save_args`` keys this class refuses (``"save_args.partition_cols"``), with why.
    refused_args: ClassVar[Mapping[str, str]] = {}
    #: Catalog keys this class takes besides the common ones (constructor keyword arguments).
    catalog_keys: ClassVar[frozenset[str]] = frozenset()
    #: Whether a catalog entry of this class needs a ``filepath``.
    needs_filepath: ClassVar[bool] = True
    #: Why ``versioned: true`` is refused for this class, or ``None`` if it can be versioned.
    not_versionable: ClassVar[str | None] = None
    #: The catalog file declaring this dataset (set by the catalog), named in messages.
    declared_in: str | None = None
    #: Whether this unversioned local dataset's filepath passed :meth:`check_filepath`.
    _folder_checked: bool = False

    def __init__(
        self,
        filepath: str,
        *,
        version: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.filepath = str(filepath)
        self.version = version
        self.load_args = {**self.default_load_args, **(load_args or {})}
        self.save_args = {**self.default_save_args, **(save_args or {})}
        self.metadata = metadata or {}
        self.name = name or posixpath.basename(self.filepath.rstrip("/"))
        self._check_args(load_args, save_args)
        path = version_path(self.filepath, version) if version is not None else self.filepath
        self._secrets = frozenset(_secret_strings(credentials))
        fs_args = dict(fs_args or {})
        if "open_args_load" in fs_args or "open_args_save" in fs_args:
            try:
                self._open_args_load, self._open_args_save = self.split_open_args(fs_args)
            except ValueError as exc:
                raise DatasetError(f"{self._describe()}: {exc}") from None
        try:
            self._fs, self._path = filesystem.resolve(path, **(credentials or {}), **fs_args)
        except ImportError as exc:  # fsspec's "Install s3fs to access S3"
            protocol = path.split("://", 1)[0]
            raise DatasetError(
                f"{self._describe()}: its {protocol}:// filepath needs a package that is not installed "
                f"({exc}): pip install it into this environment."
            ) from None
        self._protocol = path.split("://", 1)[0] if "://" in path else "file"

    # -- what users call ----------------------------------------------------------------

    @property
    def path(self) -> str:
        """The full path of this dataset's data (of its version, if versioned)."""
        return self._path if self._protocol == "file" else f"{self._protocol}://{self._path}"

    def exists(self) -> bool:
        """Whether the data (this version of it) is there. Luigi calls this for ``complete()``.

        Raises:
            DatasetError: the storage cannot be asked, or this unversioned dataset's local
                filepath is the folder of its earlier versions (see :meth:`check_filepath`).
        """
        if filesystem.is_local(self._fs):  # Luigi asks several times per task: skip fsspec
            try:
                mode = os.stat(self._path).st_mode  # one call, as os.path.exists, that also tells a folder
            except (OSError, ValueError):
                return False
            if stat.S_ISDIR(mode) and self.version is None and not self._folder_checked:
                self.check_filepath()
                self._folder_checked = True
            return True
        try:
            return bool(self._fs.exists(self._path))
        except Exception as exc:  # noqa: BLE001 - any storage error becomes a DatasetError
            self._fail(
                f"{self._describe()}: cannot check whether {self.path} exists: "
                f"{type(exc).__name__}: {exc}. Check the path, the network and the credentials.",
                exc,
            )

    def load(self) -> T:
        """Read the data.

        Raises:
            DatasetError: the data is missing, or cannot be read (corrupt, truncated, wrong
                format); the message names the dataset and the path.
        """
        if self.version is None and not self._folder_checked and filesystem.is_local(self._fs):
            # A local folder reads without error as a partitioned Parquet table: make sure it
            # is no folder of versions first (one stat; a remote folder fails to open).
            if os.path.isdir(self._path):
                self.check_filepath()
            self._folder_checked = True
        try:
            with self._source() as src:
                data = self._load_from(src)
        except DatasetError:
            raise
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a DatasetError
            # Asked only on failure: checking first would cost every load a trip to storage.
            if not self.exists():
                raise DatasetError(f"{self._describe()} has no data at {self.path}. {self.missing_hint()}") from None
            self.check_filepath()
            self._fail(
                f"{self._describe()} could not be loaded from {self.path}: {type(exc).__name__}: {exc}. "
                + (
                    f"A load_args entry is not an argument of the reader: fix load_args in {self._declared()}."
                    if _bad_argument(exc)
                    else f"The file is not {exc.encoding} text: give its encoding in {self._declared()}, e.g. "
                    "'fs_args: {open_args_load: {encoding: latin-1}}'."
                    if isinstance(exc, UnicodeDecodeError)
                    else "The file may be corrupt or truncated, or not of this type: check the file, or the "
                    "dataset's type and load_args in the catalog."
                ),
                exc,
            )
        self._validate_loaded(data)
        return data

    def save(self, data: T) -> None:
        """Write ``data`` atomically: the path holds the whole data, or nothing new.

        Raises:
            VersionExistsError: this version exists already (versions are never overwritten).
            DatasetError: ``data`` is ``None`` or not of :attr:`data_type`, or writing failed;
                an earlier file at the path is left as it was.
        """
        self.check_saveable(data)
        try:
            with atomic_write(self._fs, self._path, overwrite=self.version is None) as dst:
                self._save_to(data, dst)
        except VersionExistsError:
            raise VersionExistsError(
                f"{self._describe()}: version {self.version!r} exists already at {self.path}, "
                "and a saved version is never overwritten. Use a new --run-id."
            ) from None
        except Exception as exc:  # noqa: BLE001 - any writer error becomes a DatasetError
            self._check_versions_folder()
            self._fail(
                f"{self._describe()} could not be saved to {self.path}: {type(exc).__name__}: {exc}. "
                "Nothing was written there; "
                + (
                    f"a save_args entry is not an argument of the writer: fix save_args in {self._declared()}."
                    if _bad_argument(exc)
                    else "fix the cause (data this format cannot hold, save_args, disk space, permissions) "
                    "and run again."
                ),
                exc,
            )

    def check_saveable(self, data: T) -> None:
        """Refuse, before anything is written, data that :meth:`save` would refuse: ``None``,
        another type than :attr:`data_type`, or data against the dataset's schema.

        Raises:
            DatasetError: naming the dataset, what is wrong and what to do.
        """
        if data is None:
            self._refuse_none()
        self._check_type(data)
        self._validate_saving(data)

    def check_filepath(self) -> None:
        """Refuse an unversioned dataset whose filepath is a folder of the versions saved
        while it was versioned (``<filepath>/<run_id>/<basename>``).

        Such a folder exists, so Luigi would take it for the data and not run the node that
        saves it; loading it fails (or, for Parquet, reads every version as one table). Costs
        one check of the path when it is no folder.

        Raises:
            DatasetError: naming the folder, the runs found in it and the file declaring
                the dataset.
        """
        if self.version is not None:
            return
        run_ids = self._versions_in_filepath()
        if run_ids:
            base = posixpath.basename(self._path.rstrip("/"))
            shown = ", ".join(run_ids[:3]) + (f" and {len(run_ids) - 3} more" if len(run_ids) > 3 else "")
            raise DatasetError(
                f"{self._describe()} is not versioned, but its filepath {self.path} is a folder "
                f"(versions saved when it was versioned: {self.path}/<run_id>/{base}, for runs "
                f"{shown}). Add 'versioned: true' back in {self._declared()}, or give it another filepath."
            )

    def stamp(self) -> str | None:
        """What tells this file from a rewrite of it (size, modification time, inode), for an
        unversioned dataset that every run shares; ``None`` where it cannot be told cheaply
        (remote storage, a database) or there is no file."""
        st = self._local_stat()
        return None if st is None else f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    def saved_at(self) -> float | None:
        """When this file was last written (seconds since the epoch), to tell a version saved
        by a concurrent worker from an earlier attempt's; ``None`` where it cannot be told
        cheaply (remote storage, a database) or there is no file."""
        st = self._local_stat()
        return None if st is None else st.st_mtime

    def _local_stat(self) -> os.stat_result | None:
        """The file's ``os.stat``; ``None`` for remote storage, a database or no file."""
        if not filesystem.is_local(getattr(self, "_fs", None)):
            return None
        try:
            return os.stat(self._path)
        except (OSError, ValueError):
            return None

    def content_hash(self) -> str | None:
        """A hash of the data, for a raw input that is no file (a database table): fingerprints
        hash files themselves, so a file-backed dataset returns ``None``; a dataset with no
        data returns :data:`luigi_tasks.fingerprint.MISSING` (``"missing"``)."""
        return None

    def remove_version(self, *, dry_run: bool = False) -> bool:
        """Delete this version's folder (``<filepath>/<run id>/``), set-aside files in it too;
        return whether there was one (with ``dry_run``, only that). Only ``luigi-tasks runs
        delete`` calls it: a saved version is otherwise never removed.

        Raises:
            DatasetError: the dataset is not versioned (its file is every run's), or the
                storage refused.
        """
        if self.version is None:
            raise DatasetError(f"{self._describe()} is not versioned: its file is every run's, so no run deletes it.")
        folder = posixpath.dirname(self._path)
        try:
            if not self._fs.exists(folder):
                return False
            if not dry_run:
                self._fs.rm(folder, recursive=True)
        except OSError as exc:
            self._fail(f"{self._describe()}: version {self.version!r} could not be deleted ({folder}): {exc}.", exc)
        return True

    def set_aside(self) -> str:
        """Move this version's data to a dated name beside it, so it can be written again.

        Returns the new path. Nothing is deleted: the moved file keeps the old data.
        """
        stamp = datetime.now(tz=timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = f"{self._path}.aside-{stamp}"
        self._fs.mv(self._path, aside)
        return aside

    def _check_args(self, load_args: Mapping[str, Any] | None, save_args: Mapping[str, Any] | None) -> None:
        """Refuse ``load_args``/``save_args`` this class cannot honour (:attr:`no_args`, :attr:`refused_args`)."""
        if self.no_args and (load_args or save_args):
            raise DatasetError(f"{self._describe()} takes no load_args or save_args: {self.no_args}")
        for kind, given in (("load_args", load_args), ("save_args", save_args)):
            refused = [(key, why) for key in given or () if (why := self.refused_args.get(f"{kind}.{key}"))]
            if refused:
                raise DatasetError(f"{self._describe()}: {kind} '{refused[0][0]}' is not supported: {refused[0][1]}")

    # -- what subclasses implement --------------------------------------------------------

    @abc.abstractmethod
    def _load_from(self, src: Source) -> T:
        """Read the data from a local path or an open binary file."""

    @abc.abstractmethod
    def _save_to(self, data: T, dst: Source) -> None:
        """Write ``data`` to a local path or an open binary file."""

    @classmethod
    def catalog_options(cls, options: dict[str, Any], *, root: str) -> dict[str, Any]:
        """For a class that needs no ``filepath``: the constructor's keyword arguments from a
        catalog entry's ``options`` (its ``load_args``, ``credentials``, :attr:`catalog_keys`
        ...), checked, with relative paths resolved against the project root ``root``.

        Raises:
            ValueError: what is wrong in the entry, and what to do.
        """
        return options

    @classmethod
    def location(cls, options: dict[str, Any]) -> str:
        """For a class that needs no ``filepath``: where an entry with these ``options`` keeps
        its data, as ``luigi-tasks catalog list`` and run records show it (never a credential)."""
        return str(options.get("filepath", ""))

    @classmethod
    def split_open_args(cls, fs_args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Take Kedro's ``open_args_load`` and ``open_args_save`` out of ``fs_args`` (the rest
        goes to the fsspec filesystem) and return them, checked against :attr:`open_args_keys`.

        Raises:
            ValueError: an argument this format cannot take, named with what to do instead.
        """
        found = []
        for key, verb in (("open_args_load", "r"), ("open_args_save", "w")):
            args = fs_args.pop(key, None) or {}
            if not isinstance(args, dict):
                raise ValueError(f"'fs_args.{key}' must be a mapping, not {type(args).__name__}")
            args = dict(args)
            own = (verb, f"{verb}t") if cls.open_args_keys else (f"{verb}b",)
            mode = args.pop("mode", own[0])
            if mode not in own:
                kind = "a text" if cls.open_args_keys else "a binary"
                raise ValueError(
                    f"'fs_args.{key}.mode: {mode}' cannot apply: {cls.__name__} is {kind} format, "
                    f"opened with mode '{own[0]}', and every save writes a whole new file beside the old "
                    "one, then moves it into place (never appending or updating). Remove 'mode'"
                )
            unknown = sorted(set(args) - cls.open_args_keys)
            if unknown and cls.open_args_keys:
                raise ValueError(
                    f"'fs_args.{key}.{unknown[0]}' is not an argument of the file open here: it takes "
                    f"{', '.join(sorted(cls.open_args_keys))} (and mode: {own[0]}). Give the "
                    f"{'reader' if verb == 'r' else 'writer'}'s other options in "
                    f"{'load_args' if verb == 'r' else 'save_args'}"
                )
            if unknown:
                raise ValueError(
                    f"'fs_args.{key}.{unknown[0]}' cannot apply: {cls.__name__} is a binary format, so "
                    f"its file open takes no {', '.join(unknown)}; {cls.open_args_hint}"
                )
            found.append(args)
        return found[0], found[1]

    def _validate_loaded(self, data: T) -> None:
        """Check data just loaded (e.g. against a schema); raise :class:`DatasetError`."""

    def _validate_saving(self, data: T) -> None:
        """Check data about to be saved, before any byte is written."""

    # -- helpers ------------------------------------------------------------------------

    #: Arguments of the file open for loading / saving a text format (``fs_args``).
    _open_args_load: Mapping[str, Any] = MappingProxyType({})
    _open_args_save: Mapping[str, Any] = MappingProxyType({})

    def _refuse_none(self) -> NoReturn:
        """``None`` is never saved (Kedro refuses it too): it is nearly always a node that
        forgot its ``return``, and saved as ``null`` it would make the run look complete."""
        raise DatasetError(
            f"{self._describe()} was given None: the node returned nothing; return the data to "
            "save, or remove this output from the node. Nothing was written."
        )

    def _fail(self, message: str, cause: BaseException) -> NoReturn:
        """Raise a :class:`DatasetError` caused by ``cause``, any credential value masked.

        If the message held a secret, the cause (whose text holds it too) is not chained,
        so that tracebacks in the log file do not print it either.
        """
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            raise DatasetError(redacted) from None
        raise DatasetError(message) from cause

    @contextmanager
    def _source(self) -> Iterator[Source]:
        if filesystem.is_local(self._fs):
            yield self._path
        else:
            with self._fs.open(self._path, "rb") as f:
                yield f

    def _check_type(self, data: Any) -> None:
        if self.data_type is not None and not isinstance(data, self.data_type):
            expected = (
                " or ".join(t.__name__ for t in self.data_type)
                if isinstance(self.data_type, tuple)
                else self.data_type.__name__
            )
            raise DatasetError(
                f"{self._describe()} saves a {expected}, but was given a "
                f"{type(data).__module__}.{type(data).__qualname__}. Return a {expected} "
                "from the node, or give the dataset a type that can save this object."
            )

    def _check_versions_folder(self) -> None:
        """After a failed save of a version: refuse, by name, a filepath that is a file (the
        dataset saved there while it was not versioned), where versions need a folder.
        Asked only then: checking before every save would cost each a trip to storage."""
        if self.version is None:
            return
        folder = posixpath.dirname(posixpath.dirname(self._path))
        try:
            is_file = self._fs.isfile(folder)
        except Exception:  # noqa: BLE001 - the original save error is reported instead
            return
        if is_file:
            self._refuse_file_for_versions(folder)

    def check_versions_folder(self) -> None:
        """For a versioned dataset's local filepath (this object built with no version):
        refuse a file there, saved while the dataset was not versioned, where the versions
        need a folder. Before a run, so the node does not run only to fail at its save.

        Raises:
            DatasetError: naming the file and the catalog file to fix.
        """
        if self.version is None and filesystem.is_local(self._fs) and os.path.isfile(self._path):
            self._refuse_file_for_versions(self._path)

    def _refuse_file_for_versions(self, folder: str) -> NoReturn:
        shown = folder if self._protocol == "file" else f"{self._protocol}://{folder}"
        raise DatasetError(
            f"{self._describe()} is versioned, but its filepath {shown} is a file (saved while "
            f"the dataset was not versioned), where its versions need a folder "
            f"({shown}/<run_id>/...). Give the dataset another filepath in {self._declared()} "
            "(moving that file away would take it from the runs that saved it); nothing was written."
        )

    def _versions_in_filepath(self) -> list[str]:
        """The run ids with a version under this (unversioned) dataset's filepath, sorted."""
        base = posixpath.basename(self._path.rstrip("/"))
        try:
            if filesystem.is_local(self._fs):
                if not os.path.isdir(self._path):
                    return []
                with os.scandir(self._path) as entries:
                    found = [e.name for e in entries if e.is_dir() and os.path.exists(os.path.join(e.path, base))]
            elif self._fs.isdir(self._path):
                found = [posixpath.basename(posixpath.dirname(p)) for p in self._fs.glob(f"{self._path}/*/{base}")]
            else:
                return []
        except Exception as exc:  # noqa: BLE001 - any storage error becomes a DatasetError
            self._fail(
                f"{self._describe()}: cannot check whether {self.path} is a folder: "
                f"{type(exc).__name__}: {exc}. Check the path, the network and the credentials.",
                exc,
            )
        return sorted(name for name in found if RUN_ID_RE.fullmatch(name))

    def _describe(self) -> str:
        return f"Dataset '{self.name}' ({type(self).__name__})"

    def _declared(self) -> str:
        """Where the user fixes this dataset's entry."""
        return self.declared_in or "the catalog"

    def missing_hint(self) -> str:
        """What to do when this dataset has no data: where to put it, or what makes it."""
        if self.version is None:
            return f"Put the file there, or fix its filepath in {self._declared()}."
        return f"Run the node that produces it for run {self.version!r} first."

    def __repr__(self) -> str:
        # No credentials or fs_args: they may hold secrets.
        return f"{type(self).__name__}(name={self.name!r}, path={self.path!r})"


@contextmanager
def binary(src: Source, mode: str = "rb") -> Iterator[IO[bytes]]:
    """Open ``src`` if it is a path; pass an open file through unchanged."""
    if isinstance(src, str):
        with open(src, mode) as f:
            yield f
    else:
        yield src


@contextmanager
def text(src: Source, mode: str, open_args: Mapping[str, Any]) -> Iterator[IO[str]]:
    """Open ``src`` (a path, or an open binary file) as text, ``mode`` ``"r"`` or ``"w"``, with
    the arguments of the file open (``encoding``, default UTF-8; ``errors``; ``newline``).
    An open binary file is wrapped, and left open."""
    args = {"encoding": "utf-8", **open_args}
    if isinstance(src, str):
        with open(src, mode, **args) as f:
            yield f
        return
    wrapper = io.TextIOWrapper(src, **args)
    try:
        yield wrapper
        wrapper.flush()
    finally:
        wrapper.detach()


def _secret_strings(credentials: Any) -> Iterator[str]:
    """Every string of at least 4 characters in ``credentials`` (nested mappings and lists)."""
    if isinstance(credentials, str):
        if len(credentials) >= 4:
            yield credentials
    elif isinstance(credentials, dict):
        for value in credentials.values():
            yield from _secret_strings(value)
    elif isinstance(credentials, (list, tuple)):
        for value in credentials:
            yield from _secret_strings(value)


def _bad_argument(exc: BaseException) -> bool:
    """Whether a reader or writer refused a keyword argument (a typo in load_args/save_args)."""
    return isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc)
