"""Where the configuration comes from: the project's luigi.cfg when a command runs from a
subfolder, the ``config/<env>/`` overlay it names, and what an overlay may set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_tasks.errors import ConfigError
from luigi_tasks.project import Project
from tests.conftest import REPO, run_cli, run_luigi
from tests.crash_support import saved_files

STAGING_MODEL = "data/06_models/staging_model.pkl"


def set_env(project: Path, env: str) -> None:
    """Make the project's luigi.cfg say ``[luigi_tasks] env = <env>``."""
    cfg = project / "luigi.cfg"
    text, n = re.subn(r"(?m)^env = local$", f"env = {env}", cfg.read_text(encoding="utf-8"))
    assert n == 1, "luigi.cfg has no 'env = local' line"
    cfg.write_text(text, encoding="utf-8")


@pytest.fixture
def staging(project: Path) -> Path:
    """The example project with ``env = staging`` and a config/staging/ overlay moving the model."""
    set_env(project, "staging")
    (project / "config" / "staging").mkdir()
    (project / "config" / "staging" / "catalog.yml").write_text(
        f"model: {{type: pickle.PickleDataset, filepath: {STAGING_MODEL}, versioned: true}}\n", encoding="utf-8"
    )
    return project


# -- luigi.cfg, from a subfolder of the project ---------------------------------------------------


def test_luigi_from_a_subfolder_is_refused_as_its_luigi_cfg_was_not_read(project: Path) -> None:
    """Luigi reads ./luigi.cfg only: from data/ a failed run would exit 0 (no [retcode])."""
    done = run_luigi(project / "data", "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler",
                     "--run-id", "sub1")
    assert done.returncode == 4, done.stderr[-3000:]  # Luigi's own code for an error: [retcode] was not read
    assert done.stderr.strip().splitlines()[-1] == (
        f"ERROR: {project}/luigi.cfg was not read: Luigi reads ./luigi.cfg, so its exit codes, logging and "
        f"[luigi_tasks] settings would be missing. Run luigi from {project} (cd {project})."
    )
    assert "Traceback" not in done.stderr
    assert list(saved_files(project)) == ["01_raw/house.csv"]  # no run record, no output


