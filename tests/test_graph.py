"""Resolving nodes into a graph: producers, cycles, undeclared outputs and parameters."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from luigi_tasks import graph, node
from luigi_tasks.errors import NodeError, PipelineError
from luigi_tasks.project import Project


def ident(x: object) -> object:
    return x


@pytest.fixture
def example(project: Path) -> Iterator[Project]:
    with graph.isolated_registry():
        yield Project.load(project)


def test_producers_and_raw_inputs_are_found_through_the_catalog(example: Project) -> None:
    a = node(ident, "houses", "train_x", name="make_x", namespace="g1")
    b = node(ident, "train_x", "model", name="fit", namespace="g1")
    g = graph.resolve([a, b], example)
    assert g.producers == {"train_x": a, "model": b}
    assert g.upstream == {a: (), b: (a,)} and g.raw_inputs == {a: ("houses",), b: ()}
    assert g.downstream_closure(a) == [a, b]
    assert a.get_task_family() == "g1.MakeX"


def test_two_producers_of_one_dataset_are_named(example: Project) -> None:
    a = node(ident, "houses", "train_x", name="one", namespace="g2")
    b = node(ident, "houses", "train_x", name="two", namespace="g2")
    with pytest.raises(PipelineError, match=re.escape(
        "Dataset 'train_x' is produced by two nodes: g2.One and g2.Two. A dataset has exactly one producer: rename "
        "the output of one of them (every node() the imported modules make counts, in a pipeline's parts or not"
    )):
        graph.resolve([a, b], example)


def test_a_cycle_is_named_node_by_node(example: Project) -> None:
    a = node(ident, "model", "train_x", name="p", namespace="g3")
    b = node(ident, "train_x", "test_x", name="q", namespace="g3")
    c = node(ident, "test_x", "model", name="r", namespace="g3")
    with pytest.raises(PipelineError, match=r"cycle: g3\.\w -> g3\.\w -> g3\.\w -> g3\.\w"):
        graph.resolve([a, b, c], example)


def test_undeclared_outputs_inputs_and_parameters_are_refused(example: Project) -> None:
    with pytest.raises(PipelineError, match=re.escape("Node g4.Out outputs 'nowhere', which is not in the catalog")):
        graph.resolve([node(ident, "houses", "nowhere", name="out", namespace="g4")], example)
    with pytest.raises(PipelineError, match=re.escape(
        f"Node g4.Inp ({os.path.relpath(__file__)}) reads 'housse', which is not in the catalog. "
        "Did you mean 'houses'? Fix the name in the node's inputs, or declare the dataset in config/catalog.yml."
    )):
        graph.resolve([node(ident, "housse", "train_x", name="inp", namespace="g4")], example)
    with pytest.raises(PipelineError, match=re.escape("Node g4.Par: Parameter 'split.size' is not in config/parameters.yml")):
        graph.resolve([node(ident, "params:split.size", "train_x", name="par", namespace="g4")], example)
    with pytest.raises(PipelineError, match=re.escape(
        "Node g4.Par2: Parameter 'split.test_sise' is not in config/parameters.yml (under "
    ) + r".*\(did you mean 'split.test_size'\?\)\. Add it there"):
        graph.resolve([node(ident, "params:split.test_sise", "train_x", name="par2", namespace="g4")], example)


def test_inputs_must_fit_the_function(example: Project) -> None:
    two = node(ident, ["houses", "params:split"], "train_x", name="two_args", namespace="g5")
    with pytest.raises(NodeError, match=r"Node g5.TwoArgs: inputs \['houses', 'params:split'\] do not fit ident"):
        graph.resolve([two], example)


def _pick(logreg: dict, forest: dict) -> dict:
    return logreg


def test_a_dict_input_key_the_function_lacks_is_named(example: Project) -> None:
    """Python's bind() would say 'missing a required argument: forest': the typo is the key 'forst'."""
    typo = node(_pick, {"logreg": "houses", "forst": "train_x"}, "test_x", name="pick", namespace="g6")
    with pytest.raises(NodeError) as refused:
        graph.resolve([typo], example)
    assert str(refused.value) == (
        "Node g6.Pick: inputs {'logreg': 'houses', 'forst': 'train_x'} do not fit _pick(logreg: 'dict', forest: 'dict') "
        "-> 'dict': it has no argument 'forst' (did you mean 'forest'?). Make the inputs match the function's arguments."
    )


