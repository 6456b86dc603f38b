"""Any Python object as a pickle file (Kedro's ``pickle.PickleDataset``).

Loading a pickle runs code chosen by whoever wrote the file: point the catalog only at
pickles this project wrote itself, never at files from an untrusted source.
"""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

from luigi_tasks.datasets.base import AbstractDataset, Source, binary


class PickleDataset(AbstractDataset[Any]):
    """An object pickled with the standard library (``protocol`` in ``save_args``).

    Example (catalog.yml):
        model:
          type: pickle.PickleDataset
          filepath: data/06_models/model.pkl
          versioned: true
    """

    default_save_args: ClassVar[dict[str, Any]] = {"protocol": pickle.HIGHEST_PROTOCOL}

    def _load_from(self, src: Source) -> Any:
        with binary(src, "rb") as f:
            return pickle.load(f, **self.load_args)  # noqa: S301 - catalog paths only, see module doc

    def _save_to(self, data: Any, dst: Source) -> None:
        payload = pickle.dumps(data, **self.save_args)  # fails before any byte is written
        with binary(dst, "wb") as f:
            f.write(payload)
