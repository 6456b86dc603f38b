"""`luigi-tasks viz`: the diagram has every node and dataset where the pipeline has them, in
the states of a run, and the real renderers draw it: Graphviz's `dot`, and Mermaid in
headless Chromium (`.ci/run` installs both: Debian's graphviz, `npm ci --prefix tests/js`)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

from playwright.sync_api import Page

from luigi_tasks.viz import COLOURS, Diagram, DiagramNode, to_dot, to_mermaid
from tests.browser_support import browser_fixture, page_fixture  # noqa: F401 - the `browser` and `page` fixtures
from tests.conftest import REPO, run_cli, run_toy
from tests.toy import TOY_DIR

#: The example project, written out by hand from its two pipeline modules.
EXAMPLE_EDGES = {
    ("houses", "PreprocessHouses"), ("PreprocessHouses", "preprocessed_houses"),
    ("preprocessed_houses", "SplitData"),
    ("SplitData", "train_x"), ("SplitData", "test_x"), ("SplitData", "train_y"), ("SplitData", "test_y"),
    ("train_x", "TrainModel"), ("train_y", "TrainModel"), ("TrainModel", "model"),
    ("model", "Predict"), ("test_x", "Predict"), ("Predict", "predictions"),
    ("predictions", "EvaluateModel"), ("test_y", "EvaluateModel"), ("EvaluateModel", "metrics"),
}
MERMAID_JS = REPO / "tests" / "js" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
#: A diagram whose names hold what both formats must escape.
ODD_NAME = 'sales "EU" <2024> #1 \\ final'
ODD = Diagram(
    (DiagramNode("ns.Clean", "ns", (ODD_NAME,), ("out",), "failed", 'failed: KeyError: "x"'),),
    {ODD_NAME: "", "out": "ns"},
)
TOY_ENV = {"PYTHONPATH": os.pathsep.join([str(TOY_DIR), str(REPO)])}


def drawn(dot_source: str) -> dict:
    """What Graphviz made of ``dot_source`` (its JSON output: every node, cluster and edge)."""
    done = subprocess.run(["dot", "-Tjson"], input=dot_source, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def lines(label: str) -> list[str]:
    """A label as Graphviz draws it (its JSON gives labels as written: ``\\n``, ``\\\\``)."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), label).split("\n")


def drawn_edges(graph: dict) -> set[tuple[str, str]]:
    label = {o["_gvid"]: lines(o["label"])[0] for o in graph["objects"] if "nodes" not in o}
    return {(label[e["tail"]], label[e["head"]]) for e in graph.get("edges", [])}


def drawn_clusters(graph: dict) -> dict[str, set[str]]:
    label = {o["_gvid"]: lines(o["label"])[0] for o in graph["objects"]}
    return {o["label"]: {label[i] for i in o["nodes"]} for o in graph["objects"] if "nodes" in o}


def mermaid_graph(text: str) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """The edges of a Mermaid flowchart by label, and each box's group (``""``: none)."""
    labels: dict[str, str] = {}
    group_of: dict[str, str] = {}
    edges = []
    group = ""
    for line in text.splitlines()[1:]:
        if m := re.fullmatch(r'\s*subgraph (\w+) \["(.*)"\]', line):
            group = m.group(2)
        elif line.strip() == "end":
            group = ""
        elif m := re.fullmatch(r'\s*(\w+)\[\(?"(.*?)(?:<br/>.*)?"\)?\]', line):
            labels[m.group(1)] = m.group(2)
            group_of[m.group(2)] = group
        elif m := re.fullmatch(r"\s*(\w+) --> (\w+)", line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.fullmatch(r"\s*(classDef|class) .*", line), f"unexpected line: {line!r}"
    return {(labels[a], labels[b]) for a, b in edges}, group_of


def rendered(page: Page, text: str) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """What Mermaid draws of ``text`` in Chromium: its edges by box text, and each box's
    class. Mermaid throws, failing the test, on text it cannot parse."""
    assert MERMAID_JS.exists(), f"{MERMAID_JS} is missing: npm ci --prefix tests/js (.ci/run does)"
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(MERMAID_JS))
    drawing = page.evaluate(
        """async (text) => {
            mermaid.initialize({startOnLoad: false});
            document.body.innerHTML = (await mermaid.render("diagram", text)).svg;
            return {
                boxes: [...document.querySelectorAll("g.node")].map(
                    (n) => [n.id.split("-")[2], n.textContent, n.getAttribute("class")]),
                edges: [...document.querySelectorAll("path.flowchart-link")].map((e) => e.dataset.id),
            };
        }""",
        text,
    )
    text_of = {box_id: box_text for box_id, box_text, _ in drawing["boxes"]}
    edges = set()
    for edge in drawing["edges"]:
        _, tail, head, _ = edge.split("_")  # L_<tail>_<head>_<n>; the ids have no "_"
        edges.add((text_of[tail], text_of[head]))
    return edges, {box_text: classes.split()[-1] for _, box_text, classes in drawing["boxes"]}


