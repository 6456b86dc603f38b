"""Data science: model input -> fitted regressor -> test-set predictions -> metrics.

scikit-learn (with SciPy, about a second to import) is imported only by the nodes that
train, and by unpickling the model: a resumed run that only evaluates does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from luigi_tasks import node

if TYPE_CHECKING:
    from sklearn.base import RegressorMixin


def make_estimator(model: dict[str, Any]) -> RegressorMixin:
    """The scikit-learn regressor named in parameters, e.g.
    ``{"estimator": "sklearn.linear_model.Ridge", "init_args": {"alpha": 1.0}}``."""
    path = model["estimator"]
    module_name, _, class_name = path.rpartition(".")
    if not module_name.startswith("sklearn."):
        raise ValueError(f"model.estimator must be a scikit-learn class path, got {path!r}.")
    estimator_class = getattr(importlib.import_module(module_name), class_name)
    return estimator_class(**(model.get("init_args") or {}))


def train_model(train_x: pd.DataFrame, train_y: pd.DataFrame, model: dict[str, Any]) -> RegressorMixin:
    """Fit the configured regressor on the training split."""
    estimator = make_estimator(model)
    estimator.fit(train_x, train_y.iloc[:, 0])
    return estimator


def predict(model: RegressorMixin, test_x: pd.DataFrame) -> pd.DataFrame:
    """Predict prices for the test split (same index as ``test_x``)."""
    return pd.DataFrame({"prediction": model.predict(test_x)}, index=test_x.index)


def evaluate_model(predictions: pd.DataFrame, test_y: pd.DataFrame) -> dict[str, float]:
    """R², MAE and RMSE of the predictions on the test split."""
    truth = test_y.iloc[:, 0].to_numpy(dtype=float)
    guess = predictions.loc[test_y.index, "prediction"].to_numpy(dtype=float)
    error = truth - guess
    total = float(np.sum((truth - truth.mean()) ** 2))
    return {
        "r2": 1.0 - float(np.sum(error**2)) / total if total else float("nan"),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "n_test": len(truth),
    }


TrainModel = node(train_model, inputs=["train_x", "train_y", "params:model"], outputs="model")
Predict = node(predict, inputs=["model", "test_x"], outputs="predictions")
EvaluateModel = node(evaluate_model, inputs=["predictions", "test_y"], outputs="metrics")

NODES = (TrainModel, Predict, EvaluateModel)
