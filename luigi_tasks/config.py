"""Project configuration: the project root and the YAML files under ``config/``.

Each file is read from ``config/`` and then from the environment overlay
``config/<env>/`` (``local`` by default, git-ignored, for per-machine settings and
credentials). An overlay replaces whole top-level entries, as Kedro's config loader does.

A committed file (not the overlay, never credentials) is parsed once: the result is kept as
JSON in the local runs folder (``<runs_dir>/.cache/config/``) with the file's stat (size,
inode, mtime, ctime: :func:`luigi_tasks.storage.stat_key`), and reused while it is
unchanged; most commands then skip importing PyYAML and parsing (about 15 ms, and 25 ms
more for a 1,000-dataset catalog). A file changed less than a second ago is parsed every
time (see :func:`luigi_tasks.storage.settled`).

The project root is the folder holding ``config/``, found from the working directory
upwards, unless ``luigi.cfg`` names it::

    [luigi_tasks]
    project_root = /srv/house-prices
    env = prod

Luigi reads ``./luigi.cfg`` only. From a subfolder of the project, :func:`read_luigi_cfg` adds
the project's file for the ``luigi-tasks`` commands and Python code, and a ``luigi`` run is
refused (:func:`require_luigi_cfg_read`): Luigi took its exit codes and logging when it started.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import posixpath
import sys
from pathlib import Path
from typing import Any, NoReturn

import luigi
from luigi.cmdline_parser import CmdlineParser

from luigi_tasks.errors import ConfigError
from luigi_tasks.logs import without_traceback
from luigi_tasks.storage import read_cached, settled, stat_key, write_cached

CONFIG_DIR = "config"
LUIGI_CFG = "luigi.cfg"
#: The overlay used when luigi.cfg names none; git-ignored, so often absent.
DEFAULT_ENV = "local"
#: Files never copied into the parse cache: they hold secrets.
UNCACHED = frozenset({"credentials"})
_CACHE_FORMAT = 2  # 2: floats and dates as Kedro's OmegaConf reads them (see _strict_loader)


class luigi_tasks(luigi.Config):  # noqa: N801 - the class name is the luigi.cfg section name
    """The ``[luigi_tasks]`` section of ``luigi.cfg``."""

    project_root = luigi.Parameter(
        default="", description="Folder holding config/; default: found from the working directory upwards."
    )
    env = luigi.Parameter(default=DEFAULT_ENV, description="Config overlay folder under config/.")
    runs_dir = luigi.Parameter(default="data/09_runs", description="Where run records are kept.")


def find_project_root(start: Path | None = None) -> Path:
    """The configured root, or the nearest folder upwards from ``start`` holding ``config/``."""
    configured = luigi_tasks().project_root
    if configured:
        root = Path(configured).expanduser().resolve()
        if not (root / CONFIG_DIR).is_dir():
            _refuse(ConfigError(
                f"luigi.cfg [luigi_tasks] project_root = {configured}: no {CONFIG_DIR}/ folder "
                "there. Point it at the folder holding config/catalog.yml."
            ))
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_DIR).is_dir():
            return folder
    kedro = next((f / "conf" for f in (here, *here.parents) if (f / "conf" / "base").is_dir()), None)
    if kedro is not None:
        _refuse(ConfigError(
            f"No {CONFIG_DIR}/ folder in {here} or any folder above it, but {kedro} is Kedro's "
            f"layout. luigi-tasks reads {CONFIG_DIR}/ with no base/ level: move the files of "
            f"{kedro / 'base'} to {kedro.parent / CONFIG_DIR} and {kedro / 'local'} to "
            f"{kedro.parent / CONFIG_DIR / 'local'}."
        ))
    _refuse(ConfigError(
        f"No {CONFIG_DIR}/ folder in {here} or any folder above it. Run from the project "
        "folder (the one holding config/catalog.yml), or set project_root in the "
        "[luigi_tasks] section of luigi.cfg."
    ))


#: Projects' luigi.cfg files this process added to Luigi's configuration (:func:`read_luigi_cfg`).
_added: set[Path] = set()


def unread_luigi_cfg(root: Path) -> Path | None:
    """``<root>/luigi.cfg`` if Luigi did not read it at start-up, else ``None``.

    Luigi reads ``./luigi.cfg`` (and ``LUIGI_CONFIG_PATH``), not the project's: run from a
    subfolder (the root found upwards, no ``[luigi_tasks] project_root``, no luigi.cfg in the
    working folder, ``LUIGI_CONFIG_PATH`` not naming the project's), the project's file was
    not read. (``LUIGI_CONFIG_PATH`` holding per-machine settings does not make it read.)
    """
    if os.path.exists(LUIGI_CFG):  # cheapest first
        return None
    path = root / LUIGI_CFG
    if not path.is_file() or luigi_tasks().project_root or path in _added:  # added: read now (Python, not `luigi`)
        return None
    named = os.environ.get("LUIGI_CONFIG_PATH")
    if named and os.path.isfile(named) and os.path.samefile(named, path):
        return None
    return path


def read_luigi_cfg(root: Path) -> bool:
    """Add ``<root>/luigi.cfg`` to Luigi's configuration if Luigi did not read it (see
    :func:`unread_luigi_cfg`); return whether it was added now.

    For what is not a pipeline run (the ``luigi-tasks`` commands, a notebook in a subfolder),
    so that the project's ``[luigi_tasks]`` and ``[core]`` settings apply there too.
    """
    path = unread_luigi_cfg(root)
    if path is None:
        return False
    luigi.configuration.add_config_path(str(path))
    named = os.environ.get("LUIGI_CONFIG_PATH")
    if named and os.path.isfile(named):  # read last again: per-machine settings still win, as in a run
        luigi.configuration.add_config_path(named)
    config = luigi.configuration.get_config()
    logging_conf = config.get("core", "logging_conf_file", "")
    if logging_conf and not os.path.isabs(logging_conf) and (root / logging_conf).is_file():
        # Luigi opens it from the working folder, which is not the project's here (luigi.build in notebooks/).
        config.set("core", "logging_conf_file", str(root / logging_conf))
    _added.add(path)
    return True


def require_luigi_cfg_read(root: Path) -> None:
    """Refuse to build a pipeline run's tasks when Luigi did not read ``<root>/luigi.cfg``.

    Reading it now would be too late: Luigi took its exit codes (``[retcode]``) and logging
    set-up when it started, so a failed run would exit 0.

    Raises:
        ConfigError: ``luigi`` runs from a subfolder of the project.
    """
    path = unread_luigi_cfg(root)
    if path is None:
        return
    error = ConfigError(
        f"{path} was not read: Luigi reads ./luigi.cfg, so its exit codes, logging and "
        f"[luigi_tasks] settings would be missing. Run luigi from {root} (cd {root})."
    )
    _refuse(error)


def require_own_code(root: Path, module: str) -> None:
    """Refuse to run a project's pipelines from another checkout's code: the project holds
    the package of ``module`` (a copy of the example keeps ``luigi_tasks/``), but Python
    imported that package from elsewhere (another checkout installed in this environment).
    Its edits would be silently ignored, and its fingerprints taken from the other code.

    Raises:
        ConfigError: naming both places and the install command.
    """
    top = module.partition(".")[0]
    imported = getattr(sys.modules.get(top), "__file__", None)
    own = next((p for p in (root / top / "__init__.py", root / f"{top}.py") if p.is_file()), None)
    if imported is None or own is None or Path(imported).resolve() == own.resolve():
        return
    error = ConfigError(
        f"This project ({root}) has its own {top} package, but Python imports {top} from "
        f"{Path(imported).resolve().parent}, so that code would run, not this project's. "
        f'Install this one in the environment: pip install -e "{root}" (a virtual environment '
        "per project keeps them apart)."
    )
    _refuse(error)


def _refuse(error: ConfigError) -> NoReturn:
    """Raise ``error``; in a ``luigi`` command, Luigi logs it as its message alone (it is
    raised before config/logging.ini is in force)."""
    if CmdlineParser.get_instance() is not None:
        without_traceback(error)
    raise error


def check_env(root: Path, env: str) -> None:
    """Refuse an overlay ``env`` whose ``config/<env>/`` folder is missing, but the default
    one (git-ignored, so absent on a fresh clone).

    Raises:
        ConfigError: the folder is missing; the message lists the env folders there are.
    """
    config_dir = root / CONFIG_DIR
    if env == DEFAULT_ENV or (config_dir / env).is_dir():
        return
    envs = sorted(p.name for p in config_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    machine = os.environ.get("LUIGI_CONFIG_PATH")
    where = f"luigi.cfg (or {machine}, LUIGI_CONFIG_PATH) [luigi_tasks] env = {env}" if machine else (
        f"luigi.cfg [luigi_tasks] env = {env}"
    )
    if luigi_tasks().env == env != luigi.configuration.get_config().get("luigi_tasks", "env", DEFAULT_ENV):
        where = f"--luigi-tasks-env {env}"  # given on the command line, which wins over the files
    raise ConfigError(
        f"{where}: there is no {config_dir / env}/ folder, so none of "
        f"its settings would apply. Env folders in {config_dir}: {', '.join(envs) or 'none'}. "
        f"Create {CONFIG_DIR}/{env}/, or set env to one of those."
    )


def load_yaml(path: Path, cache_dir: str | None = None) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is ``{}``. Errors name the file and line.

    With ``cache_dir``, the parsed mapping is kept there and reused while the file's stat is
    unchanged (only mappings that JSON holds exactly, of files changed over a second ago, are
    kept).
    """
    cache, key = _parse_cache(path, cache_dir)
    if cache is not None and isinstance(cached := read_cached(cache, key), dict):
        return cached
    data = _parse_yaml(path)
    # Not kept: a file changed too recently, and what JSON cannot hold exactly (dates,
    # non-string keys).
    if cache is not None and settled(key) and _json_exact(data):
        write_cached(cache, key, data)
    return data


