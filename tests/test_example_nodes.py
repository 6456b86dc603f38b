"""The example project's node functions, tested as plain functions (no Luigi)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from luigi_tasks.pipelines.data_engineering import preprocess_houses, split_data
from luigi_tasks.pipelines.data_science import evaluate_model, make_estimator, predict, train_model
from tests.conftest import REPO

SPLIT = {"test_size": 0.2, "random_state": 42}
LINEAR = {"estimator": "sklearn.linear_model.LinearRegression", "init_args": {}}


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / "01_raw" / "house.csv")


def test_preprocess_turns_yes_no_into_0_1_and_keeps_rows(houses: pd.DataFrame) -> None:
    out = preprocess_houses(houses)
    assert len(out) == len(houses) == 546
    assert all(pd.api.types.is_numeric_dtype(out[c]) for c in out.columns)
    assert out["airco"].tolist() == (houses["airco"] == "yes").astype(int).tolist()
    assert houses["airco"].dtype != out["airco"].dtype  # the input frame is not modified


def test_preprocess_refuses_values_other_than_yes_no() -> None:
    with pytest.raises(ValueError, match="Column 'airco' holds \\['maybe'\\]"):
        preprocess_houses(pd.DataFrame({"price": [1.0, 2.0], "airco": ["yes", "maybe"]}))


def test_preprocess_names_text_in_a_column_of_numbers_and_its_rows(houses: pd.DataFrame, tmp_path: Path) -> None:
    """One bad cell makes pandas read the whole column as text; the error names the cell."""
    raw = houses.astype({"lotsize": object, "bedrooms": object})
    raw.loc[2, "lotsize"] = "42k"
    raw.loc[[5, 9], "bedrooms"] = ["three", " n/a "]
    raw.to_csv(tmp_path / "house.csv", index=False)
    edited = pd.read_csv(tmp_path / "house.csv")  # as the raw dataset reads the edited file
    with pytest.raises(ValueError, match=re.escape("Column 'lotsize' should hold numbers, but holds '42k' (row 2).")):
        preprocess_houses(edited)
    with pytest.raises(ValueError, match=re.escape("Column 'bedrooms' should hold numbers, but holds 'three' (row 5), 'n/a' (row 9).")):
        preprocess_houses(edited.drop(columns=["lotsize"]))
    many = pd.DataFrame({"price": [1.0] * 20, "area": ["x"] * 7 + ["1"] * 13})
    with pytest.raises(ValueError, match=re.escape("holds 'x' (row 0), 'x' (row 1), 'x' (row 2), 'x' (row 3), 'x' (row 4) and 2 more.")):
        preprocess_houses(many)


def test_split_sizes_follow_parameters_and_are_reproducible(houses: pd.DataFrame) -> None:
    train_x, test_x, train_y, test_y = split_data(preprocess_houses(houses), SPLIT)
    assert (len(train_x), len(test_x)) == (436, 110)
    assert list(train_y.columns) == ["price"] and "price" not in train_x.columns
    assert train_x.index.equals(train_y.index) and test_x.index.equals(test_y.index)
    again = split_data(preprocess_houses(houses), SPLIT)
    assert again[1].index.equals(test_x.index)
    other = split_data(preprocess_houses(houses), {**SPLIT, "random_state": 1})
    assert not other[1].index.equals(test_x.index)


def test_linear_regression_scores_r2_near_0_6_on_the_real_table(houses: pd.DataFrame) -> None:
    train_x, test_x, train_y, test_y = split_data(preprocess_houses(houses), SPLIT)
    model = train_model(train_x, train_y, LINEAR)
    metrics = evaluate_model(predict(model, test_x), test_y)
    assert set(metrics) >= {"r2", "mae", "rmse"}
    assert 0.55 <= metrics["r2"] <= 0.75
    assert metrics["n_test"] == 110 and 0 < metrics["mae"] < metrics["rmse"]


def test_evaluate_is_exact_on_perfect_predictions() -> None:
    truth = pd.DataFrame({"price": [1.0, 2.0, 4.0]}, index=[3, 1, 2])
    preds = pd.DataFrame({"prediction": [2.0, 4.0, 1.0]}, index=[1, 2, 3])
    assert evaluate_model(preds, truth) == {"r2": 1.0, "mae": 0.0, "rmse": 0.0, "n_test": 3}


def test_estimator_comes_from_parameters_and_only_from_sklearn() -> None:
    ridge = make_estimator({"estimator": "sklearn.linear_model.Ridge", "init_args": {"alpha": 3.0}})
    assert type(ridge).__name__ == "Ridge" and ridge.alpha == 3.0
    with pytest.raises(ValueError, match="scikit-learn class path"):
        make_estimator({"estimator": "os.system"})


def test_evaluate_agrees_with_scikit_learn_metrics(houses: pd.DataFrame) -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    train_x, test_x, train_y, test_y = split_data(preprocess_houses(houses), {"test_size": 0.2, "random_state": 3})
    preds = predict(train_model(train_x, train_y, LINEAR), test_x)
    metrics = evaluate_model(preds, test_y)
    truth, guess = test_y.iloc[:, 0], preds["prediction"]
    assert metrics["r2"] == pytest.approx(r2_score(truth, guess), rel=1e-12)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(truth, guess), rel=1e-12)
    assert metrics["rmse"] == pytest.approx(mean_squared_error(truth, guess) ** 0.5, rel=1e-12)