def test_viz_draws_every_node_and_dataset_of_the_example_project(project: Path) -> None:
    mermaid = run_cli(project, "viz")
    assert mermaid.returncode == 0, mermaid.stderr
    edges, group_of = mermaid_graph(mermaid.stdout)
    assert edges == EXAMPLE_EDGES
    assert group_of["houses"] == ""  # a raw input stands outside the pipelines
    assert group_of["SplitData"] == group_of["train_x"] == "data_engineering"
    assert group_of["model"] == group_of["EvaluateModel"] == "data_science"

    dot = run_cli(project, "viz", "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    graph = drawn(dot.stdout)
    assert drawn_edges(graph) == EXAMPLE_EDGES
    assert drawn_clusters(graph)["data_science"] == {
        "TrainModel", "Predict", "EvaluateModel", "model", "predictions", "metrics"
    }


def test_mermaid_draws_the_example_and_odd_names_in_chromium(project: Path, page: Page) -> None:
    edges, classes = rendered(page, run_cli(project, "viz").stdout)
    assert edges == EXAMPLE_EDGES
    assert classes["model"] == "dataset" and classes["TrainModel"] == "task"

    edges, classes = rendered(page, to_mermaid(ODD))
    clean = 'Clean' + 'failed: KeyError: "x"'  # the <br/> between the two lines has no text
    assert edges == {(ODD_NAME, clean), (clean, "out")}
    assert classes[clean] == "failed" and classes[ODD_NAME] == "dataset"


def test_the_readme_diagram_is_what_viz_prints(project: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert shown is not None, "README.md has no mermaid diagram"
    assert shown.group(1) == run_cli(project, "viz").stdout


def test_viz_of_a_run_shows_what_ran_failed_was_reused_and_did_not_run(toy: Path) -> None:
    (toy / "FAIL_B").touch()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 30
    graph = drawn(run_cli(toy, "viz", "--module", "toy_pipeline", "--run-id", "r1", "--format", "dot", env=TOY_ENV).stdout)
    nodes = {lines(o["label"])[0]: o for o in graph["objects"] if o.get("tooltip")}
    notes = {name: lines(node["label"])[1] for name, node in nodes.items()}
    assert sorted(notes) == ["StepA", "StepB", "StepC", "StepD"]
    assert re.fullmatch(r"ran in \d+\.\d\d s", notes["StepA"]) and re.fullmatch(r"ran in \d+\.\d\d s", notes["StepD"])
    assert notes["StepB"] == "failed: RuntimeError: step_b was told to fail"
    assert notes["StepC"] == "not run"
    assert nodes["StepB"]["fillcolor"] == COLOURS["failed"][0]
    assert nodes["StepC"]["fillcolor"] == COLOURS["not run"][0]

    (toy / "FAIL_B").unlink()
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r2", "--reuse-from", "r1").returncode == 0
    mermaid = run_cli(toy, "viz", "--module", "toy_pipeline", "--run-id", "r2", env=TOY_ENV).stdout
    ids = {name: box for box, name in re.findall(r'(\w+)\["(Step\w)', mermaid)}
    assert f'{ids["StepA"]}["StepA<br/>reused from r1"]' in mermaid
    classes = {state: members.split(",") for members, state in re.findall(r"class (\S+) (\w+)", mermaid)}
    assert sorted(classes["reused"]) == sorted([ids["StepA"], ids["StepD"]])
    assert sorted(classes["ran"]) == sorted([ids["StepB"], ids["StepC"]])


def test_viz_of_one_pipeline_or_node_shows_only_what_it_needs(toy: Path) -> None:
    done = run_cli(toy, "viz", "--module", "toy_pipeline", "--pipeline", "toy.StepC", env=TOY_ENV)
    assert done.returncode == 0, done.stderr
    edges, _ = mermaid_graph(done.stdout)
    assert edges == {("raw", "StepA"), ("StepA", "a"), ("a", "StepB"), ("StepB", "b"), ("b", "StepC"), ("StepC", "c")}
    whole = run_cli(toy, "viz", "--module", "toy_pipeline", "--pipeline", "ToyPipeline", env=TOY_ENV)
    assert mermaid_graph(whole.stdout)[0] == edges | {("a", "StepD"), ("StepD", "d")}


def test_viz_refuses_an_unknown_pipeline_or_run_in_one_line(toy: Path) -> None:
    wrong = run_cli(toy, "viz", "--module", "toy_pipeline", "--pipeline", "ToyPipe", env=TOY_ENV)
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        "luigi-tasks: error: No pipeline or node task called 'ToyPipe'. Pipelines: ToyPipeline; "
        "or give a node's task family (data_science.TrainModel)."
    )
    base = run_cli(toy, "viz", "--module", "toy_pipeline", "--pipeline", "PipelineTask", env=TOY_ENV)
    assert base.returncode == 2
    assert base.stderr.startswith("luigi-tasks: error: Pipeline 'PipelineTask' has no nodes. Pipelines: ToyPipeline;")
    no_run = run_cli(toy, "viz", "--module", "toy_pipeline", "--run-id", "r9", env=TOY_ENV)
    assert no_run.returncode == 2
    assert "Run 'r9' does not exist" in no_run.stderr and "Traceback" not in no_run.stderr


def test_names_with_quotes_brackets_and_backslashes_survive_both_formats() -> None:
    svg = subprocess.run(["dot", "-Tsvg"], input=to_dot(ODD), capture_output=True, text=True, check=True).stdout
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]
    assert sorted(texts) == sorted(["ns", ODD_NAME, "Clean", 'failed: KeyError: "x"', "out"])
    mermaid = to_mermaid(ODD)
    assert '[("sales #quot;EU#quot; #lt;2024#gt; #35;1 \\ final")]' in mermaid
    assert '["Clean<br/>failed: KeyError: #quot;x#quot;"]' in mermaid