@functools.cache
def _strict_loader() -> type:
    """PyYAML's safe loader (libyaml's when PyYAML was built with it: ~10x faster on large
    catalogs) that refuses a key given twice in one mapping, which YAML loaders otherwise
    resolve silently by keeping the last (a second ``model:`` entry would replace the first).
    Keys brought in by a merge (``<<: *defaults``) may be overridden, as YAML intends.

    Scalars are typed as Kedro's loader (OmegaConf's) types them, not by YAML 1.1's rules:
    ``1e-3`` and ``5e6`` are floats (YAML 1.1 wants ``1.0e-3``, and makes ``1e-3`` a string,
    which a node would receive as one), and ``2024-01-05`` stays a string (not a date)."""
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[valid-type, misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in lines:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice (first on line {lines[key] + 1}): keep one",
                        key_node.start_mark,
                    )
                lines[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
            |\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in StrictLoader.yaml_implicit_resolvers.items()
    }
    return StrictLoader


def parse_yaml_value(text: str) -> Any:
    """One value typed as the config files type it: ``0.5``, ``1e-3``, ``true``, ``[1, 2]``,
    ``null``, else a string.

    Raises:
        ValueError: ``text`` is not valid YAML (the parser's first line says why).
    """
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None


def _parse_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here, not at the top: with the parse cache most commands never need it

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        data = yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        hint = "" if isinstance(exc, yaml.constructor.ConstructorError) else (
            " (a common cause is a tab, or a missing space after ':')"
        )
        problem = exc.problem or exc.context
        raise ConfigError(f"{path}: not valid YAML at {where}: {problem}. Fix the file{hint}.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the file must be a YAML mapping (name: value lines), "
            f"but it holds a {type(data).__name__}."
        )
    interpolated = _interpolation(data)
    if interpolated is not None:
        key, value = interpolated
        raise ConfigError(
            f"{path}: {key} is {value!r}, an interpolation (Kedro's OmegaConf ${{...}}: globals, "
            "oc.env, runtime_params), which luigi-tasks does not resolve: it would be used as "
            "written. Write the value itself; for a value shared by several entries use a YAML "
            "anchor (&name, then *name or <<: *name)."
        )
    return data


