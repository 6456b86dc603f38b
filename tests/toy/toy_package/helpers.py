"""What ``step_e`` uses from its package: a class whose method reads a constant, functions (one
cached with ``functools.lru_cache``, one imported inside the node) and the node's decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

OFFSET = 0


class Shift:
    """Adds ``OFFSET`` to ``x``."""

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(x=frame["x"] + OFFSET)


def top(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame.head(rows)


def logged(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator, as teams put on node functions (``functools.wraps`` keeps the name)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return run


@functools.lru_cache
def scale() -> int:
    return 1  # scale


def bump(frame: pd.DataFrame) -> pd.DataFrame:
    return frame  # bump


def clip(frame: pd.DataFrame) -> pd.DataFrame:
    return frame  # clip
