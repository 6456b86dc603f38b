"""Generated pipelines of trivial nodes, as plain data: who reads and writes what.

A ``chain`` of N nodes passes an integer along (``n0000 -> n0001 -> ...``); a ``fanin``
has N-1 independent nodes and one that reads all their outputs. Each node writes one small
versioned JSON dataset ``d<i>`` at ``data/many/d<i>.json/<run_id>/d<i>.json``. The shape
and size are read from the environment (``BENCH_SHAPE``, ``BENCH_NODES``), so one module
per library (:mod:`benchmarks.nodes_luigi_tasks`, :mod:`benchmarks.nodes_bare`) serves
every size. No Luigi import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SHAPES = ("chain", "fanin")
SHAPE_ENV, NODES_ENV = "BENCH_SHAPE", "BENCH_NODES"
NAMESPACE = "many"


@dataclass(frozen=True)
class TrivialNode:
    """One node: its name, the function it calls, the datasets it reads and the one it writes."""

    name: str
    function: str  # "first" | "step" | "gather"
    inputs: tuple[str, ...]
    output: str


def first() -> int:
    """A node without inputs."""
    return 0


def step(x: int) -> int:
    """A chain link."""
    return x + 1


def gather(*xs: int) -> int:
    """The node of a fan-in."""
    return sum(xs)


FUNCTIONS = {"first": first, "step": step, "gather": gather}


def dataset(i: int) -> str:
    return f"d{i:04d}"


def filepath(name: str) -> str:
    """The (unversioned) catalog filepath of dataset ``name``, relative to the project."""
    return f"data/many/{name}.json"


def nodes(shape: str, n: int) -> list[TrivialNode]:
    """The nodes of a ``chain`` or ``fanin`` pipeline of ``n`` nodes."""
    if shape == "chain":
        return [
            TrivialNode(f"n{i:04d}", "step" if i else "first", (dataset(i - 1),) if i else (), dataset(i))
            for i in range(n)
        ]
    if shape == "fanin":
        leaves = [TrivialNode(f"n{i:04d}", "first", (), dataset(i)) for i in range(n - 1)]
        return [*leaves, TrivialNode(f"n{n - 1:04d}", "gather", tuple(x.output for x in leaves), dataset(n - 1))]
    raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")


def from_env() -> list[TrivialNode]:
    """The nodes named by ``BENCH_SHAPE`` and ``BENCH_NODES``."""
    return nodes(os.environ.get(SHAPE_ENV, "chain"), int(os.environ.get(NODES_ENV, "10")))


def env(shape: str, n: int) -> dict[str, str]:
    """The environment variables that select a pipeline."""
    return {SHAPE_ENV: shape, NODES_ENV: str(n)}


def catalog(shape: str, n: int) -> dict[str, dict[str, object]]:
    """The catalog.yml entries of the pipeline's datasets."""
    return {
        node.output: {"type": "json.JSONDataset", "filepath": filepath(node.output), "versioned": True}
        for node in nodes(shape, n)
    }