def _interpolation(data: Any, prefix: str = "") -> tuple[str, str] | None:
    """The first (dotted key, value) whose string value, or key, holds ``${``, if any."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        name = f"{prefix}{key}" if isinstance(data, dict) else f"{prefix.rstrip('.')}[{key}]"
        if isinstance(key, str) and "${" in key:
            return name, key
        if isinstance(value, str):
            if "${" in value:
                return name, value
        elif isinstance(value, (dict, list)):
            found = _interpolation(value, f"{name}.")
            if found is not None:
                return found
    return None


def _parse_cache(path: Path, cache_dir: str | None) -> tuple[str | None, dict[str, Any]]:
    """Where ``path``'s parse is kept under ``cache_dir``, and the stat key it is kept under."""
    if cache_dir is None:
        return None, {}
    absolute = os.path.abspath(path)
    try:  # stat before parsing: an edit in between makes the key stale, never the data
        key = {"format": _CACHE_FORMAT, **stat_key(absolute)}
    except OSError:
        return None, {}
    return posixpath.join(cache_dir, hashlib.sha256(absolute.encode()).hexdigest()[:32] + ".json"), key


def _json_exact(data: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(data)) == data)
    except (TypeError, ValueError):
        return False


def load_config(
    root: Path, name: str, env: str, cache_dir: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Path]]:
    """Read ``config/<name>.yml`` and its overlay ``config/<env>/<name>.yml``.

    As in Kedro, a folder's part may be split over several files (``parameters.yml``,
    ``parameters_data_science.yaml``, ``parameters/ds.yml``: see :func:`config_files`); a
    top-level key set in two of one folder's files is refused.

    Returns ``(base, overlay, sources)`` where ``sources`` maps each top-level key to the
    file that set it last. Missing files are empty. With ``cache_dir``, the base files'
    parses are cached there (see the module docstring); the overlay and credentials never are.

    Raises:
        ConfigError: a file is malformed, or two files of one folder set one key.
    """
    layers: list[dict[str, Any]] = []
    sources: dict[str, Path] = {}
    cache = cache_dir if name not in UNCACHED else None
    for folder, folder_cache, in_env in ((root / CONFIG_DIR, cache, False), (root / CONFIG_DIR / env, None, True)):
        merged: dict[str, Any] = {}
        found: dict[str, Path] = {}
        for path in config_files(folder, name, env=in_env):
            for key, value in load_yaml(path, folder_cache).items():
                if key in found:
                    raise ConfigError(
                        f"{path}: '{key}' is set in {found[key]} too. Each top-level key belongs in one "
                        f"file of {folder}: remove one of them."
                    )
                merged[key], found[key] = value, path
        layers.append(merged)
        sources.update(found)
    return layers[0], layers[1], sources


