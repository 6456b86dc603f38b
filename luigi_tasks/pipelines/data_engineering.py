"""Data engineering: raw house sales -> a clean table -> train/test model input.

The functions are plain pandas code, testable without Luigi; the ``node(...)`` lines at
the bottom wire them to catalog datasets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from luigi_tasks import node

TARGET = "price"


def preprocess_houses(houses: pd.DataFrame) -> pd.DataFrame:
    """Turn yes/no columns into 0/1 and every column into a number.

    Example:
        >>> preprocess_houses(pd.DataFrame({"price": [1], "airco": ["yes"]})).airco.tolist()
        [1]

    Raises:
        ValueError: a column of numbers holds text (the message names the values and their
            rows: the table's index labels, 0 for the first line after a CSV's header), or a
            yes/no column holds anything else.
    """
    out = houses.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]):
            continue
        values = out[column].astype("string").str.strip()
        answers = values.str.lower()
        unknown = set(answers.dropna().unique()) - {"yes", "no"}
        if unknown or answers.isna().any():
            raise ValueError(_bad_cells(column, values, unknown))
        out[column] = (answers == "yes").astype("int8")
    return out


def _bad_cells(column: str, values: pd.Series, unknown: set[str]) -> str:
    """What is wrong in a text column that is not all yes/no (only on that error path: parsing
    every cell as a number costs more than the conversion itself)."""
    numbers = pd.to_numeric(values, errors="coerce")
    # Mostly numbers: one bad cell made pandas read a column of numbers as text.
    if numbers.notna().sum() > values.notna().sum() / 2:
        bad = values[numbers.isna() & values.notna()]
        shown = ", ".join(f"{value!r} (row {row})" for row, value in bad.head(5).items())
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return f"Column '{column}' should hold numbers, but holds {shown}{more}. Fix those cells."
    return f"Column '{column}' holds {sorted(map(str, unknown))[:5] or 'empty cells'}; expected only yes/no."


def split_data(
    houses: pd.DataFrame, split: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split into features and target, then train and test rows.

    ``split`` holds ``test_size`` and ``random_state`` (``config/parameters.yml``).
    Returns ``train_x, test_x, train_y, test_y``; the targets are one-column frames.
    """
    from sklearn.model_selection import train_test_split  # here: a run without this node skips its import

    features = houses.drop(columns=[TARGET])
    target = houses[[TARGET]]
    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=split["test_size"], random_state=split["random_state"]
    )
    return train_x, test_x, train_y, test_y


PreprocessHouses = node(preprocess_houses, inputs="houses", outputs="preprocessed_houses")
SplitData = node(
    split_data,
    inputs=["preprocessed_houses", "params:split"],
    outputs=["train_x", "test_x", "train_y", "test_y"],
)

NODES = (PreprocessHouses, SplitData)
