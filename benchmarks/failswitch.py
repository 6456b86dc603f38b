"""A JSON dataset that refuses to save while a switch is on: makes the last node fail.

The recovery row points ``metrics`` at it through ``config/local/catalog.yml`` (the same
catalog for the failing run and the resume: nothing about the run changes) and turns the
switch on with the environment variable ``BENCH_FAIL_SAVE=<dataset name>``.
"""

from __future__ import annotations

import os
from typing import Any

from luigi_tasks.datasets import JSONDataset
from luigi_tasks.datasets.base import Source

FAIL_ENV = "BENCH_FAIL_SAVE"


class FailSwitchJSONDataset(JSONDataset):
    """:class:`JSONDataset` whose save raises while ``BENCH_FAIL_SAVE`` names it."""

    def _save_to(self, data: Any, dst: Source) -> None:
        if os.environ.get(FAIL_ENV) == self.name:
            raise RuntimeError(f"benchmark fail switch: {FAIL_ENV}={self.name}")
        super()._save_to(data, dst)