def test_per_machine_settings_in_luigi_config_path_do_not_hide_an_unread_luigi_cfg(project: Path) -> None:
    """With LUIGI_CONFIG_PATH (the README's place for per-machine settings), a run from a
    subfolder is refused all the same (it read the machine's file, not the project's: a
    failed run would exit 0); a luigi-tasks command there reads both, the machine's last."""
    machine = project.parent / "machine.cfg"
    machine.write_text("[luigi_tasks]\nenv = staging\n", encoding="utf-8")
    (project / "config" / "staging").mkdir()
    (project / "config" / "staging" / "catalog.yml").write_text(
        f"model: {{type: pickle.PickleDataset, filepath: {STAGING_MODEL}, versioned: true}}\n", encoding="utf-8"
    )
    env = {"LUIGI_CONFIG_PATH": str(machine)}
    done = run_luigi(project / "data", "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler",
                     "--run-id", "sub2", env=env)
    assert done.returncode == 4, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith(f"ERROR: {project}/luigi.cfg was not read: ")
    assert list(saved_files(project)) == ["01_raw/house.csv"]
    listed = run_cli(project / "data", "catalog", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    model = next(line for line in listed.stdout.splitlines() if line.startswith("model "))
    assert STAGING_MODEL in model.split(), model  # the machine's env = staging, over the project's local


def test_luigi_outside_any_project_says_so_without_a_traceback(tmp_path: Path) -> None:
    """No luigi.cfg and no config/ anywhere above: Luigi's default logging would print its
    'Uncaught exception' traceback above the one line that says what to do."""
    done = run_luigi(tmp_path, "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler")
    assert done.returncode == 4, done.stderr[-3000:]  # Luigi's own code: there is no [retcode] to read
    assert done.stderr.strip() == (
        f"ERROR: No config/ folder in {tmp_path} or any folder above it. Run from the project folder (the one "
        "holding config/catalog.yml), or set project_root in the [luigi_tasks] section of luigi.cfg."
    )
    assert list(tmp_path.iterdir()) == []


def test_a_command_from_a_subfolder_reads_the_projects_luigi_cfg_and_its_env(staging: Path) -> None:
    done = run_cli(staging / "data", "catalog", "list")
    assert done.returncode == 0, done.stderr
    model = next(line for line in done.stdout.splitlines() if line.startswith("model "))
    assert STAGING_MODEL in model.split(), model


def test_python_in_a_subfolder_reads_the_projects_luigi_cfg_and_its_env(staging: Path) -> None:
    """A notebook in notebooks/: the [luigi_tasks] settings read after luigi.cfg is added see it."""
    notebooks = staging / "notebooks"
    notebooks.mkdir()
    code = (
        "from luigi_tasks import current_project\n"
        "from luigi_tasks.config import luigi_tasks\n"
        "project = current_project()\n"
        "print(luigi_tasks().env, project.env, project.root, project.catalog.entry('model').filepath)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=notebooks, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["staging", "staging", str(staging), f"{staging}/{STAGING_MODEL}"]


def test_a_notebook_in_a_subfolder_builds_a_run_with_the_projects_settings(staging: Path) -> None:
    """``luigi.build`` from notebooks/ (the README's "Python code works from any subfolder"):
    the project's luigi.cfg is read when the root task is made, before Luigi sets up the run,
    so it is not refused as a `luigi` command from a subfolder is."""
    notebooks = staging / "notebooks"
    notebooks.mkdir()
    code = (
        "import luigi\n"
        "from luigi_tasks.pipelines import FullPipeline\n"
        "print(luigi.build([FullPipeline(run_id='nb1')], local_scheduler=True))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=notebooks, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "True", done.stdout
    assert (staging / STAGING_MODEL / "nb1" / "staging_model.pkl").is_file()  # env = staging, from its luigi.cfg
    assert not (notebooks / "data").exists() and not (notebooks / "logs").exists()
    assert "FullPipeline" in (staging / "logs" / "luigi-tasks.log").read_text(encoding="utf-8")


# -- the config/<env>/ folder ---------------------------------------------------------------------


def test_an_env_without_its_folder_is_refused_but_the_default_local_may_be_missing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUIGI_CONFIG_PATH", "/etc/machine.cfg")  # the env may come from the machine's file
    with pytest.raises(ConfigError, match=re.escape(
        "luigi.cfg (or /etc/machine.cfg, LUIGI_CONFIG_PATH) [luigi_tasks] env = staging: there is no "
    )):
        Project.load(project, env="staging")
    monkeypatch.delenv("LUIGI_CONFIG_PATH")
    (project / "config" / "prod").mkdir()
    with pytest.raises(ConfigError) as refused:
        Project.load(project, env="staging")
    assert str(refused.value) == (
        f"luigi.cfg [luigi_tasks] env = staging: there is no {project}/config/staging/ folder, so none of its "
        f"settings would apply. Env folders in {project}/config: local, prod. Create config/staging/, or set env "
        "to one of those."
    )
    (project / "config" / "local").rmdir()  # git-ignored: absent on a fresh clone
    assert Project.load(project).env == "local"
    with pytest.raises(ConfigError, match=r"Env folders in .*/config: prod\. "):
        Project.load(project, env="staging")


# -- what a parameters overlay may set ------------------------------------------------------------


def test_an_env_given_on_the_command_line(project: Path) -> None:
    """Luigi's flag for a luigi.cfg setting, as Kedro's `kedro run --env`: it wins over the file."""
    (project / "config" / "dev").mkdir()
    (project / "config" / "dev" / "parameters.yml").write_text("split: {test_size: 0.5, random_state: 42}\n")
    full = ("--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler")
    done = run_luigi(project, *full, "--run-id", "d1", "--luigi-tasks-env", "dev")
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "data/09_runs/d1/run.json").read_text())["parameters"]["split"]["test_size"] == 0.5
    refused = run_luigi(project, *full, "--run-id", "d2", "--luigi-tasks-env", "staging")
    assert refused.returncode == 40
    assert f"ERROR: --luigi-tasks-env staging: there is no {project}/config/staging/ folder" in refused.stderr


def write_overlay(project: Path, text: str) -> None:
    (project / "config" / "local" / "parameters.yml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("overlay", "undeclared"),
    [
        ("split: {test_siz: 0.3, random_state: 42}\n", "'split.test_siz' (did you mean 'split.test_size'?)"),
        ("splt: {test_size: 0.3, random_state: 42}\n", "'splt' (did you mean 'split'?)"),
        (
            "model: {estimator: sklearn.linear_model.Ridge, init_args: {}, n_jobs: 2}\nsplit: {seed: 1}\n",
            "'model.n_jobs', 'split.seed'",
        ),
    ],
    ids=["nested-typo", "top-level-typo", "no-close-name"],
)
def test_a_parameters_overlay_may_set_only_what_the_base_declares(project: Path, overlay: str, undeclared: str) -> None:
    write_overlay(project, overlay)
    with pytest.raises(ConfigError) as refused:
        Project.load(project)
    assert str(refused.value) == (
        f"{project}/config/local/parameters.yml: sets parameter(s) {undeclared} that {project}/config/parameters.yml "
        "does not declare. Declare them in the base file, or fix the name."
    )


def test_an_empty_mapping_of_the_base_is_open_and_an_entry_may_leave_keys_out(project: Path) -> None:
    """``model.init_args: {}`` takes any keys (the benchmarks set fit_intercept through an
    overlay); an entry replaces the base's whole (Kedro's rule), so it may omit keys."""
    write_overlay(project, "model:\n  estimator: sklearn.linear_model.Ridge\n  init_args: {alpha: 2.0, solver: {name: svd}}\n")
    assert Project.load(project).parameter("params:model.init_args.solver.name") == "svd"
    write_overlay(project, "split: {test_size: 0.3}\n")
    assert Project.load(project).parameter("params:split") == {"test_size": 0.3}
    with pytest.raises(ConfigError) as left_out:  # a node asking for a key the entry left out
        Project.load(project).parameter("params:split.random_state")
    assert str(left_out.value) == (
        f"Parameter 'split.random_state' is not in the parameters: {project}/config/local/parameters.yml sets "
        "'split', which replaces the whole 'split' of config/parameters.yml (an overlay replaces a top-level entry "
        "whole, as in Kedro). Give 'split' all its keys there, or fix the name in the node's inputs."
    )
    with pytest.raises(ConfigError, match=r"^Parameter 'model.init_args.nope' is not in config/parameters.yml"):
        Project.load(project).parameter("params:model.init_args.nope")  # not overlaid: the base lacks it
    write_overlay(project, "split: {test_size: 0.3, random_state: 1}\n")
    with pytest.raises(ConfigError, match=r"^Parameter 'split.test_sise' is not in config/parameters.yml .*"
                       r"\(did you mean 'split.test_size'\?\)"):  # a typo, not the overlay's doing
        Project.load(project).parameter("params:split.test_sise")


def test_credentials_of_another_env_are_looked_for_and_named_in_its_folder(staging: Path) -> None:
    """With ``env = staging`` the credentials come from config/staging/credentials.yml, which
    the message names (not config/local/, which that env does not read), and git ignores."""
    with open(staging / "config/catalog.yml", "a", encoding="utf-8") as f:
        f.write("shop: {type: pandas.SQLTableDataset, table_name: shop, credentials: db}\n")
    (staging / "config/local/credentials.yml").write_text("db: {con: 'sqlite:///data/shop.db'}\n")
    listed = run_cli(staging, "catalog", "list")
    assert listed.returncode == 2
    assert listed.stderr == (
        f"luigi-tasks: error: {staging}/config/catalog.yml: dataset 'shop': credentials 'db' are not in "
        "config/staging/credentials.yml. Add them there (config/<env>/credentials.yml is git-ignored).\n"
    )
    (staging / "config/local/credentials.yml").rename(staging / "config/staging/credentials.yml")
    assert run_cli(staging, "catalog", "list").returncode == 0
    for path in ("config/staging/credentials.yml", "config/credentials.yml", "config/prod/credentials_s3.yaml"):
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO, check=False)
        assert ignored.returncode == 0, f"the repository's .gitignore lets {path} be committed"


