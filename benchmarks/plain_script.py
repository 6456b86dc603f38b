"""The house pipeline as a plain Python script: the reference of the small and large rows.

``python -m benchmarks.plain_script --run-id R`` does the example's reads, work and
writes in order, each step reading what the previous one wrote (as the Luigi tasks do).
``--minimal`` keeps data in memory and persists only what a user keeps: the model
inputs, the model, the predictions and the metrics.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.house import dataset_paths, node_functions, parameters, read, write

#: What the minimal script persists.
KEPT = frozenset({"train_x", "test_x", "train_y", "test_y", "model", "predictions", "metrics"})


class Store:
    """Datasets by name: written to their files; read back from them, or from memory."""

    def __init__(self, paths: dict[str, str], *, minimal: bool) -> None:
        self.paths, self.minimal, self.memory = paths, minimal, {}  # type: ignore[var-annotated]

    def save(self, name: str, value: Any) -> None:
        if self.minimal:
            self.memory[name] = value
        if not self.minimal or name in KEPT:
            write(self.paths[name], value)

    def load(self, name: str) -> Any:
        return self.memory[name] if name in self.memory else read(self.paths[name])


def run(root: Path, run_id: str, *, minimal: bool = False) -> dict[str, float]:
    """Run the house pipeline in ``root`` for ``run_id``; return the metrics."""
    f, params = node_functions(), parameters(root)
    store = Store(dataset_paths(root, run_id), minimal=minimal)
    store.save("preprocessed_houses", f.preprocess_houses(store.load("houses")))
    split = f.split_data(store.load("preprocessed_houses"), params["split"])
    for name, value in zip(("train_x", "test_x", "train_y", "test_y"), split, strict=True):
        store.save(name, value)
    store.save("model", f.train_model(store.load("train_x"), store.load("train_y"), params["model"]))
    store.save("predictions", f.predict(store.load("model"), store.load("test_x")))
    metrics: dict[str, float] = f.evaluate_model(store.load("predictions"), store.load("test_y"))
    store.save("metrics", metrics)
    return metrics


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--minimal", action="store_true", help="persist only model inputs, model, predictions, metrics")
    args = parser.parse_args(argv)
    print(run(Path.cwd(), args.run_id, minimal=args.minimal))


if __name__ == "__main__":
    main()
