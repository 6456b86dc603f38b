"""JSON-serialisable objects as a JSON file (Kedro's ``json.JSONDataset``)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from luigi_tasks.datasets.base import TEXT_OPEN_ARGS, AbstractDataset, Source, binary, text


class JSONDataset(AbstractDataset[Any]):
    """A dict, list or scalar as JSON (UTF-8, or ``fs_args: {open_args_load: {encoding: ...}}``
    and ``open_args_save``); ``load_args`` go to ``json.loads``, ``save_args`` to ``json.dumps``.

    Example (catalog.yml):
        metrics:
          type: json.JSONDataset
          filepath: data/08_reporting/metrics.json
          versioned: true
    """

    default_save_args: ClassVar[dict[str, Any]] = {"indent": 2}  # as Kedro: keys in the order the node made them
    open_args_keys = TEXT_OPEN_ARGS

    def _load_from(self, src: Source) -> Any:
        if not self._open_args_load:  # bytes, then UTF-8: a text wrapper costs ~20 us per file
            with binary(src, "rb") as raw:
                return json.loads(raw.read().decode("utf-8"), **self.load_args)
        with text(src, "r", self._open_args_load) as f:
            return json.loads(f.read(), **self.load_args)

    def _save_to(self, data: Any, dst: Source) -> None:
        payload = json.dumps(data, **self.save_args)  # fails before any byte is written
        if not self._open_args_save:
            with binary(dst, "wb") as raw:
                raw.write(payload.encode("utf-8"))
            return
        with text(dst, "w", self._open_args_save) as f:
            f.write(payload)
