"""Issue 5, security: names cannot become paths, credentials never show, luigid stays local.

- run ids and dataset names cannot make a path outside the data folder;
- credentials (``config/local/credentials.yml``, referenced by name from the catalog)
  never appear in the output, the log file, run records, status messages or errors;
- the docs say why not to load untrusted pickles;
- every documented ``luigid`` command binds 127.0.0.1.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from luigi_tasks.catalog import DataCatalog
from luigi_tasks.datasets import ParquetDataset
from luigi_tasks.errors import CatalogError, DatasetError, RunIdError
from luigi_tasks.project import Project
from luigi_tasks.versioning import version_path
from tests.conftest import REPO
from tests.crash_support import done_project
from tests.crash_support import luigi as run_luigi
from tests.scheduler_support import Luigid, luigid_fixture, use_scheduler  # noqa: F401 - the `luigid` fixture

BAD_RUN_IDS = ["../x", "a/b", "..", "/etc", "x/../../y", "", "x" * 200, "a\\b", "a\nb", ".hidden"]
BAD_NAMES = ["../evil", "a/b", "..", "x..y", "/abs", "a\\b", ".hidden", "", "params:x", "a b", "x" * 200]


@pytest.fixture(scope="session")
def template_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("done-template")


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_run_ids_cannot_make_paths(project: Path, run_id: str) -> None:
    catalog = Project.load(project).catalog
    with pytest.raises(RunIdError, match="a run id is a name, not a path"):
        catalog.dataset("train_x", run_id)
    with pytest.raises(RunIdError):
        version_path(str(project / "data/x.parquet"), run_id)
    with pytest.raises(RunIdError):
        ParquetDataset(str(project / "data/x.parquet"), version=run_id)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_dataset_names_cannot_be_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(CatalogError, match="is not allowed: a dataset name is a name, not a path"):
        DataCatalog.from_config({name: {"type": "pandas.CSVDataset", "filepath": "x.csv"}}, root=tmp_path)


def test_kedro_style_names_are_accepted(tmp_path: Path) -> None:
    names = ["houses", "ns.train_x", "model@pandas", "raw-2024", "_private_ok", "A1"]
    config: dict[str, Any] = {n: {"type": "pandas.CSVDataset", "filepath": f"{n}.csv"} for n in names}
    config.pop("_private_ok")  # '_'-prefixed top-level keys are YAML anchors, ignored
    assert sorted(DataCatalog.from_config(config, root=tmp_path)) == sorted(n for n in names if n != "_private_ok")


def test_an_unknown_name_is_never_turned_into_a_path(project: Path) -> None:
    catalog = Project.load(project).catalog
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.dataset("../../etc/passwd", "r1")
    result = run_luigi(project, "RawData", "--dataset", "../../etc/passwd", "--local-scheduler", "--run-id", "r1")
    assert result.returncode == 35, result.stderr[-3000:]  # [retcode] scheduling_error: its complete() refused it
    assert "CatalogError: Dataset '../../etc/passwd' is not in the catalog" in result.stderr
    assert not any(project.rglob("passwd")) and not (project.parent / "etc").exists()


# -- credentials ---------------------------------------------------------------------------

SECRETS = ("AKIA-FAKE-KEY-ID-7Q2X", "fake-secret-Zk9pWq3tLm8")
CREDENTIALS = f"""\
dev_store:
  key: {SECRETS[0]}
  secret: {SECRETS[1]}
