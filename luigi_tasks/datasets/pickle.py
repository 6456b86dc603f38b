"""Any Python object as a pickle file (Kedro's ``pickle.PickleDataset``), written by the
standard library's ``pickle`` or by ``joblib`` (``backend: joblib``, as in Kedro; joblib
comes with scikit-learn).

Loading a pickle runs code chosen by whoever wrote the file: point the catalog only at
pickles this project wrote itself, never at files from an untrusted source.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, ClassVar

from luigi_tasks.datasets.base import AbstractDataset, Source, binary
from luigi_tasks.errors import DatasetError

#: The backends a PickleDataset can use (Kedro's ``backend`` key).
BACKENDS = ("pickle", "joblib")


class PickleDataset(AbstractDataset[Any]):
    """An object pickled with ``backend`` (``pickle``, the default, or ``joblib``);
    ``load_args``/``save_args`` go to the backend's ``load``/``dump`` (``protocol``,
    joblib's ``compress`` and ``mmap_mode`` ...).

    Example (catalog.yml):
        model:
          type: pickle.PickleDataset
          filepath: data/06_models/model.pkl
          versioned: true
          backend: joblib                 # optional; Kedro's key
          save_args: {compress: 3}

    Example (Python):
        >>> PickleDataset("model.pkl", backend="joblib").save(estimator)
    """

    default_save_args: ClassVar[dict[str, Any]] = {"protocol": pickle.HIGHEST_PROTOCOL}
    catalog_keys: ClassVar[frozenset[str]] = frozenset({"backend"})
    open_args_hint = "give the backend's options in load_args and save_args"

    def __init__(self, filepath: str, *, backend: str = "pickle", **kwargs: Any) -> None:
        super().__init__(filepath, **kwargs)
        for args in ("load_args", "save_args"):
            if "backend" in getattr(self, args):
                raise DatasetError(
                    f"{self._describe()}: 'backend' goes on the dataset's entry (Kedro's place: "
                    f"'backend: {getattr(self, args)['backend']}' beside 'filepath'), not in {args}. "
                    f"Move it there in {self._declared()}."
                )
        if backend not in BACKENDS:
            raise DatasetError(
                f"{self._describe()}: backend {backend!r} is not supported: use one of "
                f"{', '.join(BACKENDS)} (Kedro's other backends, such as dill or cloudpickle, are not "
                "built in: save with a dataset class of your own)."
            )
        self.backend = backend

    def _load_from(self, src: Source) -> Any:
        if self.backend == "joblib":
            import joblib

            return joblib.load(src, **self.load_args)  # a local path as a name: mmap_mode needs one
        with binary(src, "rb") as f:
            return pickle.load(f, **self.load_args)  # noqa: S301 - catalog paths only, see module doc

    def _save_to(self, data: Any, dst: Source) -> None:
        if self.backend == "joblib":
            import joblib

            buffer = io.BytesIO()
            joblib.dump(data, buffer, **self.save_args)  # fails before any byte is written
            payload = buffer.getvalue()
        else:
            payload = pickle.dumps(data, **self.save_args)  # fails before any byte is written
        with binary(dst, "wb") as f:
            f.write(payload)