def test_kedro_interpolation_is_refused_not_used_as_written(project: Path) -> None:
    """``${globals:...}`` or ``${oc.env:...}`` would reach a node, or become a folder name,
    as the literal text."""
    catalog = project / "config" / "catalog.yml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8") + "extra:\n  type: json.JSONDataset\n  filepath: ${globals:base}/x.json\n",
        encoding="utf-8",
    )
    before = saved_files(project)
    result = run_luigi(project, "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler", "--run-id", "i1")
    assert result.returncode == 40
    assert f"{catalog}: extra.filepath is '${{globals:base}}/x.json', an interpolation" in result.stderr
    assert "Write the value itself" in result.stderr and saved_files(project) == before
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("${globals:base}", "data/08_reporting"), encoding="utf-8")
    write_overlay(project, "model:\n  estimator: sklearn.linear_model.Ridge\n  init_args: {alpha: '${oc.env:ALPHA}'}\n")
    with pytest.raises(ConfigError, match=re.escape("parameters.yml: model.init_args.alpha is '${oc.env:ALPHA}'")):
        Project.load(project)
    write_overlay(project, "model:\n  estimator: sklearn.linear_model.Ridge\n  init_args: {'${key}': 1}\n")
    with pytest.raises(ConfigError, match=re.escape("parameters.yml: model.init_args.${key} is '${key}'")):
        Project.load(project)