"""
# The local filesystem takes storage options as any fsspec filesystem does, so the
# credentials really travel the path they take to s3fs or gcsfs.
OVERLAY = """\
train_x: {type: pandas.ParquetDataset, filepath: data/05_model_input/train_x.parquet, versioned: true, credentials: dev_store}
model: {type: pickle.PickleDataset, filepath: data/06_models/model.pkl, versioned: true, credentials: dev_store}
metrics: {type: json.JSONDataset, filepath: data/08_reporting/metrics.json, versioned: true, credentials: dev_store}
"""
# Its storage fails with an error that quotes the options, as some storage clients do.
CHATTY_RAW = "houses: {type: tests.crash_support.ChattyCSVDataset, filepath: data/01_raw/house.csv, credentials: dev_store}\n"


def _with_credentials(project: Path, *, chatty_raw: bool = False) -> None:
    (project / "config/local/credentials.yml").write_text(CREDENTIALS, encoding="utf-8")
    (project / "config/local/catalog.yml").write_text(OVERLAY + (CHATTY_RAW if chatty_raw else ""), encoding="utf-8")


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _written_text(project: Path) -> str:
    """Everything the runs wrote that is not data: the log file and the run records."""
    files = [*(project / "logs").rglob("*"), *(project / "data" / "09_runs").rglob("*")]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files if p.is_file())


def test_credentials_never_appear_in_output_logs_or_run_records(tmp_path: Path, template_root: Path) -> None:
    project = done_project(tmp_path / "project", template_root)
    _with_credentials(project)
    ok = run_luigi(project, "FullPipeline", "--local-scheduler", "--run-id", "s1")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert Project.load(project).catalog.entry("model").options["credentials"]["key"] == SECRETS[0]

    _with_credentials(project, chatty_raw=True)
    failed = run_luigi(project, "FullPipeline", "--local-scheduler", "--run-id", "s2")
    assert failed.returncode != 0
    assert "access denied with options" in failed.stderr and "'key': '***'" in failed.stderr
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr, _written_text(project)):
        assert not _leaks(text), text[-3000:]


def test_credentials_never_appear_in_what_luigid_shows_or_in_reprs(
    tmp_path: Path, template_root: Path, luigid: Luigid
) -> None:
    """Through a real luigid: every task's status message and failure explanation (what its
    web UI shows), the console and the log hold no secret, although the raw input's storage
    error quotes its options; nor does the error of a load from Python, or a dataset's repr."""
    project = done_project(tmp_path / "project", template_root)
    _with_credentials(project, chatty_raw=True)
    use_scheduler(project, luigid.url)
    failed = run_luigi(project, "FullPipeline", "--run-id", "s3")
    assert failed.returncode == 30, failed.stderr[-3000:]
    tasks = luigid.tasks("s3")
    shown = [str(task.get("status_message") or "") for task in tasks.values()]
    shown += [
        str(luigid.api("fetch_error", task_id=task["task_id"]).get("error") or "")
        for task in tasks.values() if task["status"] == "FAILED"
    ]
    assert any("access denied" in text for text in shown), shown

    catalog = Project.load(project).catalog
    with pytest.raises(DatasetError) as raised:
        catalog.load("houses")
    assert raised.value.__cause__ is None  # the chained error would print the secret
    seen = [*shown, failed.stdout, failed.stderr, _written_text(project), str(raised.value),
            repr(catalog.entry("houses")), repr(catalog.dataset("houses"))]
    for text in seen:
        assert not _leaks(text), text[-3000:]


def test_credentials_written_in_the_catalog_itself_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not hold the secrets themselves") as raised:
        DataCatalog.from_config(
            {"x": {"type": "pandas.CSVDataset", "filepath": "x", "credentials": {"key": SECRETS[0]}}}, root=tmp_path
        )
    assert not _leaks(str(raised.value))


def test_credential_options_in_the_committed_catalog_are_refused(project: Path) -> None:
    """Written in fs_args (or a storage_options), a secret would be committed all the same."""
    catalog_yml = project / "config/catalog.yml"
    text = catalog_yml.read_text(encoding="utf-8")
    catalog_yml.write_text(
        text.replace("  filepath: data/06_models/model.pkl\n", f"  filepath: data/06_models/model.pkl\n  fs_args: {{key: {SECRETS[0]}, secret: {SECRETS[1]}}}\n"),
        encoding="utf-8",
    )
    result = run_luigi(project, "FullPipeline", "--local-scheduler", "--run-id", "s1")
    assert result.returncode == 40, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"ERROR: {catalog_yml}: dataset 'model': 'fs_args.key' holds a credential, and this file is committed "
        "(anyone who can read the repository reads it). Move 'key' to an entry of config/local/credentials.yml "
        "(git-ignored) and name that entry here: 'credentials: <entry>' (fsspec receives it as it receives fs_args)."
    )
    assert not _leaks(result.stderr + result.stdout) and not (project / "data/09_runs/s1").exists()
    # Replacing the entry in the (git-ignored) overlay does not take the secret out of the committed file.
    (project / "config/local/catalog.yml").write_text("model: {type: pickle.PickleDataset, filepath: m.pkl}\n")
    with pytest.raises(CatalogError, match=r"'fs_args\.key' holds a credential"):
        Project.load(project)


@pytest.mark.parametrize(
    ("options", "found"),
    [
        ({"fs_args": {"client_kwargs": {"aws_secret_access_key": SECRETS[1]}}}, "fs_args.client_kwargs.aws_secret_access_key"),
        ({"save_args": {"storage_options": {"account_key": SECRETS[1]}}}, "save_args.storage_options.account_key"),
        ({"fs_args": {"client_kwargs": {"headers": {"Authorization": f"Bearer {SECRETS[1]}"}}}}, "fs_args.client_kwargs.headers.Authorization"),
        ({"fs_args": {"token": {"type": "service_account", "private_key": SECRETS[1]}}}, "fs_args.token"),
        ({"fs_args": {"token": "google_default", "anon": False, "client_kwargs": {"region_name": "eu-west-1"}}}, None),
    ],
    ids=["nested", "storage_options", "header", "gcsfs-info", "no-secret"],
)
def test_credential_options_are_found_where_fsspec_takes_them(tmp_path: Path, options: dict[str, Any], found: str | None) -> None:
    config = {"x": {"type": "pandas.CSVDataset", "filepath": "x.csv", **options}}
    if found is None:
        assert "x" in DataCatalog.from_config(config, root=tmp_path)
        return
    with pytest.raises(CatalogError, match=re.escape(f"dataset 'x': '{found}' holds a credential")) as raised:
        DataCatalog.from_config(config, root=tmp_path)
    assert not _leaks(str(raised.value))


