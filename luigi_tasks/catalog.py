"""The data catalog: every dataset of the project, declared once in ``config/catalog.yml``.

Entries use Kedro's keys, so a Kedro catalog works with few or no edits::

    model:
      type: pickle.PickleDataset          # or a dotted path to your own dataset class
      filepath: data/06_models/model.pkl  # relative to the project root, or any fsspec URL
      versioned: true                     # saved at <filepath>/<run_id>/model.pkl
      save_args: {protocol: 5}

Top-level keys starting with ``_`` are ignored (YAML anchors to reuse), as in Kedro.
Table datasets also take ``schema`` (column -> dtype, checked on load and save) and
``allow_empty`` (accept a table with zero rows on load); a type may take keys of its own
(:attr:`~luigi_tasks.datasets.AbstractDataset.catalog_keys`: ``backend`` of
``pickle.PickleDataset``, ``table_name`` of ``pandas.SQLTableDataset`` ...), and a type that
keeps no file (a SQL table) needs no ``filepath``.

A dataset name is a name, not a path (:data:`DATASET_NAME_RULE`): letters, digits,
``_ . - @``, no ``..``. Names appear in task parameters, messages and run records, so one
that could be read as a path (``../x``, ``a/b``) is refused when the catalog is read.

Example:
    >>> catalog = DataCatalog.from_config(yaml.safe_load(text), root=Path("."))
    >>> catalog.save("model", estimator, run_id="r1")
    >>> catalog.load("model", run_id="r1")
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi_tasks.config import DEFAULT_ENV, declaring_file, load_config, resolve_path
from luigi_tasks.datasets import BUILTIN_TYPES, IMPORTED_WHEN_USED, AbstractDataset
from luigi_tasks.errors import CatalogError, DatasetError

KNOWN_KEYS = frozenset(
    {
        "type", "filepath", "load_args", "save_args", "fs_args", "versioned", "credentials", "metadata",
        "schema", "allow_empty",
    }
)
#: What a dataset name may look like (Kedro namespaces use '.', transcoding '@').
DATASET_NAME_RULE = "[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}, without '..'"
_DATASET_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}")
_KEDRO_PREFIXES = ("kedro_datasets.", "kedro.extras.datasets.")
#: Storage option names that hold a credential in fsspec backends (s3fs, gcsfs, adlfs, sftp,
#: http headers, botocore's client_kwargs), refused in the committed catalog.
SECRET_OPTIONS = frozenset(
    {
        "key", "secret", "token", "password", "passphrase", "account_key", "sas_token",
        "connection_string", "credential", "client_secret", "access_token", "api_key", "private_key",
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "authorization",
    }
)
#: Kedro's types that cannot work here, with why and what to declare instead.
_REFUSED_TYPES = {
    "MemoryDataset": (
        "it keeps data in one Python process, but each node here is a Luigi task that may run in "
        "another process or on another machine, so what a node returns must be stored for the next "
        "node to load. Declare a file dataset instead, e.g. 'type: pickle.PickleDataset' with a "
        "'filepath' (and 'versioned: true' to keep each run's)"
    ),
}
_REFUSED_TYPES["SharedMemoryDataset"] = _REFUSED_TYPES["MemoryDataset"]
#: gcsfs's ``token`` may name how to authenticate instead of holding a credential.
_GCSFS_TOKEN_METHODS = frozenset({"anon", "google_default", "cache", "cloud", "browser"})


@dataclass(frozen=True)
class DatasetEntry:
    """One validated catalog entry: how to build the dataset called ``name``."""

    name: str
    #: The class, or the ``module:class`` of a built-in type not imported yet.
    type_ref: type[AbstractDataset[Any]] | str
    filepath: str
    versioned: bool = False
    #: Keyword arguments of the dataset class; not in repr (credentials are among them).
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: The file that declares the entry (the base catalog or an overlay), named in messages.
    source: str | None = None

    @functools.cached_property
    def dataset_type(self) -> type[AbstractDataset[Any]]:
        """The dataset class (a built-in one is imported on first use: pandas is slow to import)."""
        return _dataset_class(self.type_ref)

    def build(self, run_id: str | None) -> AbstractDataset[Any]:
        version = run_id if self.versioned else None
        cls = self.dataset_type
        try:
            if cls.needs_filepath:
                dataset = cls(self.filepath, version=version, name=self.name, **self.options)
            else:  # ``filepath`` (where it shows this entry's storage) is not an argument
                dataset = cls(version=version, name=self.name, **self.options)
        except DatasetError as exc:
            raise DatasetError(f"{exc} Declared in {self.source or 'the catalog'}.") from None
        # Set, not passed: a user's dataset class need not accept one more constructor argument.
        dataset.declared_in = self.source
        return dataset


#: Dataset objects a catalog keeps for reuse (those of about ten runs of a 5000-dataset project).
_MAX_BUILT = 50_000


class DataCatalog:
    """The project's datasets by name; builds the Luigi Target of a dataset for a run.

    Args:
        entries: Validated entries by dataset name (see :meth:`from_config`).

    Example (a notebook; ``current_project().catalog`` is the same, read from luigi.cfg's env):
        >>> catalog = DataCatalog.from_project(".")
        >>> houses = catalog.load("houses")                # unversioned: its one file
        >>> model = catalog.load("model", run_id="exp1")   # versioned: run exp1's own file
        >>> catalog.dataset("model", "exp1").path
        '/project/data/06_models/model.pkl/exp1/model.pkl'
    """

    def __init__(self, entries: Mapping[str, DatasetEntry]) -> None:
        self._entries = dict(entries)
        self._built: dict[tuple[str, str | None], AbstractDataset[Any]] = {}

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        root: Path,
        credentials: Mapping[str, Any] | None = None,
        source: str = "catalog.yml",
        credentials_file: str = f"config/{DEFAULT_ENV}/credentials.yml",
    ) -> DataCatalog:
        """Validate a parsed catalog; relative filepaths resolve against ``root``.

        ``config`` is taken to be a committed file: storage options holding a credential
        (:data:`SECRET_OPTIONS`) are refused; give them through ``credentials``.

        ``credentials_file`` is where ``credentials`` come from, named in messages.

        Raises:
            CatalogError: naming ``source``, the dataset and the key that is wrong.
        """
        _refuse_secret_options(config, lambda _name: source)
        entries = {
            name: _parse_entry(
                name, raw, root=root, credentials=credentials or {}, source=source, credentials_file=credentials_file
            )
            for name, raw in config.items()
            if not str(name).startswith("_")
        }
        return cls(entries)

    @classmethod
    def from_project(cls, root: Path | str, env: str = DEFAULT_ENV, cache_dir: str | None = None) -> DataCatalog:
        """Read ``config/catalog.yml`` with its ``config/<env>/`` overlay and credentials
        (``cache_dir``: see :func:`~luigi_tasks.config.load_config`)."""
        root = Path(root)
        base, overlay, sources = load_config(root, "catalog", env, cache_dir)
        unknown = sorted(k for k in overlay if k not in base and not str(k).startswith("_"))
        if unknown:
            raise CatalogError(
                f"{sources[unknown[0]]}: overrides dataset(s) {', '.join(map(repr, unknown))} "
                f"that {declaring_file(root, 'catalog', unknown[0])} does not declare. An overlay may only "
                "change existing datasets: declare them in the base catalog, or fix the name."
            )
        # The file that declares an entry (split catalogs): looked up only to word a refusal.
        _refuse_secret_options(base, lambda name: declaring_file(root, "catalog", name))
        if env != DEFAULT_ENV:  # only config/local/ is git-ignored; config/prod/ is usually committed
            _refuse_secret_options(overlay, lambda name: str(sources[name]))
        cred_base, cred_overlay, _ = load_config(root, "credentials", env)
        credentials = {**cred_base, **cred_overlay}
        entries: dict[str, DatasetEntry] = {}
        for name, raw in {**base, **overlay}.items():
            if not str(name).startswith("_"):
                entries[name] = _parse_entry(
                    name, raw, root=root, credentials=credentials, source=str(sources[name]),
                    credentials_file=f"config/{env}/credentials.yml",
                )
        return cls(entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> DatasetEntry:
        """The validated entry of ``name``; :class:`CatalogError` if the catalog lacks it."""
        try:
            return self._entries[name]
        except KeyError:
            raise CatalogError(
                f"Dataset '{name}' is not in the catalog.{self.did_you_mean(name)} Declare it in config/catalog.yml."
            ) from None

    def did_you_mean(self, name: str) -> str:
        """For messages: `` Did you mean 'x', 'y'?`` with the closest declared names, or ``""``."""
        close = difflib.get_close_matches(name, self._entries, n=3)
        return f" Did you mean {', '.join(map(repr, close))}?" if close else ""

    def is_versioned(self, name: str) -> bool:
        """Whether ``name`` is saved under a run id."""
        return self.entry(name).versioned

    def dataset(self, name: str, run_id: str | None = None) -> AbstractDataset[Any]:
        """The Target of ``name`` (for run ``run_id`` if the dataset is versioned).

        Built once per name and version: a node's output is also its downstream nodes'
        input, and Luigi checks each several times.
        """
        entry = self.entry(name)
        if entry.versioned and run_id is None:
            raise CatalogError(
                f"Dataset '{name}' is versioned: give the run id to read or write (catalog.load('{name}', "
                f"'<run id>')), or use luigi_tasks.load_output('{name}') for the newest run's (or a run's, "
                "even if that run reused it from an earlier one)."
            )
        key = (name, run_id if entry.versioned else None)
        built = self._built.get(key)
        if built is None:
            if len(self._built) >= _MAX_BUILT:  # a long-lived process running many runs
                self._built.clear()
            built = self._built[key] = entry.build(run_id)
        return built

    def check_filepath(self, name: str) -> None:
        """Before a run, what only the storage can tell about the filepath of output ``name``:
        unversioned, it is no folder of earlier versions
        (:meth:`~luigi_tasks.datasets.AbstractDataset.check_filepath`); versioned and local, it
        is no file saved while unversioned
        (:meth:`~luigi_tasks.datasets.AbstractDataset.check_versions_folder`).

        Raises:
            DatasetError: naming the dataset, its filepath and the catalog file to fix.
        """
        entry = self.entry(name)
        if not entry.versioned:
            self.dataset(name).check_filepath()
        elif "://" not in entry.filepath and os.path.isfile(entry.filepath):  # one stat; an object only to refuse
            entry.build(None).check_versions_folder()

    def load(self, name: str, run_id: str | None = None) -> Any:
        """Load ``name`` (its version of run ``run_id`` if versioned).

        This reads the file in run ``run_id``'s own folder. An output that run reused from an
        earlier run lives in that run's folder: :func:`luigi_tasks.load_output` follows the
        run's record to it.
        """
        dataset = self.dataset(name, run_id)
        try:
            return dataset.load()
        except DatasetError as exc:
            if run_id is None or dataset.version is None or dataset.exists():
                raise
            raise DatasetError(
                f"{exc} If run {run_id!r} reused it from an earlier run, "
                f"load_output({name!r}, {run_id!r}) (from luigi_tasks) finds it there."
            ) from None

    def save(self, name: str, data: Any, run_id: str | None = None) -> None:
        """Save ``data`` as ``name`` (as run ``run_id``'s version if versioned)."""
        self.dataset(name, run_id).save(data)


def _parse_entry(
    name: str, raw: Any, *, root: Path, credentials: Mapping[str, Any], source: str, credentials_file: str
) -> DatasetEntry:
    where = f"{source}: dataset '{name}'"
    check_dataset_name(name, where=source)
    if not isinstance(raw, Mapping):
        raise CatalogError(
            f"{where}: the entry must be a mapping with at least 'type' and 'filepath', "
            f"but it is a {type(raw).__name__} ({raw!r})."
        )
    if not raw.get("type") or not isinstance(raw["type"], str):
        typo = next((k for k in map(str, raw) if k not in KNOWN_KEYS and difflib.get_close_matches(k, ["type"])), None)
        hint = f" ('{typo}' is not a key: did you mean 'type'?)" if typo else ""
        raise CatalogError(f"{where}: 'type' is missing or not a string{hint}. Every entry needs a 'type'.")
    type_ref = resolve_type_ref(raw["type"], where=where)
    own = set(raw) - KNOWN_KEYS
    # A built-in type of a slow module (pandas) is imported when first used, so an entry
    # without keys of its own is checked against the common rules only.
    later = isinstance(type_ref, str) and type_ref.partition(":")[0] in IMPORTED_WHEN_USED
    cls = _dataset_class(type_ref) if own or not raw.get("filepath") or not later else None
    allowed = KNOWN_KEYS | (cls.catalog_keys if cls else frozenset())
    unknown = sorted(set(raw) - allowed)
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if unknown[0] == "layer":  # Kedro < 0.19's place for it
            hint = " (Kedro 0.19 moved it under metadata: 'metadata: {kedro-viz: {layer: ...}}')"
        raise CatalogError(
            f"{where}: unknown key '{unknown[0]}'{hint}. Allowed keys for {raw['type']}: {', '.join(sorted(allowed))}."
        )
    given = [key for key in ("load_args", "save_args") if raw.get(key)]
    if given and cls is not None and cls.no_args:
        raise CatalogError(f"{where}: {raw['type']} takes no {given[0]}: {cls.no_args}")
    needs_filepath = cls is None or cls.needs_filepath
    if (needs_filepath or "filepath" in raw) and (not raw.get("filepath") or not isinstance(raw["filepath"], str)):
        raise CatalogError(
            f"{where}: 'filepath' is missing or not a string. Every entry of {raw['type']} needs a 'filepath'."
        )
    for key in ("load_args", "save_args", "fs_args", "metadata"):
        if raw.get(key) is not None and not isinstance(raw[key], Mapping):
            raise CatalogError(f"{where}: '{key}' must be a mapping, not {type(raw[key]).__name__}.")
    if not isinstance(raw.get("versioned", False), bool):
        raise CatalogError(f"{where}: 'versioned' must be true or false.")
    if raw.get("versioned") and cls is not None and cls.not_versionable:
        raise CatalogError(f"{where}: 'versioned: true' is not supported for {raw['type']}: {cls.not_versionable}")
    options: dict[str, Any] = {
        key: dict(raw[key]) for key in ("load_args", "save_args", "fs_args", "metadata") if raw.get(key)
    }
    options.update({key: raw[key] for key in own if key in allowed})
    fs_args = options.get("fs_args", {})
    if "open_args_load" in fs_args or "open_args_save" in fs_args:
        try:
            (cls or _dataset_class(type_ref)).split_open_args(dict(fs_args))
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}.") from None
    if raw.get("credentials") is not None:
        options["credentials"] = _credentials(where, raw["credentials"], credentials, credentials_file)
    options.update(_table_options(where, raw, type_ref))
    if needs_filepath:
        filepath = resolve_path(root, raw["filepath"])
    else:
        assert cls is not None  # imported above: an entry without filepath needs its class
        if raw.get("filepath"):
            options["filepath"] = resolve_path(root, raw["filepath"])
        try:
            options = cls.catalog_options(options, root=str(root))
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}.") from None
        filepath = cls.location(options)
    return DatasetEntry(
        name=name,
        type_ref=type_ref,
        filepath=filepath,
        versioned=raw.get("versioned", False),
        options=options,
        source=source,
    )


