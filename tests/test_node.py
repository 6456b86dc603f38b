"""A node's task class: output checks, keyword inputs, dict outputs, run in-process."""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import luigi
import pandas as pd
import pytest

from luigi_tasks import graph, node
from luigi_tasks.errors import NodeError
from luigi_tasks.project import current_project


def two(houses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return houses.head(2), houses.tail(3)


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    with graph.isolated_registry():
        yield


def test_returned_values_must_match_the_declared_outputs() -> None:
    spec = node(two, "houses", ["train_x", "test_x", "train_y"], name="three", namespace="n1").node
    with pytest.raises(NodeError, match=r"Node n1.Three \(two\) declares 3 outputs \(train_x, test_x, train_y\), but returned 2 values"):
        spec.bind_outputs(two(pd.DataFrame({"a": [1]})))
    single = node(two, "houses", ["train_x", "test_x"], name="pair", namespace="n1").node
    with pytest.raises(NodeError, match="returned one DataFrame"):
        single.bind_outputs(pd.DataFrame())
    mapped = node(two, "houses", {"left": "train_x", "right": "test_x"}, name="mapped", namespace="n1").node
    assert mapped.bind_outputs({"left": 1, "right": 2}) == {"train_x": 1, "test_x": 2}
    with pytest.raises(NodeError, match=r"declares outputs \['left', 'right'\] \(a dict\), but returned \['left'\]"):
        mapped.bind_outputs({"left": 1})


def split_kw(frame: pd.DataFrame, how: dict) -> dict[str, pd.DataFrame]:
    cut = int(len(frame) * how["test_size"])
    return {"test": frame.iloc[:cut], "train": frame.iloc[cut:]}


def test_keyword_inputs_and_dict_outputs_run_through_luigi(in_project: Path) -> None:
    task_class = node(
        split_kw,
        inputs={"how": "params:split", "frame": "houses"},
        outputs={"train": "train_x", "test": "test_x"},
        namespace="n2",
    )
    task = task_class(run_id="kw1")
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    catalog = current_project().catalog
    assert len(catalog.load("test_x", "kw1")) == 109 and len(catalog.load("train_x", "kw1")) == 437
    assert task.complete() and task.requires()[0].task_family == "RawData"


def test_task_classes_find_their_parameters_once_and_as_luigi_does() -> None:
    """FixedParams keeps Luigi's own answer per class; a subclass adding a parameter gets its own."""
    from luigi_tasks.node import NodeTask
    from luigi_tasks.pipeline import PipelineTask
    from luigi_tasks.task_params import FixedParams

    task_class = node(two, inputs="houses", outputs=["head_x", "tail_x"], namespace="n3")
    names = [name for name, _ in task_class.get_params()]
    assert names == [name for name, _ in luigi.Task.get_params.__func__(task_class)] == ["run_id"]
    assert task_class.get_params() is not task_class.get_params()  # a copy: callers may change it
    assert [n for n, _ in PipelineTask.get_params()] == ["run_id", "reuse_from", "params"]

    assert [n for n, _ in NodeTask.get_params()] == ["run_id"]

    class Base(FixedParams, luigi.Task):
        first = luigi.Parameter()

    assert [n for n, _ in Base.get_params()] == ["first"]

    class Extended(Base):
        extra = luigi.Parameter(default="x")

    assert [n for n, _ in Extended.get_params()] == ["first", "extra"]
    assert Extended(first="a").extra == "x" and Extended(first="a", extra="y").task_id != Extended(first="a").task_id


def scale(frame: pd.DataFrame, factor: int) -> pd.DataFrame:
    return frame * factor


class Shift:
    """A callable object as a node function."""

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame + 1


@dataclasses.dataclass
class ScaleBy:
    """A dataclass instance as a node function: unhashable (eq without frozen)."""

    factor: int

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame * self.factor


def test_an_unhashable_callable_object_is_fingerprinted_by_its_class() -> None:
    from luigi_tasks.fingerprint import code_hash

    assert code_hash(ScaleBy(2)) == code_hash(ScaleBy(3)) != code_hash(Shift())  # its state is not code
    assert node(ScaleBy(2), "houses", "out4", name="scale_by").node.func_name == "ScaleBy"


_HASH_IN_A_FRESH_PROCESS = """
import functools, sys
sys.path.insert(0, {root!r})
from luigi_tasks.fingerprint import code_hash
from tests.test_node import Shift, scale
print(code_hash(functools.partial(scale, factor=3)), code_hash(Shift()))
"""


def test_a_partial_or_callable_object_is_named_and_fingerprinted_by_its_code() -> None:
    """Their repr holds a memory address, new in every process: hashed, it made the node
    stale on every rerun."""
    import subprocess
    import sys
    from functools import partial

    from luigi_tasks.fingerprint import code_hash

    task = node(partial(scale, factor=3), "houses", "out", name="scale3")
    assert task.get_task_family() == "test_node.Scale3" and task.node.func_name == "partial(scale)"
    assert node(partial(scale, factor=3), "houses", "out2").get_task_family() == "test_node.Scale"
    assert node(Shift(), "houses", "out3", name="shift").node.func_name == "Shift"

    script = _HASH_IN_A_FRESH_PROCESS.format(root=str(Path(__file__).resolve().parents[1]))
    hashes = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
              for _ in range(2)]
    assert hashes[0] == hashes[1] and hashes[0].split() == [code_hash(partial(scale, factor=3)), code_hash(Shift())]
    assert code_hash(partial(scale, factor=4)) != code_hash(partial(scale, factor=3))
    from luigi_tasks.fingerprint import Fingerprint

    new, old = (Fingerprint(code_hash(partial(scale, factor=f)), "p", {}, str(f)) for f in (4, 3))
    assert new.explain_change(old, task.node.func_name) == "code or bound arguments changed in partial(scale)"


