"""Run ids: format, validation, and the per-process default."""

from __future__ import annotations

import re

import pytest

from luigi_tasks.errors import RunIdError
from luigi_tasks.run_plan import ReuseFromParameter
from luigi_tasks.versioning import RunIdParameter, generate_run_id, session_run_id, validate_run_id, version_path


def test_generated_ids_are_kedro_timestamps_and_valid() -> None:
    run_id = generate_run_id()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z", run_id)
    assert validate_run_id(run_id) == run_id


@pytest.mark.parametrize("good", ["t1", "exp-2026_11.26", "A" * 64, "9"])
def test_names_are_accepted(good: str) -> None:
    assert validate_run_id(good) == good


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "x" * 65, "x" * 200, ".hidden", "-x", "a b", "a\\b", None])
def test_anything_else_is_refused_with_the_rule(bad: object) -> None:
    with pytest.raises(RunIdError, match=re.escape("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")):
        validate_run_id(bad)


def test_latest_is_reserved_for_the_newest_run() -> None:
    """``--reuse-from latest`` and ``load_output(name, 'latest')`` never mean a run named so."""
    for check in (validate_run_id, RunIdParameter().normalize):
        for spelling in ("latest", "LATEST", "Latest"):
            with pytest.raises(RunIdError, match=rf"^Invalid run id '{spelling}': 'latest' is reserved \(in any case\)"):
                check(spelling)
    assert validate_run_id("latest-1") == "latest-1"
    assert ReuseFromParameter().normalize("LATEST") == "latest"  # --reuse-from LATEST: the newest run


def test_parameter_defaults_to_one_id_per_process_and_validates() -> None:
    param = RunIdParameter()
    assert param.normalize(None) == param.normalize(None) == session_run_id()
    assert param.normalize("r1") == "r1"
    with pytest.raises(RunIdError):
        param.normalize("a/b")


def test_version_path_is_kedros_layout() -> None:
    assert version_path("data/06_models/model.pkl", "r1") == "data/06_models/model.pkl/r1/model.pkl"
    assert version_path("s3://b/m.pkl/", "r1") == "s3://b/m.pkl/r1/m.pkl"