def check_dataset_name(name: Any, *, where: str = "catalog") -> str:
    """Return ``name`` if it is a valid dataset name, else raise :class:`CatalogError`."""
    text = str(name)
    if isinstance(name, str) and "{" in text and "}" in text:
        raise CatalogError(
            f"{where}: dataset {text!r} is a dataset factory (Kedro's '{{name}}' pattern), and dataset "
            "factories are not supported: every node's outputs must be known before anything runs, "
            "so Luigi can tell which task makes each. Declare each dataset by its name (a YAML anchor, "
            "'_base: &base {...}' then '<<: *base', saves repeating the common keys)."
        )
    if not isinstance(name, str) or not _DATASET_NAME_RE.fullmatch(text) or ".." in text:
        shown = repr(text) if len(text) <= 80 else repr(text[:77] + "...")
        raise CatalogError(
            f"{where}: dataset name {shown} is not allowed: a dataset name is a name, not a "
            f"path. It must match {DATASET_NAME_RULE}. Rename the entry (its file location "
            "goes in 'filepath')."
        )
    return text


def _table_options(
    where: str, raw: Mapping[str, Any], type_ref: type[AbstractDataset[Any]] | str
) -> dict[str, Any]:
    """The validated ``schema`` and ``allow_empty`` of a table dataset's entry."""
    given = [key for key in ("schema", "allow_empty") if raw.get(key) is not None]
    if not given:
        return {}
    if not _dataset_class(type_ref).accepts_schema:
        raise CatalogError(
            f"{where}: '{given[0]}' applies only to table datasets (pandas.CSVDataset, "
            f"pandas.ParquetDataset), not to {raw['type']}. Remove it."
        )
    options: dict[str, Any] = {}
    if raw.get("allow_empty") is not None:
        if not isinstance(raw["allow_empty"], bool):
            raise CatalogError(f"{where}: 'allow_empty' must be true or false.")
        options["allow_empty"] = raw["allow_empty"]
    if raw.get("schema") is not None:
        from luigi_tasks.datasets.schema import Schema  # pandas: only for tables with a schema

        try:
            options["schema"] = Schema.parse(raw["schema"])
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}.") from None
    return options


