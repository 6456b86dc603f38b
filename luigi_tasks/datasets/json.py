"""JSON-serialisable objects as a JSON file (Kedro's ``json.JSONDataset``)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from luigi_tasks.datasets.base import AbstractDataset, Source, binary


class JSONDataset(AbstractDataset[Any]):
    """A dict, list or scalar as UTF-8 JSON; ``save_args`` go to ``json.dumps``.

    Example (catalog.yml):
        metrics:
          type: json.JSONDataset
          filepath: data/08_reporting/metrics.json
          versioned: true
    """

    default_save_args: ClassVar[dict[str, Any]] = {"indent": 2, "sort_keys": True}

    def _load_from(self, src: Source) -> Any:
        with binary(src, "rb") as f:
            return json.loads(f.read().decode("utf-8"), **self.load_args)

    def _save_to(self, data: Any, dst: Source) -> None:
        text = json.dumps(data, **self.save_args)  # fails before any byte is written
        with binary(dst, "wb") as f:
            f.write(text.encode("utf-8"))
