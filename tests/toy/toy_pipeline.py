"""A tiny pipeline for tests: raw -> a -> b -> c, and a -> d.

Each node appends its name to ``calls.log`` in the working folder, so tests count runs
from what the nodes did; ``step_b`` fails while a file ``FAIL_B`` exists there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from luigi_tasks import PipelineTask, node


def _called(name: str) -> None:
    with open("calls.log", "a", encoding="utf-8") as f:
        f.write(name + "\n")


def step_a(raw: pd.DataFrame) -> pd.DataFrame:
    _called("a")
    return raw.assign(x=raw["x"] * 2)


def step_b(a: pd.DataFrame) -> pd.DataFrame:
    _called("b")
    if Path("FAIL_B").exists():
        raise RuntimeError("step_b was told to fail")
    return a.assign(x=a["x"] + 1)


def step_c(b: pd.DataFrame) -> dict[str, float]:
    _called("c")
    return {"total": float(b["x"].sum())}


def step_d(a: pd.DataFrame) -> pd.DataFrame:
    _called("d")
    return a.head(1)


A = node(step_a, "raw", "a", namespace="toy")
B = node(step_b, "a", "b", namespace="toy")
C = node(step_c, "b", "c", namespace="toy")
D = node(step_d, "a", "d", namespace="toy")


class ToyPipeline(PipelineTask):
    """Everything."""

    parts = (C, D)
