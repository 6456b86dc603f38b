"""Run ids: the name every output version is stored under.

A run id is a name, not a path: ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}``, and not ``latest``
(which means the newest run). Left out on the command line, one fresh id is made per
process in Kedro's timestamp format, so that every task of one ``luigi`` invocation shares it.

Example:
    >>> validate_run_id("2026-11-26T15.04.27.123Z")
    '2026-11-26T15.04.27.123Z'
    >>> version_path("data/06_models/model.pkl", "r1")
    'data/06_models/model.pkl/r1/model.pkl'
"""

from __future__ import annotations

import functools
import posixpath
import re
from datetime import datetime, timezone
from typing import Any, ClassVar

import luigi
from luigi.cmdline_parser import CmdlineParser

from luigi_tasks.errors import RunIdError

RUN_ID_RULE = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
RUN_ID_RE = re.compile(RUN_ID_RULE)
#: Not a run id: ``--reuse-from latest`` and ``load_output(name, "latest")`` mean the newest run.
LATEST = "latest"


def generate_run_id() -> str:
    """A fresh, sortable UTC run id in Kedro's format ``YYYY-MM-DDTHH.MM.SS.mmmZ``."""
    now = datetime.now(tz=timezone.utc)
    return now.strftime("%Y-%m-%dT%H.%M.%S.") + f"{now.microsecond // 1000:03d}Z"


@functools.cache
def session_run_id() -> str:
    """The run id used by every task of this process that was given none."""
    return generate_run_id()


def is_latest(run_id: Any) -> bool:
    """Whether ``run_id`` asks for the newest run: ``latest``, in any case (``LATEST``)."""
    return isinstance(run_id, str) and run_id.lower() == LATEST


def validate_run_id(run_id: Any) -> str:
    """Return ``run_id`` if it is a valid name, else raise :class:`RunIdError`."""
    # In any case: on a case-insensitive disk (macOS, Windows) a folder LATEST is latest.
    if is_latest(run_id):
        raise RunIdError(
            f"Invalid run id '{run_id}': '{LATEST}' is reserved (in any case) to mean the newest run "
            f"(--reuse-from {LATEST}, load_output(name, '{LATEST}')), so a run named so could not be "
            "asked for by its name. Use another run id, e.g. exp-2026-11-26 (in Python, "
            "load_output(name) loads the newest run's)."
        )
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        shown = repr(run_id) if len(str(run_id)) <= 80 else repr(str(run_id)[:77] + "...")
        raise RunIdError(
            f"Invalid run id {shown}: a run id is a name, not a path. It must match "
            f"{RUN_ID_RULE} (letters, digits, '.', '_', '-'; at most 64 characters; "
            "starting with a letter or digit). Use e.g. exp-2026-11-26 (a luigi command given "
            "no --run-id makes a fresh timestamped one)."
        )
    return run_id


def version_path(filepath: str, run_id: str) -> str:
    """Where run ``run_id``'s version of a versioned dataset lives (Kedro's layout)."""
    filepath = filepath.rstrip("/")
    return posixpath.join(filepath, validate_run_id(run_id), posixpath.basename(filepath))


class RunIdParameter(luigi.Parameter):
    """The public, significant ``--run-id`` parameter of every node and pipeline task.

    Validated before any task runs; left out, it is :func:`session_run_id`.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", None)
        kwargs.setdefault(
            "description",
            "Name of the run; every output is versioned under it. Default: a fresh UTC id.",
        )
        super().__init__(**kwargs)

    # Luigi takes an empty command-line value (``--run-id ''``) as "not given", which would
    # silently make a fresh id; an explicitly empty run id is refused instead.
    def _parse_or_no_value(self, x: Any) -> Any:
        if x == "":
            validate_run_id(x)
        return super()._parse_or_no_value(x)

    def normalize(self, x: Any) -> str:
        if x is None:
            parser = CmdlineParser.get_instance()
            if parser is not None and getattr(parser.known_args, "run_id", None) == "":
                validate_run_id("")
            return session_run_id()
        return validate_run_id(x)


class RunOption(luigi.Parameter):
    """An option of the pipeline tasks that a run keeps once started (``--reuse-from``,
    ``--params``): empty by default, and not significant, since ``--run-id`` fixes it."""

    help: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")
        kwargs.setdefault("significant", False)
        kwargs.setdefault("description", self.help)
        super().__init__(**kwargs)