def test_credential_options_in_the_local_overlay_are_accepted(project: Path) -> None:
    """config/local/ is git-ignored: per-machine storage options may live there."""
    (project / "config/local/catalog.yml").write_text(
        f"model: {{type: pickle.PickleDataset, filepath: data/06_models/model.pkl, fs_args: {{key: {SECRETS[0]}}}}}\n"
    )
    assert Project.load(project).catalog.entry("model").options["fs_args"] == {"key": SECRETS[0]}


def test_credential_options_in_another_env_overlay_are_refused(project: Path) -> None:
    """Only config/local/ is git-ignored: config/prod/catalog.yml is committed with the project."""
    (project / "config/prod").mkdir()
    prod = project / "config/prod/catalog.yml"
    prod.write_text(f"model: {{type: pickle.PickleDataset, filepath: m.pkl, fs_args: {{password: {SECRETS[0]}}}}}\n")
    with pytest.raises(CatalogError, match=re.escape(f"{prod}: dataset 'model': 'fs_args.password' holds a credential")) as raised:
        Project.load(project, env="prod")
    assert not _leaks(str(raised.value))



def test_a_credential_in_a_split_catalog_file_is_refused_naming_that_file(project: Path) -> None:
    """Kedro's split catalogs: the refusal names the file to edit, not config/catalog.yml."""
    split = project / "config/catalog_storage.yml"
    split.write_text(f"remote: {{type: json.JSONDataset, filepath: r.json, fs_args: {{token: {SECRETS[1]}}}}}\n")
    with pytest.raises(CatalogError, match=re.escape(f"{split}: dataset 'remote': 'fs_args.token' holds a credential")) as raised:
        Project.load(project)
    assert not _leaks(str(raised.value))
    split.unlink()
    (project / "config/prod/catalog").mkdir(parents=True)
    prod = project / "config/prod/catalog/models.yml"
    prod.write_text(f"model: {{type: pickle.PickleDataset, filepath: m.pkl, load_args: {{con: {SECRETS[0]}}}}}\n")
    with pytest.raises(CatalogError, match=re.escape(f"{prod}: dataset 'model': 'load_args.con' holds a database")):
        Project.load(project, env="prod")

# -- documentation -------------------------------------------------------------------------


def _docs() -> dict[Path, str]:
    paths = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return {p: p.read_text(encoding="utf-8") for p in paths if p.exists()}


def test_docs_say_why_untrusted_pickles_must_not_be_loaded() -> None:
    pattern = re.compile(r"untrusted.{0,300}pickle|pickle.{0,300}untrusted", re.IGNORECASE | re.DOTALL)
    assert any(pattern.search(text) for text in _docs().values()), "no doc warns about untrusted pickles"
    flat = [" ".join(text.split()) for text in _docs().values()]
    assert any(re.search(r"runs? (arbitrary )?code|arbitrary code", text) for text in flat), "no doc says why"


_LUIGID = re.compile(r"(?<![\w./-])luigid((?:[ \t]+--?[\w-]+(?:[ \t=](?!-)[^\s`'\"]+)?)+)")


def _luigid_commands(text: str) -> list[str]:
    """Every ``luigid`` command line in ``text`` that starts a server (``--background`` or
    ``--port``; continuation lines joined), but not elided mentions like ``luigid --background ...``."""
    text = re.sub(r"\\[ \t]*\n\s*", " ", text)  # shell line continuations
    text = re.sub(r"[\"']\s*\n\s*f?[\"']", "", text)  # Python's implicit string concatenation
    commands = []
    for match in _LUIGID.finditer(text):
        options = match.group(1)
        if re.search(r"--(background|port)\b", options) and "..." not in options:
            commands.append(match.group(0))
    return commands


def test_every_documented_luigid_command_binds_loopback() -> None:
    sources = {**_docs()}
    for folder in ("luigi_tasks", "benchmarks", "tests"):
        sources.update({p: p.read_text(encoding="utf-8") for p in sorted((REPO / folder).rglob("*.py"))})
    sources.update({p: p.read_text(encoding="utf-8") for p in (REPO / "luigi.cfg", *REPO.glob("*.sh")) if p.exists()})
    commands = [(path, cmd) for path, text in sources.items() for cmd in _luigid_commands(text)]
    assert commands, "no luigid command found in the docs"
    unbound = [f"{path.relative_to(REPO)}: {cmd}" for path, cmd in commands if "--address 127.0.0.1" not in cmd]
    assert not unbound, "luigid commands not bound to 127.0.0.1:\n" + "\n".join(unbound)
    scheduler = importlib.import_module("luigi_tasks.scheduler") if (REPO / "luigi_tasks/scheduler.py").exists() else None
    assert getattr(scheduler, "ADDRESS", "127.0.0.1") == "127.0.0.1"  # what `luigi-tasks scheduler start` binds
    for path, text in sources.items():
        assert "0.0.0.0" not in text or path.name.startswith("test_security"), f"{path} mentions 0.0.0.0"