def _credentials(where: str, ref: Any, credentials: Mapping[str, Any], credentials_file: str) -> dict[str, Any]:
    if isinstance(ref, Mapping):
        raise CatalogError(
            f"{where}: 'credentials' must name an entry of {credentials_file}, "
            "not hold the secrets themselves (the catalog is committed)."
        )
    if ref not in credentials or not isinstance(credentials[ref], Mapping):
        raise CatalogError(
            f"{where}: credentials '{ref}' are not in {credentials_file}. Add them "
            "there (config/<env>/credentials.yml is git-ignored)."
        )
    return dict(credentials[ref])


def _refuse_secret_options(config: Mapping[str, Any], source: Callable[[str], str]) -> None:
    """Refuse a credential in the ``fs_args``, or in a ``storage_options`` of the ``load_args``
    or ``save_args`` (Kedro's places for fsspec options), of any entry of a committed catalog
    (``_`` anchors too, and entries an overlay replaces: the file holds them all the same)."""
    for name, raw in config.items():
        if not isinstance(raw, Mapping):
            continue
        for args in ("load_args", "save_args"):
            if isinstance(raw.get(args), Mapping) and raw[args].get("con"):
                raise CatalogError(
                    f"{source(name)}: dataset '{name}': '{args}.con' holds a database connection string, and "
                    "this file is committed (a connection string often holds a password). Move it to an "
                    "entry of config/local/credentials.yml (git-ignored), as 'con: <url>', and name that "
                    "entry here: 'credentials: <entry>'."
                )
        places = {"fs_args": raw.get("fs_args")}
        for args in ("load_args", "save_args"):
            if isinstance(raw.get(args), Mapping):
                places[f"{args}.storage_options"] = raw[args].get("storage_options")
        for place, value in places.items():
            found = _secret_option(place, value)
            if found:
                option = found[len(place) + 1 :].split(".")[0]
                raise CatalogError(
                    f"{source(name)}: dataset '{name}': '{found}' holds a credential, and this file is "
                    f"committed (anyone who can read the repository reads it). Move '{option}' to an "
                    "entry of config/local/credentials.yml (git-ignored) and name that entry here: "
                    "'credentials: <entry>' (fsspec receives it as it receives fs_args)."
                )


