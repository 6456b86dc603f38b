"""Small JSON files (run records, caches) on any fsspec path, replaced atomically."""

from __future__ import annotations

import json
from typing import Any

import fsspec

from luigi_tasks.datasets.atomic import atomic_write


def write_json(url: str, data: Any, *, overwrite: bool = True) -> None:
    """Write ``data`` as JSON at ``url``; with ``overwrite=False`` an existing file wins
    (:class:`~luigi_tasks.errors.VersionExistsError`)."""
    fs, path = fsspec.core.url_to_fs(url)
    payload = json.dumps(data, indent=2, sort_keys=True, default=str).encode("utf-8")
    with atomic_write(fs, path, overwrite=overwrite) as dst:
        if isinstance(dst, str):
            with open(dst, "wb") as f:
                f.write(payload)
        else:
            dst.write(payload)


def read_json(url: str) -> Any | None:
    """The JSON at ``url``, or ``None`` if there is no file."""
    fs, path = fsspec.core.url_to_fs(url)
    try:
        with fs.open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


def list_json(url: str) -> list[str]:
    """The ``*.json`` files directly in folder ``url`` (full URLs), sorted."""
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.isdir(path):
        return []
    protocol = url.split("://", 1)[0] + "://" if "://" in url else ""
    return sorted(protocol + p if protocol else p for p in fs.glob(path.rstrip("/") + "/*.json"))