def test_a_kedro_conf_folder_is_named_with_where_its_files_go(tmp_path: Path) -> None:
    """A Kedro project keeps its config in conf/base/ and conf/local/: say so, not only
    'no config/ folder'."""
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "base" / "catalog.yml").write_text("houses: {type: pandas.CSVDataset, filepath: h.csv}\n")
    (tmp_path / "src").mkdir()
    result = run_cli(tmp_path / "src", "catalog", "list")
    assert result.returncode == 2
    assert result.stderr == (
        f"luigi-tasks: error: No config/ folder in {tmp_path / 'src'} or any folder above it, but "
        f"{tmp_path / 'conf'} is Kedro's layout. luigi-tasks reads config/ with no base/ level: move the files "
        f"of {tmp_path / 'conf' / 'base'} to {tmp_path / 'config'} and {tmp_path / 'conf' / 'local'} to "
        f"{tmp_path / 'config' / 'local'}.\n"
    )


def test_a_copy_of_the_project_with_its_own_package_refuses_another_checkouts_code(project: Path) -> None:
    """A team copies the repository and edits its pipelines, but this environment has the
    original checkout installed: its code would run, and the edits be silently ignored."""
    import shutil

    from tests.conftest import REPO

    shutil.copytree(REPO / "luigi_tasks", project / "luigi_tasks", ignore=shutil.ignore_patterns("__pycache__"))
    before = saved_files(project)
    result = run_luigi(project, "--module", "luigi_tasks.pipelines", "FullPipeline", "--local-scheduler", "--run-id", "c1")
    assert result.returncode == 40, result.stderr[-2000:]
    message = f"This project ({project}) has its own luigi_tasks package, but Python imports luigi_tasks from {REPO / 'luigi_tasks'}"
    assert message in result.stderr and f'pip install -e "{project}"' in result.stderr
    assert "Traceback" not in result.stderr and saved_files(project) == before
    listed = run_cli(project, "runs", "list")
    assert listed.returncode == 2 and message in listed.stderr


def test_a_key_given_twice_is_refused_not_silently_the_last(project: Path) -> None:
    catalog = project / "config" / "catalog.yml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text + "model:\n  type: pickle.PickleDataset\n  filepath: data/06_models/other.pkl\n", encoding="utf-8")
    first = 1 + text.splitlines().index("model:")
    line = 1 + len(text.splitlines())
    with pytest.raises(ConfigError, match=re.escape(
        f"catalog.yml: not valid YAML at line {line}, column 1: key 'model' is given twice (first on line {first}): keep one."
    )):
        Project.load(project)
    # A merge (<<: *anchor) may be overridden, as YAML intends.
    catalog.write_text(text + "_pq: &pq {type: pandas.ParquetDataset, versioned: true}\n"
                       "extra:\n  <<: *pq\n  filepath: data/02/extra.parquet\n  versioned: false\n", encoding="utf-8")
    assert Project.load(project).catalog.entry("extra").versioned is False


