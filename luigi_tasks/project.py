"""The project a run belongs to: its root folder, catalog and parameters, read once.

Node tasks ask :func:`current_project` for these; it reads and checks the configuration
the first time it is needed (not at import), so a mistake surfaces as a clear
:class:`~luigi_tasks.errors.ConfigError` before any task runs.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luigi.cmdline_parser import CmdlineParser

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.config import (
    DEFAULT_ENV,
    check_env,
    declaring_file,
    find_project_root,
    load_config,
    luigi_tasks,
    read_luigi_cfg,
    resolve_path,
)
from luigi_tasks.errors import ConfigError
from luigi_tasks.storage import local_cache_path

PARAMS_PREFIX = "params:"
ALL_PARAMETERS = "parameters"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per process
class Project:
    """A project's root folder, its catalog and its parameters."""

    root: Path
    env: str
    catalog: DataCatalog
    parameters: dict[str, Any]
    runs_dir: str
    #: Top-level parameters an overlay (``config/<env>/parameters.yml``) replaces: its file.
    overlaid: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, env: str = DEFAULT_ENV, runs_dir: str = "data/09_runs") -> Project:
        """Read ``config/`` under ``root`` with the ``config/<env>/`` overlay.

        Raises:
            ConfigError: a file is malformed, ``config/<env>/`` is missing (but for the default
                ``local``), or the overlay sets a parameter the base file does not declare.
        """
        check_env(root, env)
        runs_dir = resolve_path(root, runs_dir)
        cache_dir = local_cache_path(runs_dir, "config")
        base, overlay, sources = load_config(root, "parameters", env, cache_dir)
        undeclared = undeclared_parameters(base, overlay)
        if undeclared:
            shown = ", ".join(
                f"'{key}'" + (f" (did you mean '{close}'?)" if close else "") for key, close in undeclared
            )
            top = undeclared[0][0].split(".")[0]
            raise ConfigError(
                f"{sources[top]}: sets parameter(s) {shown} that {declaring_file(root, 'parameters', top)} "
                "does not declare. Declare them in the base file, or fix the name."
            )
        return cls(
            root=root,
            env=env,
            catalog=DataCatalog.from_project(root, env, cache_dir),
            parameters={**base, **overlay},
            runs_dir=runs_dir,
            overlaid={key: sources[key] for key in overlay},
        )

    def parameter(self, ref: str, parameters: dict[str, Any] | None = None) -> Any:
        """The value of ``parameters`` or ``params:<dotted.key>``, in the project's parameters
        or in ``parameters`` (a run's: :func:`luigi_tasks.run_params.run_parameters`).

        Raises:
            ConfigError: the key is not in ``config/parameters.yml``.
        """
        parameters = self.parameters if parameters is None else parameters
        if ref == ALL_PARAMETERS:
            return parameters
        path = ref.removeprefix(PARAMS_PREFIX)
        found, value = dotted(parameters, path)
        if not found:
            top = path.split(".")[0]
            hint = _closest(parameters, path)
            if top in self.overlaid and top != path and not hint:
                raise ConfigError(
                    f"Parameter '{path}' is not in the parameters: {self.overlaid[top]} sets '{top}', which "
                    f"replaces the whole '{top}' of config/parameters.yml (an overlay replaces a top-level "
                    f"entry whole, as in Kedro). Give '{top}' all its keys there, or fix the name in the "
                    "node's inputs."
                )
            raise ConfigError(
                f"Parameter '{path}' is not in config/parameters.yml (under {self.root}){hint}. "
                "Add it there, or fix the name in the node's inputs."
            )
        return value


def _closest(parameters: dict[str, Any], path: str) -> str:
    """`` (did you mean 'model.threshold'?)`` for a misspelt last part of ``path``, or ``''``."""
    parent, _, leaf = path.rpartition(".")
    found, mapping = dotted(parameters, parent) if parent else (True, parameters)
    if not found or not isinstance(mapping, dict):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in mapping], n=1)
    return f" (did you mean '{parent + '.' if parent else ''}{close[0]}'?)" if close else ""


def dotted(parameters: dict[str, Any], key: str) -> tuple[bool, Any]:
    """Whether ``parameters`` hold ``key`` (dotted: ``model.init_args.alpha``), and its value."""
    value: Any = parameters
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def undeclared_parameters(
    base: dict[str, Any], overlay: dict[str, Any], prefix: str = ""
) -> list[tuple[str, str | None]]:
    """The keys, dotted (``split.test_siz``), that ``overlay`` sets and ``base`` does not
    declare, each with the closest key declared beside it (or ``None``).

    Nested mappings are compared too, since a misspelt key there would leave the node without
    the real one; an empty mapping in the base (``init_args: {}``) is open to any keys.
    """
    found: list[tuple[str, str | None]] = []
    for key, value in overlay.items():
        if key not in base:
            close = difflib.get_close_matches(str(key), [str(k) for k in base], n=1)
            found.append((f"{prefix}{key}", f"{prefix}{close[0]}" if close else None))
        elif isinstance(value, dict) and isinstance(base[key], dict) and base[key]:
            found += undeclared_parameters(base[key], value, f"{prefix}{key}.")
    return found


def is_parameter(ref: str) -> bool:
    """Whether a node input names a parameter rather than a dataset."""
    return ref == ALL_PARAMETERS or ref.startswith(PARAMS_PREFIX)


@functools.cache
def current_project() -> Project:
    """The project of this process (from luigi.cfg ``[luigi_tasks]`` or the working folder).

    From a subfolder of the project (a notebook in ``notebooks/``, a ``luigi-tasks`` command),
    the project's luigi.cfg, which Luigi did not read, is read first. Not in a ``luigi``
    command: it would come too late there, and building its tasks is refused
    (:func:`luigi_tasks.config.require_luigi_cfg_read`).
    """
    root = find_project_root()
    if CmdlineParser.get_instance() is None and read_luigi_cfg(root):
        root = find_project_root()  # the file may name another project_root
    settings = luigi_tasks()
    return Project.load(root, env=settings.env, runs_dir=settings.runs_dir)
