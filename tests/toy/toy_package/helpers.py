"""What ``step_e`` uses from its package: a class whose method reads a constant, and a function."""

from __future__ import annotations

import pandas as pd

OFFSET = 0


class Shift:
    """Adds ``OFFSET`` to ``x``."""

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(x=frame["x"] + OFFSET)


def top(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return frame.head(rows)