def test_config_may_be_split_over_several_files_as_in_kedro(project: Path) -> None:
    config = project / "config"
    (config / "parameters_science.yml").write_text("scoring: {metric: r2}\n", encoding="utf-8")
    (config / "catalog").mkdir()
    (config / "catalog" / "reports.yml").write_text(
        "report: {type: json.JSONDataset, filepath: data/08_reporting/report.json, versioned: true}\n", encoding="utf-8"
    )
    (config / "local" / "parameters_science.yml").write_text("scoring: {metric: mae}\n", encoding="utf-8")
    loaded = Project.load(project)
    assert loaded.parameter("params:scoring.metric") == "mae" and loaded.parameter("params:split.test_size") == 0.2
    assert loaded.catalog.entry("report").source == str(config / "catalog" / "reports.yml")
    (config / "parameters_more.yml").write_text("split: {test_size: 0.5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(
        f"{config / 'parameters_more.yml'}: 'split' is set in {config / 'parameters.yml'} too. Each top-level key"
    )):
        Project.load(project)


def test_config_files_are_found_by_kedros_patterns_not_skipped(project: Path) -> None:
    """Files Kedro reads (``.yaml``, ``parameters-dev.yml``, a subfolder of an environment,
    ``.json``) are read, not silently skipped; hidden ones (a notebook's checkpoints) are not."""
    config, local = project / "config", project / "config" / "local"
    (config / "catalog.yaml").write_text(
        "report: {type: json.JSONDataset, filepath: data/08_reporting/report.json, versioned: true}\n", encoding="utf-8"
    )
    (config / "parameters-science.json").write_text('{"scoring": {"metric": "r2", "k": 1}}', encoding="utf-8")
    (local / "parameters.yaml").write_text("split: {test_size: 0.3, random_state: 42}\n", encoding="utf-8")
    (local / "ds").mkdir()
    (local / "ds" / "parameters_ds.yml").write_text("scoring: {metric: mae, k: 2}\n", encoding="utf-8")
    (local / "ds" / "notes.yml").write_text("scoring: {metric: not-config}\n", encoding="utf-8")  # not parameters*
    (local / ".ipynb_checkpoints").mkdir()
    (local / ".ipynb_checkpoints" / "parameters-checkpoint.yml").write_text("split: {test_size: 0.9}\n", encoding="utf-8")
    loaded = Project.load(project)
    assert loaded.catalog.entry("report").source == str(config / "catalog.yaml")
    assert loaded.parameter("params:split.test_size") == 0.3
    assert loaded.parameter("params:scoring") == {"metric": "mae", "k": 2}


def test_yaml_numbers_and_dates_are_typed_as_kedro_types_them(project: Path) -> None:
    """YAML 1.1 reads ``1e-3`` as a string (a node would get '1e-3'); Kedro's loader reads a
    float, and leaves a date a string."""
    (project / "config" / "parameters_extra.yml").write_text(
        "extra: {alpha: 1e-3, big: 5E+6, plain: 1.5, count: 10, name: v1e3, day: 2024-01-05}\n", encoding="utf-8"
    )
    extra = Project.load(project).parameter("params:extra")
    assert extra == {"alpha": 0.001, "big": 5e6, "plain": 1.5, "count": 10, "name": "v1e3", "day": "2024-01-05"}
    assert [type(extra[k]) for k in ("alpha", "big", "count", "day")] == [float, float, int, str]


def test_an_overlay_typo_in_split_files_names_the_files_involved(project: Path) -> None:
    config = project / "config"
    (config / "parameters_extra.yml").write_text("nest: {k: 1}\n", encoding="utf-8")
    (config / "local" / "parameters_x.yml").write_text("nest: {kk: 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(
        f"{config / 'local' / 'parameters_x.yml'}: sets parameter(s) 'nest.kk' (did you mean 'nest.k'?) that "
        f"{config / 'parameters_extra.yml'} does not declare."
    )):
        Project.load(project)
