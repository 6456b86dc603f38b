"""Atomic saves: a file appears complete under its final name, or not at all.

Data is written to a hidden temporary name in the target's own folder, then moved into
place. On a local disk the move of a version is ``link`` + ``unlink``, which refuses to
replace an existing file even when two processes race, so exactly one save of a version
wins. Object stores have no atomic no-clobber rename: there the check is best-effort.

A temporary name carries its writer's host and process id. A process killed mid-save
(SIGKILL, power loss) cannot remove its temporary file; the next save of the same file on
that host removes it once that process is gone.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING

from luigi_tasks.datasets.filesystem import is_local
from luigi_tasks.errors import VersionExistsError
from luigi_tasks.processes import alive

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

logger = logging.getLogger("luigi_tasks")

TEMP_MARKER = ".tmp-"
#: This host's name as temporary (and journal) file names carry it: no "-", the names' separator.
HOST = re.sub(r"[^A-Za-z0-9._]", "_", socket.gethostname())


def temp_path_for(path: str) -> str:
    """A hidden, unique name beside ``path`` (same folder, so the final move is a rename):
    ``.<name>.tmp-<host>-<pid>-<random>``."""
    folder, base = posixpath.split(path)
    return posixpath.join(folder, f".{base}{TEMP_MARKER}{HOST}-{os.getpid()}-{os.urandom(6).hex()}")


def remove_orphaned_temps(path: str) -> list[str]:
    """Remove the temporary files of earlier saves of local ``path`` whose writer, a process
    on this host, has exited; return their paths. A temporary file is never an output, so
    nothing saved is lost. Others' (another host, a live process, an unknown name) are kept."""
    folder, base = os.path.split(path)
    prefix = f".{base}{TEMP_MARKER}{HOST}-"
    removed: list[str] = []
    try:
        names = os.listdir(folder or ".")
    except FileNotFoundError:
        return removed
    for name in names:
        pid = name[len(prefix) :].partition("-")[0] if name.startswith(prefix) else ""
        if pid.isdigit() and not alive(int(pid)):
            orphan = os.path.join(folder, name)
            with suppress(FileNotFoundError):
                os.unlink(orphan)
                removed.append(orphan)
    return removed


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
    if is_local(fs):
        with _atomic_local(path, overwrite=overwrite) as tmp:
            yield tmp
        return
    if not overwrite and fs.exists(path):
        raise VersionExistsError(f"{path} already exists")
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with fs.open(tmp, "wb") as f:
            yield f
        if not overwrite and fs.exists(path):
            raise VersionExistsError(f"{path} already exists")
        fs.mv(tmp, path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


@contextmanager
def _atomic_local(path: str, *, overwrite: bool) -> Iterator[str]:
    folder = os.path.dirname(path) or "."
    try:
        os.mkdir(folder)  # a new version's folder, the common case: one call, and nothing in it yet
    except FileExistsError:
        if not overwrite and os.path.lexists(path):
            raise VersionExistsError(f"{path} already exists") from None
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)  # raises the clear error: a file is in the way
        for orphan in remove_orphaned_temps(path):  # an earlier attempt may have been killed mid-save
            logger.info("Removed %s, left by a save that was killed.", orphan)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise VersionExistsError(f"{path} already exists") from None
        os.unlink(tmp)
    except BaseException:
        with suppress(OSError):  # never hide the error that stopped the save
            os.unlink(tmp)
        raise