PLAIN = {"scale": 2.0, "columns": ("x", "y"), "letters": frozenset("abcdefghij"), "none": None}
PATTERN = re.compile(r"\d+")
OPAQUE = object()


class _Unfriendly:
    """Its repr and every attribute lookup raise: hashing code that names it must not ask."""

    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(name)

    def __repr__(self) -> str:
        raise RuntimeError("repr")


UNFRIENDLY = _Unfriendly()


class _Ring:
    """Names itself and mutually recursive helpers: following them must end."""

    def turn(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _Ring.back(frame) * self.size

    @staticmethod
    def back(frame: pd.DataFrame) -> pd.DataFrame:
        return _ping(frame, 2)

    @property
    def size(self) -> float:
        return PLAIN["scale"]


def _ping(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return _pong(frame, n - 1) if n else frame


def _pong(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return _ping(frame, n)


def reads_globals(frame: pd.DataFrame, rows: int = 3, *, label: str | None = None) -> pd.DataFrame:
    if PATTERN.match("1") and OPAQUE is not None and UNFRIENDLY is not None:
        frame = _Ring().turn(frame)
    return frame.head(rows) * PLAIN["scale"]


def _with_globals(func: Any, **values: Any) -> Any:
    """``func`` reading other values for some of its globals (a new function: not cached)."""
    copy = types.FunctionType(func.__code__, {**func.__globals__, **values}, func.__name__, func.__defaults__)
    copy.__kwdefaults__ = func.__kwdefaults__
    return copy


_GLOBALS_HASH_IN_A_FRESH_PROCESS = """
import sys
sys.path.insert(0, {root!r})
from luigi_tasks.fingerprint import code_hash
from tests.test_node import reads_globals
print(code_hash(reads_globals))
"""


def test_the_code_hash_counts_plain_constants_and_defaults_and_skips_other_values() -> None:
    """A constant the code reads counts by its value, if that is plain data (the same repr in
    every process: sets sorted); a regex, an object (whose repr has a memory address, or
    raises) do not count; classes and helpers that name each other are followed to an end."""
    import subprocess
    import sys

    from luigi_tasks import fingerprint
    from luigi_tasks.fingerprint import code_hash

    script = _GLOBALS_HASH_IN_A_FRESH_PROCESS.format(root=str(Path(__file__).resolve().parents[1]))
    hashes = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
              for _ in range(3)}
    assert hashes == {code_hash(reads_globals)}

    base = code_hash(_with_globals(reads_globals))
    assert base == code_hash(reads_globals)
    assert code_hash(_with_globals(reads_globals, PLAIN={**PLAIN, "scale": 3.0})) != base
    assert code_hash(_with_globals(reads_globals, PLAIN={**PLAIN, "letters": frozenset("abcdefghijk")})) != base
    assert code_hash(_with_globals(reads_globals, PATTERN=re.compile("other"), OPAQUE=object())) == base
    assert code_hash(_with_globals(reads_globals, UNFRIENDLY=_Unfriendly())) == base
    other_default, other_keyword_default = _with_globals(reads_globals), _with_globals(reads_globals)
    other_default.__defaults__ = (4,)
    other_keyword_default.__kwdefaults__ = {"label": "x"}
    assert len({base, code_hash(other_default), code_hash(other_keyword_default)}) == 3

    # Code that reads nothing more than before hashes as before: its syntax tree alone.
    assert code_hash(scale) == fingerprint._digest(fingerprint._source_tree(scale))


def test_a_kedro_style_nodes_module_names_the_namespace_after_its_pipeline() -> None:
    from luigi_tasks.node import default_namespace

    assert default_namespace("my_project.pipelines.data_processing.nodes") == "data_processing"
    assert default_namespace("luigi_tasks.pipelines.data_science") == "data_science"
    assert default_namespace("nodes") == "nodes"