def test_viz_of_a_run_whose_raw_input_changed_since_shows_its_nodes_stale(toy: Path) -> None:
    assert run_toy(toy, "ToyPipeline", "--local-scheduler", "--run-id", "r1").returncode == 0
    (toy / "data" / "01_raw" / "raw.csv").write_text("x\n5\n", encoding="utf-8")
    mermaid = run_cli(toy, "viz", "--module", "toy_pipeline", "--run-id", "r1", env=TOY_ENV).stdout
    notes = dict(re.findall(r'\["(Step\w)<br/>([^"]*)"\]', mermaid))
    assert notes["StepA"] == "stale: input changed: raw"
    assert all(note.startswith("stale: input changed: ") for note in notes.values()), notes
    stale = re.search(r"class (\S+) stale", mermaid)
    assert stale is not None and len(stale.group(1).split(",")) == 4


def test_an_interrupted_node_is_coloured_as_a_failure() -> None:
    from luigi_tasks.run_commands import state_note

    state, note = state_note("interrupted", "its worker (pid 7 on this host) exited while it ran", "-")
    diagram = Diagram((DiagramNode("ns.Train", "ns", ("x",), ("m",), state, note),), {"x": "", "m": "ns"})
    fill, stroke = COLOURS["failed"]
    drawn = to_mermaid(diagram).splitlines()
    assert state == "interrupted" and f"  classDef interrupted fill:{fill},stroke:{stroke},color:#000" in drawn
    assert "  class n0 interrupted" in drawn, drawn  # the node is drawn in that class
