"""Project configuration: the project root and the YAML files under ``config/``.

Each file is read from ``config/`` and then from the environment overlay
``config/<env>/`` (``local`` by default, git-ignored, for per-machine settings and
credentials). An overlay replaces whole top-level entries, as Kedro's config loader does.

The project root is the folder holding ``config/``, found from the working directory
upwards, unless ``luigi.cfg`` names it::

    [luigi_tasks]
    project_root = /srv/house-prices
    env = prod
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import luigi
import yaml

from luigi_tasks.errors import ConfigError

CONFIG_DIR = "config"
# libyaml's safe loader when PyYAML was built with it: ~10x faster on large catalogs.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class luigi_tasks(luigi.Config):  # noqa: N801 - the class name is the luigi.cfg section name
    """The ``[luigi_tasks]`` section of ``luigi.cfg``."""

    project_root = luigi.Parameter(
        default="", description="Folder holding config/; default: found from the working directory upwards."
    )
    env = luigi.Parameter(default="local", description="Config overlay folder under config/.")
    runs_dir = luigi.Parameter(default="data/09_runs", description="Where run records are kept.")


def find_project_root(start: Path | None = None) -> Path:
    """The configured root, or the nearest folder upwards from ``start`` holding ``config/``."""
    configured = luigi_tasks().project_root
    if configured:
        root = Path(configured).expanduser().resolve()
        if not (root / CONFIG_DIR).is_dir():
            raise ConfigError(
                f"luigi.cfg [luigi_tasks] project_root = {configured}: no {CONFIG_DIR}/ folder "
                "there. Point it at the folder holding config/catalog.yml."
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_DIR).is_dir():
            return folder
    raise ConfigError(
        f"No {CONFIG_DIR}/ folder in {here} or any folder above it. Run from the project "
        "folder (the one holding config/catalog.yml), or set project_root in the "
        "[luigi_tasks] section of luigi.cfg."
    )


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is ``{}``. Errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        raise ConfigError(
            f"{path}: not valid YAML at {where}: {exc.problem or exc.context}. Fix the file "
            "(a common cause is a tab, or a missing space after ':')."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the file must be a YAML mapping (name: value lines), "
            f"but it holds a {type(data).__name__}."
        )
    return data


def load_config(root: Path, name: str, env: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Path]]:
    """Read ``config/<name>.yml`` and its overlay ``config/<env>/<name>.yml``.

    Returns ``(base, overlay, sources)`` where ``sources`` maps each top-level key to the
    file that set it last. Missing files are empty.
    """
    layers: list[dict[str, Any]] = []
    sources: dict[str, Path] = {}
    for folder in (root / CONFIG_DIR, root / CONFIG_DIR / env):
        path = folder / f"{name}.yml"
        data = load_yaml(path) if path.is_file() else {}
        layers.append(data)
        sources.update(dict.fromkeys(data, path))
    return layers[0], layers[1], sources


def resolve_path(root: Path, filepath: str) -> str:
    """A catalog ``filepath``: URLs and absolute paths as given, others under ``root``."""
    if "://" in filepath:
        return filepath
    path = Path(os.path.expanduser(filepath))
    return (path if path.is_absolute() else root / path).as_posix()
