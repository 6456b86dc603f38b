"""``--params``: parameters given on the command line for one run, kept by the run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from luigi_tasks import ConfigError, Project, load_output
from luigi_tasks.node_records import read_node_records
from luigi_tasks.run_params import ParamsParameter, apply, canonical, parse
from tests.conftest import run_cli, run_luigi, tree_digest

FULL = ("--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler")
RIDGE = "model.estimator=sklearn.linear_model.Ridge,model.init_args.alpha=0.5"


def test_values_are_typed_as_in_the_yaml_files() -> None:
    assert parse(" model.init_args.alpha=1e-3, split.test_size = 0.3 ,name=svd, on=true, off=null, at=2024-01-05") == {
        "model.init_args.alpha": 0.001, "split.test_size": 0.3, "name": "svd", "on": True, "off": None,
        "at": "2024-01-05",
    }
    assert parse("cols=[a, b],limits={low: 1, high: 2},x=1") == {
        "cols": ["a", "b"], "limits.low": 1, "limits.high": 2, "x": 1,  # a comma inside a value stays in it
    }
    assert parse("") == {}
    assert parse("model={init_args: {alpha: 1, fit_intercept: false}},split.test_size=0.3,opts={}") == {
        "model.init_args.alpha": 1, "model.init_args.fit_intercept": False, "split.test_size": 0.3, "opts": {},
    }  # a mapping sets its keys (as Kedro merges --params), the rest of the configured one stays
    assert canonical(parse("b=x,a=[1, 2],c='007',d=a b")) == 'a=[1, 2],b=x,c="007",d=a b'
    assert parse(canonical(parse("b=x,a=[1, 2],c='007',e='1,x=2'"))) == parse("b=x,a=[1, 2],c='007',e='1,x=2'")
    special = parse("a=.inf,b=-.inf,c=[1, .nan],d=0.3,")  # a trailing comma ends the list
    assert canonical(special) == "a=.inf,b=-.inf,c=[1, .nan],d=0.3" and str(parse(canonical(special))) == str(special)
    assert ParamsParameter().normalize({"a": np.int64(3), "b": np.float32(0.5), "c": {"d": 1}}) == "a=3,b=0.5,c.d=1"
    with pytest.raises(ConfigError, match=r"^params must be a string 'key=value,...' or a dict of dotted keys, not a list"):
        ParamsParameter().normalize(["a=1"])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("alpha", "--params: 'alpha' is not key=value"),
        ("=3", "--params: '=3' is not key=value"),
        ("a b=3", "--params: 'a b=3' is not key=value"),
        ("a=1,a=2", "--params: a is given twice; give it once."),
        ("a=1,a.b=2", "--params sets both a and a.b, one inside the other; give one."),
        ("a.b=1,a={b: 2}", "--params: a.b is given twice; give it once."),
        ("a=", "--params: a has no value; give one (null for none, '' for an empty string)."),
        ("a=[1", "--params: the value of a is not valid YAML"),
        ("a=1 b=2", "--params: the value of a, '1 b=2', holds another key=value: separate items with commas."),
        ("a=#x", "--params: the value of a, '#x', reads as null ('#' starts a comment): quote it."),
        ("a=${b}", "--params: the value of a holds '${', an OmegaConf interpolation, which is not resolved"),
    ],
)
def test_malformed_params_are_refused(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value).startswith(error)


def test_params_set_declared_keys_and_leave_the_rest(project: Path) -> None:
    loaded = Project.load(project)
    before = json.dumps(loaded.parameters, sort_keys=True)
    merged = apply(loaded, parse(RIDGE + ",split.test_size=0.3,model.init_args.max_iter=50,model.init_args.solver.x=1"))
    assert merged["model"] == {  # an empty mapping takes any keys, several and at any depth
        "estimator": "sklearn.linear_model.Ridge", "init_args": {"alpha": 0.5, "max_iter": 50, "solver": {"x": 1}},
    }
    assert merged["split"] == {"test_size": 0.3, "random_state": 42}
    assert json.dumps(loaded.parameters, sort_keys=True) == before  # the project's own are unchanged

    declared = project / "config" / "parameters.yml"
    refusals = {
        "split.test_sise=0.3": f"--params sets split.test_sise, which {declared} does not declare (did you mean "
        "split.test_size?). Declare it there, or fix the name.",
        "splt.test_size=0.3": f"--params sets splt.test_size, which {declared} does not declare (did you mean split?)",
        "split=0.3": f"--params sets split to 0.3, but split is a mapping in {declared}: set its keys (split.test_size=...).",
        "split.test_size.x=1": f"--params sets split.test_size.x, but split.test_size is 0.2 in {declared}, not a mapping.",
        "split={}": f"--params sets split to {{}}, but split is a mapping in {declared}: set its keys (split.test_size=...).",
        "model.init_args={}": None,  # an empty one stays empty
    }
    for text, error in refusals.items():
        if error is None:
            assert apply(loaded, parse(text))["model"]["init_args"] == {}
            continue
        with pytest.raises(ConfigError) as caught:
            apply(loaded, parse(text))
        assert str(caught.value).startswith(error), text

    overlay = project / "config" / "local" / "parameters.yml"  # the file that declares it is named
    overlay.write_text("model: {estimator: sklearn.linear_model.Lasso, init_args: {alpha: 5}}\n")
    with pytest.raises(ConfigError, match=re.escape(f"--params sets model.init_args.max_iter, which {overlay} does not declare")):
        apply(Project.load(project), parse("model.init_args.max_iter=50"))


def test_a_sweep_run_reuses_what_its_params_do_not_change(project: Path) -> None:
    assert run_luigi(project, *FULL, "--run-id", "base").returncode == 0
    swept = run_luigi(project, *FULL, "--run-id", "a05", "--reuse-from", "base", "--params", RIDGE)
    assert swept.returncode == 0, swept.stderr

    p = Project.load(project)
    model = load_output("model", "a05", p)
    assert type(model).__name__ == "Ridge" and model.alpha == 0.5
    assert type(load_output("model", "base", p)).__name__ == "LinearRegression"
    info = json.loads((project / "data/09_runs/a05/run.json").read_text())
    assert info["params"] == {"model.estimator": "sklearn.linear_model.Ridge", "model.init_args.alpha": 0.5}
    assert info["parameters"]["model"] == {"estimator": "sklearn.linear_model.Ridge", "init_args": {"alpha": 0.5}}
    statuses = {name: rec.status for name, rec in read_node_records(p, "a05").items()}
    assert statuses == {
        "data_engineering.PreprocessHouses": "reused", "data_engineering.SplitData": "reused",
        "data_science.TrainModel": "done", "data_science.Predict": "done", "data_science.EvaluateModel": "done",
    }

    shown = run_cli(project, "runs", "show", "a05")
    assert shown.returncode == 0, shown.stderr
    assert "  params model.estimator=sklearn.linear_model.Ridge,model.init_args.alpha=0.5\n" in shown.stdout
    assert "now differ" not in shown.stdout and "stale" not in shown.stdout  # judged with the run's params
    listed = run_cli(project, "runs", "list", "--param", "model.init_args.alpha")
    assert listed.returncode == 0 and [line.split()[3] for line in listed.stdout.splitlines()[1:]] == ["-", "0.5"]


def test_a_run_keeps_its_params_and_refuses_others(project: Path) -> None:
    assert run_luigi(project, *FULL, "--run-id", "k1", "--params", RIDGE).returncode == 0
    again = run_luigi(project, *FULL, "--run-id", "k1")  # left out: the run's own apply
    assert again.returncode == 0 and "luigi-tasks: run k1 is complete." in again.stderr, again.stderr
    data_before = tree_digest(project / "data")

    other = run_luigi(project, *FULL, "--run-id", "k1", "--params", "model.init_args.alpha=0.7")
    assert other.returncode == 40
    assert (
        "Run 'k1' was started with --params model.estimator=sklearn.linear_model.Ridge,model.init_args.alpha=0.5; "
        "one run is one experiment, so it cannot continue with --params model.init_args.alpha=0.7: leave --params "
        "out to continue it, or start a new run: --run-id <new id> --reuse-from k1 --params model.init_args.alpha=0.7."
    ) in other.stderr
    assert tree_digest(project / "data") == data_before
    plain = run_luigi(project, *FULL, "--run-id", "base")
    assert plain.returncode == 0
    late = run_luigi(project, *FULL, "--run-id", "base", "--params", RIDGE)
    assert late.returncode == 40 and "Run 'base' was started without --params;" in late.stderr

    # A node run again in the run (a node task takes no --params) gets the run's, not the config's.
    invalidated = run_cli(project, "invalidate", "--run-id", "k1", "--from", "train_model")
    assert invalidated.returncode == 0, invalidated.stderr
    node = run_luigi(project, "--module", "luigi_tasks.pipelines", "data_science.TrainModel", "--local-scheduler",
                     "--run-id", "k1")
    assert node.returncode == 0, node.stderr
    model = load_output("model", "k1", Project.load(project))
    assert type(model).__name__ == "Ridge" and model.alpha == 0.5


def test_params_luigi_would_drop_are_refused(project: Path) -> None:
    twice = run_luigi(project, *FULL, "--run-id", "w1", "--params", "split.test_size=0.3", "--params", RIDGE)
    assert twice.returncode == 40
    assert "ERROR: --params is given more than once, and Luigi would keep the last alone. Give it once" in twice.stderr
    part = run_luigi(project, *FULL, "--run-id", "w2", "--DataSciencePipeline-params", RIDGE)
    assert part.returncode == 40
    assert "ERROR: --DataSciencePipeline-params cannot take effect: a run's --params is given to the task you run" in part.stderr
    assert not (project / "data/09_runs/w1").exists() and not (project / "data/09_runs/w2").exists()
    own = run_luigi(project, *FULL, "--run-id", "w3", "--FullPipeline-params", RIDGE)  # Luigi's flag of the task run
    assert own.returncode == 0, own.stderr
    assert type(load_output("model", "w3", Project.load(project))).__name__ == "Ridge"


def test_a_run_is_resumed_only_with_its_params_as_typed(project: Path) -> None:
    """1 == True in Python; a resume with `true` for a run started with `1` is another experiment."""
    failed = run_luigi(project, *FULL, "--run-id", "b1", "--params", "model.init_args.fit_intercept=1")
    assert failed.returncode == 30  # scikit-learn wants a bool
    other = run_luigi(project, *FULL, "--run-id", "b1", "--params", "model.init_args.fit_intercept=true")
    assert other.returncode == 40 and "Run 'b1' was started with --params model.init_args.fit_intercept=1;" in other.stderr

    # The configuration declares init_args now: the run's --params no longer fit, but it still shows.
    params = project / "config" / "parameters.yml"
    params.write_text(params.read_text().replace("init_args: {}", "init_args: {positive: false}"))
    shown = run_cli(project, "runs", "show", "b1")
    assert shown.returncode == 0, shown.stderr
    assert (
        "Run 'b1' was started with --params model.init_args.fit_intercept=1, but --params sets "
        "model.init_args.fit_intercept, which"
    ) in shown.stdout and "(The run cannot continue so;" in shown.stdout


def test_a_typo_in_params_is_refused_before_the_run_exists(project: Path) -> None:
    refused = run_luigi(project, *FULL, "--run-id", "t1", "--params", "split.test_sise=0.3")
    assert refused.returncode == 40
    assert "ERROR: --params sets split.test_sise, which" in refused.stderr and "Traceback" not in refused.stderr
    assert not (project / "data/09_runs/t1").exists()
    bad = run_luigi(project, *FULL, "--run-id", "t2", "--params", "split.test_size")
    assert bad.returncode == 40 and "ERROR: --params: 'split.test_size' is not key=value" in bad.stderr
    assert not (project / "data/09_runs/t2").exists()
