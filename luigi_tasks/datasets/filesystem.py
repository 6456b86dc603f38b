"""Which filesystem a path is on: fsspec for every URL, a shortcut for the local disk.

``fsspec.core.url_to_fs`` parses the URL, looks up the protocol and tokenizes the options
on every call; a pipeline builds thousands of dataset objects, so a plain local path (the
common case) skips it and gets the one shared :class:`LocalFileSystem`.
"""

from __future__ import annotations

import os
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

LOCAL = LocalFileSystem()


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local disk (where paths can be handed to pandas and ``os``)."""
    return isinstance(fs, LocalFileSystem)


def resolve(path: str, **storage_options: Any) -> tuple[AbstractFileSystem, str]:
    """The filesystem of ``path`` and the path on it (absolute, for the local disk).

    Example:
        >>> resolve("data/x.csv")            # (LOCAL, '/project/data/x.csv')
        >>> resolve("s3://bucket/x.csv", key="...")
    """
    if "://" not in path and not storage_options:
        return LOCAL, os.path.abspath(path)
    return fsspec.core.url_to_fs(path, **storage_options)
