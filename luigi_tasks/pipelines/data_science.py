"""Data science: model input -> fitted regressor -> test-set predictions -> metrics."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from luigi_tasks import node


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
    truth, guess = test_y.iloc[:, 0], predictions.loc[test_y.index, "prediction"]
    return {
        "r2": float(r2_score(truth, guess)),
        "mae": float(mean_absolute_error(truth, guess)),
        "rmse": float(np.sqrt(mean_squared_error(truth, guess))),
        "n_test": int(len(truth)),
    }


TrainModel = node(train_model, inputs=["train_x", "train_y", "params:model"], outputs="model")
Predict = node(predict, inputs=["model", "test_x"], outputs="predictions")
EvaluateModel = node(evaluate_model, inputs=["predictions", "test_y"], outputs="metrics")

NODES = (TrainModel, Predict, EvaluateModel)