def _secret_option(place: str, value: Any) -> str | None:
    """The dotted key of the first credential in ``value`` (nested mappings included)."""
    if not isinstance(value, Mapping):
        return None
    for key, item in value.items():
        name = str(key).lower()
        if name not in SECRET_OPTIONS:
            found = _secret_option(f"{place}.{key}", item)
            if found:
                return found
            continue
        if item is None or isinstance(item, bool) or item == "":
            continue  # no credential given (``anon: true`` style switches)
        if not (name == "token" and isinstance(item, str) and item in _GCSFS_TOKEN_METHODS):
            return f"{place}.{key}"
    return None


def _dataset_class(ref: type[AbstractDataset[Any]] | str) -> type[AbstractDataset[Any]]:
    if isinstance(ref, str):
        module, _, cls = ref.partition(":")
        return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
    return ref


def resolve_type_ref(type_name: str, *, where: str = "catalog") -> type[AbstractDataset[Any]] | str:
    """The class for a catalog ``type`` given by dotted path (imported and checked now), or
    the ``module:class`` of a built-in type (imported when first used)."""
    name = type_name
    for prefix in _KEDRO_PREFIXES:
        name = name.removeprefix(prefix)
    name = name.replace("DataSet", "Dataset")  # Kedro < 0.19 spelling
    if name in BUILTIN_TYPES:
        return BUILTIN_TYPES[name]
    module_part, _, short = name.rpartition(".")
    if short in _REFUSED_TYPES and (not module_part or module_part.split(".")[0] in ("kedro", "io")):
        raise CatalogError(f"{where}: type '{type_name}' cannot work here: {_REFUSED_TYPES[short]}.")
    module_name, _, class_name = type_name.rpartition(".")
    cls: Any = None
    if module_name and module_name not in {p.rstrip(".") for p in _KEDRO_PREFIXES}:
        try:
            cls = getattr(importlib.import_module(module_name), class_name, None)
        except ModuleNotFoundError as exc:
            if not exc.name or not module_name.startswith(exc.name):
                raise CatalogError(f"{where}: importing '{module_name}' failed: {exc}.") from exc
    if cls is None:
        close = difflib.get_close_matches(name, BUILTIN_TYPES, n=3, cutoff=0.4)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise CatalogError(
            f"{where}: unknown type '{type_name}'.{hint} Built-in types: "
            f"{', '.join(BUILTIN_TYPES)}; or give the dotted path of an AbstractDataset "
            "subclass that can be imported."
        )
    if not (isinstance(cls, type) and issubclass(cls, AbstractDataset)):
        raise CatalogError(
            f"{where}: type '{type_name}' is not a subclass of luigi_tasks.datasets.AbstractDataset."
        )
    return cls
