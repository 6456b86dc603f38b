"""Processes of this host: whether one that left its pid somewhere (a temporary file's name,
a node's record, a run's lease, luigid's pid file) is still alive.

A zombie (ended, not yet reaped by its parent) counts as ended: it writes nothing more.
Processes of another host cannot be asked; :func:`exited_here` says ``False`` for them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (another user's counts; a zombie does not)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, another user's
        return True
    return not _is_zombie(pid)


def exited_here(host: str, pid: int) -> bool:
    """Whether ``pid`` on ``host`` is a process of this host that is gone (a worker killed or
    ended); ``False`` for another host, where it cannot be told."""
    return host == socket.gethostname() and not alive(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):  # no /proc (macOS), or it ended meanwhile
        return False