def declaring_file(root: Path, name: str, key: str) -> str:
    """For messages: the file of ``config/`` that declares top-level ``key`` of config
    ``name`` or, if none does, the base file(s) (re-reads them: the error path only)."""
    files = config_files(root / CONFIG_DIR, name)
    for path in files:
        if key in load_yaml(path):
            return str(path)
    return ", ".join(map(str, files)) or str(root / CONFIG_DIR / f"{name}.yml")


#: The extensions of config files, as Kedro reads them.
CONFIG_EXTENSIONS = (".yml", ".yaml", ".json")


def config_files(folder: Path, name: str, *, env: bool = False) -> list[Path]:
    """The files of ``folder`` holding config ``name``, as Kedro finds them (patterns
    ``<name>*`` and ``<name>*/**``, each ``.yml``, ``.yaml`` or ``.json``): the folder's own
    files first, then those in its subfolders, each in name order. In an environment's folder
    (``env``), also ``**/<name>*``: such a file in any subfolder. (In ``config/`` itself a
    subfolder is an environment, so only ``<name>*`` subfolders count there.) Hidden files
    and folders (``.ipynb_checkpoints``) are skipped, as Kedro does."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    files, nested = [], []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.name.startswith(name) and entry.name.endswith(CONFIG_EXTENSIONS):
            files.append(Path(entry.path))
        elif entry.is_dir() and (env or entry.name.startswith(name)):
            for path in sorted(Path(entry.path).rglob("*")):
                parts = path.relative_to(folder).parts
                if (
                    path.suffix in CONFIG_EXTENSIONS and not any(part.startswith(".") for part in parts)
                    and any(part.startswith(name) for part in parts) and path.is_file()
                ):
                    nested.append(path)
    return files + nested


def resolve_path(root: Path, filepath: str) -> str:
    """A catalog ``filepath``: URLs and absolute paths as given, others under ``root``.

    ``file://`` is the local disk, so a ``file://`` path is a path like any other (a relative
    one under ``root``, not the working folder; written either way it is one file)."""
    filepath = filepath.removeprefix("file://")
    if "://" in filepath:
        return filepath
    path = Path(os.path.expanduser(filepath))
    return (path if path.is_absolute() else root / path).as_posix()
