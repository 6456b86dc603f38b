"""Atomic saves: a file appears complete under its final name, or not at all.

Data is written to a hidden temporary name in the target's own folder, then moved into
place. On a local disk the move of a version is ``link`` + ``unlink``, which refuses to
replace an existing file even when two processes race, so exactly one save of a version
wins. Object stores have no atomic no-clobber rename: there the check is best-effort.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from luigi_tasks.errors import VersionExistsError

TEMP_MARKER = ".tmp-"


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local disk (where paths can be handed to pandas directly)."""
    return isinstance(fs, LocalFileSystem)


def temp_path_for(path: str) -> str:
    """A hidden, unique name beside ``path`` (same folder, so the final move is a rename)."""
    folder, base = posixpath.split(path)
    return posixpath.join(folder, f".{base}{TEMP_MARKER}{uuid.uuid4().hex[:12]}")


@contextmanager
def atomic_write(
    fs: AbstractFileSystem, path: str, *, overwrite: bool
) -> Iterator[str | IO[bytes]]:
    """Yield where to write (a local path, or a binary file on remote storage); commit on exit.

    Example:
        >>> with atomic_write(fs, "/data/x.json", overwrite=False) as dst:
        ...     write_somehow(dst)

    Raises:
        VersionExistsError: ``path`` exists and ``overwrite`` is false (checked before
            writing and again, atomically on a local disk, when committing).
    """
    if not overwrite and fs.exists(path):
        raise VersionExistsError(f"{path} already exists")
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    tmp = temp_path_for(path)
    try:
        if is_local(fs):
            yield tmp
        else:
            with fs.open(tmp, "wb") as f:
                yield f
        _commit(fs, tmp, path, overwrite=overwrite)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


def _commit(fs: AbstractFileSystem, tmp: str, path: str, *, overwrite: bool) -> None:
    if not is_local(fs):
        if not overwrite and fs.exists(path):
            raise VersionExistsError(f"{path} already exists")
        fs.mv(tmp, path)
        return
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise VersionExistsError(f"{path} already exists") from None
    os.unlink(tmp)
