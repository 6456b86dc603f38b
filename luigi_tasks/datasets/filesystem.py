"""Which filesystem a path is on: fsspec for every URL, a shortcut for the local disk.

``fsspec.core.url_to_fs`` parses the URL, looks up the protocol and tokenizes the options
on every call; a pipeline builds thousands of dataset objects, so a plain local path (the
common case) skips it and gets the one shared :data:`LOCAL` disk. fsspec itself is
imported only when a URL (or a method of :data:`LOCAL`) first needs it: the local paths of
a run go through ``os`` and ``open``, and importing fsspec costs every command about 15 ms.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


class LocalDisk:
    """The local disk: fsspec's ``LocalFileSystem``, made on the first use of one of its
    methods (``LOCAL.mv(a, b)``, ``LOCAL.ls(path)`` ...)."""

    _fs: Any = None

    def __getattr__(self, name: str) -> Any:
        if LocalDisk._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            LocalDisk._fs = LocalFileSystem()
        return getattr(LocalDisk._fs, name)

    def __repr__(self) -> str:
        return "LocalDisk()"


LOCAL = LocalDisk()


def is_local(fs: AbstractFileSystem | LocalDisk) -> bool:
    """Whether ``fs`` is the local disk (where paths can be handed to pandas and ``os``)."""
    if isinstance(fs, LocalDisk):
        return True
    local = sys.modules.get("fsspec.implementations.local")  # a file:// URL's filesystem
    return local is not None and isinstance(fs, local.LocalFileSystem)


def resolve(path: str, **storage_options: Any) -> tuple[AbstractFileSystem | LocalDisk, str]:
    """The filesystem of ``path`` and the path on it (absolute, for the local disk).

    Example:
        >>> resolve("data/x.csv")            # (LOCAL, '/project/data/x.csv')
        >>> resolve("s3://bucket/x.csv", key="...")
    """
    if "://" not in path and not storage_options:
        return LOCAL, os.path.abspath(path)
    import fsspec

    return cast("tuple[AbstractFileSystem, str]", fsspec.core.url_to_fs(path, **storage_options))  # fsspec: no stubs
