"""JSON-serialisable objects as a JSON file (Kedro's ``json.JSONDataset``)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from luigi_tasks.datasets.base import TEXT_OPEN_ARGS, AbstractDataset, Source, text


class JSONDataset(AbstractDataset[Any]):
    """A dict, list or scalar as JSON (UTF-8, or ``fs_args: {open_args_load: {encoding: ...}}``
    and ``open_args_save``); ``load_args`` go to ``json.loads``, ``save_args`` to ``json.dumps``.

    Example (catalog.yml):
        metrics:
          type: json.JSONDataset
          filepath: data/08_reporting/metrics.json
          versioned: true
    """

    default_save_args: ClassVar[dict[str, Any]] = {"indent": 2, "sort_keys": True}
    open_args_keys = TEXT_OPEN_ARGS

    def _load_from(self, src: Source) -> Any:
        with text(src, "r", self._open_args_load) as f:
            return json.loads(f.read(), **self.load_args)

    def _save_to(self, data: Any, dst: Source) -> None:
        payload = json.dumps(data, **self.save_args)  # fails before any byte is written
        with text(dst, "w", self._open_args_save) as f:
            f.write(payload)