def test_node_declaration_errors() -> None:
    with pytest.raises(NodeError, match="has no outputs"):
        node(ident, "houses", [], name="nothing")
    with pytest.raises(NodeError, match="not an identifier"):
        node(ident, "houses", "x", name="bad name")


TRANSCODING_MODULE = '''
import pandas as pd
from luigi_tasks import PipelineTask, node

def make(houses: pd.DataFrame) -> pd.DataFrame:
    return houses[["price"]].head(5)

def total(frame: pd.DataFrame) -> dict:
    return {"rows": len(frame), "price": float(frame["price"].sum())}

Make = node(make, "houses", "prices@pandas", namespace="tc")
Total = node(total, "prices@arrow", "summary", namespace="tc")

class Everything(PipelineTask):
    parts = (Total,)
'''


def test_a_transcoded_input_depends_on_the_node_saving_its_base_name(project: Path) -> None:
    """Kedro's transcoding: ``prices@arrow`` is read from the file saved as ``prices@pandas``,
    so its reader runs after that node, in the first run (not as a missing raw input)."""
    import json

    from tests.conftest import run_luigi

    catalog = project / "config" / "catalog.yml"
    shared = "filepath: data/02_intermediate/prices.parquet, versioned: true"
    catalog.write_text(
        catalog.read_text(encoding="utf-8")
        + f"prices@pandas: {{type: pandas.ParquetDataset, {shared}}}\n"
        + f"prices@arrow: {{type: pandas.ParquetDataset, {shared}, load_args: {{columns: [price]}}}}\n"
        + "summary: {type: json.JSONDataset, filepath: data/08_reporting/summary.json, versioned: true}\n",
        encoding="utf-8",
    )
    (project / "transcoding.py").write_text(TRANSCODING_MODULE, encoding="utf-8")
    env = {"PYTHONPATH": str(project)}
    result = run_luigi(project, "--module", "transcoding", "Everything", "--local-scheduler", "--run-id", "t1", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((project / "data/08_reporting/summary.json/t1/summary.json").read_text())
    assert summary["rows"] == 5 and summary["price"] > 0
    # Make reused, Total run (its t1 output is gone): it reads t1's version through its own entry.
    (project / "data/08_reporting/summary.json/t1/summary.json").unlink()
    reused = run_luigi(project, "--module", "transcoding", "Everything", "--local-scheduler", "--run-id", "t2",
                       "--reuse-from", "t1", env=env)
    assert reused.returncode == 0 and "tc.Total [run t2] done" in reused.stderr, reused.stderr[-3000:]
    assert json.loads((project / "data/08_reporting/summary.json/t2/summary.json").read_text()) == summary
    assert not (project / "data/02_intermediate/prices.parquet/t2").exists()

    with graph.isolated_registry():
        loaded = Project.load(project)
        make = node(ident, "houses", "prices@pandas", name="make", namespace="tc2")
        total = node(ident, "prices@arrow", "summary", name="total", namespace="tc2")
        g = graph.resolve([make, total], loaded)
        assert g.upstream[total] == (make,) and g.raw_inputs[total] == () and g.producer("prices@arrow") is make
        from luigi_tasks.viz import diagram  # the reader hangs off the dataset its producer saves

        assert {n.family: n.inputs for n in diagram(loaded, g).nodes}["tc2.Total"] == ("prices@pandas",)
        arrow = f"prices@arrow: {{type: pandas.ParquetDataset, {shared}"
        catalog.write_text(catalog.read_text(encoding="utf-8").replace(
            arrow, arrow.replace("prices.parquet", "other.parquet")
        ), encoding="utf-8")
        with pytest.raises(PipelineError, match=re.escape(
            "Dataset 'prices@arrow' is read from what tc2.Make saves as 'prices@pandas' (transcoding")):
            graph.resolve([make, total], Project.load(project))


def test_an_output_twice_or_a_parameter_as_output_is_named_as_such(example: Project) -> None:
    twice = node(ident, "houses", ["train_x", "train_x"], name="twice", namespace="g8")
    with pytest.raises(PipelineError, match=re.escape("Node g8.Twice lists output 'train_x' twice: list it once.")):
        graph.resolve([twice], example)
    param = node(ident, "houses", "params:split", name="param", namespace="g8")
    with pytest.raises(PipelineError, match=re.escape("Node g8.Param outputs 'params:split', a parameter")):
        graph.resolve([param], example)
