"""Small JSON files on any fsspec path, replaced atomically: ``run.json``, caches, and node
records on object stores."""

from __future__ import annotations

import json
import os
import posixpath
import time
from contextlib import suppress
from typing import Any, cast

from luigi_tasks.datasets import filesystem
from luigi_tasks.datasets.atomic import atomic_write


def write_json(url: str, data: Any, *, overwrite: bool = True, sort_keys: bool = True) -> None:
    """Write ``data`` as JSON at ``url``; with ``overwrite=False`` an existing file wins
    (:class:`~luigi_tasks.errors.VersionExistsError`). ``sort_keys=False`` keeps mappings'
    order."""
    fs, path = filesystem.resolve(url)
    # No indent: json's C encoder handles only compact output (indented is pure Python).
    payload = json.dumps(data, sort_keys=sort_keys, default=str).encode("utf-8")
    with atomic_write(fs, path, overwrite=overwrite) as dst:
        if isinstance(dst, str):
            with open(dst, "wb") as f:
                f.write(payload)
        else:
            dst.write(payload)


def read_json(url: str) -> Any | None:
    """The JSON at ``url``, or ``None`` if there is no file."""
    fs, path = filesystem.resolve(url)
    opener = open if filesystem.is_local(fs) else fs.open  # the builtin skips fsspec's wrapper
    try:
        with opener(path, "rb") as f:
            return json.loads(f.read())
    except (FileNotFoundError, NotADirectoryError):  # a file where its folder would be: a user's note
        return None


def list_json(url: str) -> list[str]:
    """The ``*.json`` files directly in folder ``url`` (full URLs), sorted."""
    return [posixpath.join(url, name) for name in list_names(url) if name.endswith(".json")]


def list_names(url: str) -> list[str]:
    """The names in folder ``url`` (no hidden ones, sorted); empty if there is no folder."""
    fs, path = filesystem.resolve(url)
    if filesystem.is_local(fs):
        try:
            names = os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
    else:
        if not fs.isdir(path):
            return []
        names = [posixpath.basename(p.rstrip("/")) for p in fs.ls(path, detail=False)]
    return sorted(n for n in names if not n.startswith("."))


CACHE_DIR = ".cache"


def cache_path(runs_dir: str, *parts: str) -> str:
    """``<runs_dir>/.cache/<parts>``: where luigi-tasks keeps what is costly to work out on
    every command."""
    return posixpath.join(runs_dir, CACHE_DIR, *parts)


def local_cache_path(runs_dir: str, *parts: str) -> str | None:
    """:func:`cache_path`, or ``None`` when the runs folder is remote: for what is cheaper to
    work out again than to fetch."""
    return None if "://" in runs_dir else cache_path(runs_dir, *parts)


def read_cached(url: str, key: Any) -> Any | None:
    """The value kept at ``url`` under ``key`` (:func:`write_cached`); ``None`` if there is
    none, it is damaged or unreadable, or it was kept under another key."""
    try:
        cached = read_json(url)
    except (OSError, ValueError):
        return None
    return cached.get("value") if isinstance(cached, dict) and cached.get("key") == key else None


def write_cached(url: str, key: Any, value: Any) -> None:
    """Keep ``value`` at ``url`` under ``key`` (mappings in their order). A cache that cannot
    be written (read-only folder, full disk) is skipped: it only costs the next command the
    work again."""
    with suppress(OSError):
        write_json(url, {"key": key, "value": value}, sort_keys=False)


#: How long after its last change a file is trusted to be recognised by its stat.
SETTLE_NS = 1_000_000_000


def stat_key(path: str) -> dict[str, Any]:
    """What tells a local file's content apart without reading it, for a cache key: its path,
    size, inode, and modification and change times. Raises :class:`OSError` if it cannot be
    stat'ed.

    The mtime alone is not enough: ``cp -p`` and ``rsync -t`` give new content the old mtime,
    but a replaced file has a new inode and an overwritten one a new ctime (which no tool sets).
    A false change (``chmod`` also moves the ctime) only costs the work again.
    """
    st = os.stat(path)
    return {"path": path, "size": st.st_size, "inode": st.st_ino,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def settled(key: dict[str, Any]) -> bool:
    """Whether a file with this :func:`stat_key` may be cached under it.

    File times are coarse (a few ms): a same-size edit within the same tick as the cached
    version would look unchanged (git's "racily clean" files), so a file changed less than
    :data:`SETTLE_NS` ago is not cached.
    """
    return time.time_ns() - cast(int, max(key["mtime_ns"], key["ctime_ns"])) >= SETTLE_NS
