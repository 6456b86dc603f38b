"""The toy pipeline's step_a and a node whose code is spread over its package, for fingerprint
tests: ``step_e`` (decorated) reads a constant, a default argument, a class, a module, a list of
functions and, inside its body, an import of ``toy_package``
(a package of its own: ``toy_pipeline``, a single-file module, is another one)."""

from __future__ import annotations

import pandas as pd
from toy_package import helpers
from toy_package.helpers import Shift
from toy_pipeline import A, _called

from luigi_tasks import PipelineTask, node

FACTOR = 1
ROWS = 2
#: Steps applied in turn, as teams list feature steps: their code counts as the node's.
STEPS = [helpers.clip]


@helpers.logged
def step_e(a: pd.DataFrame, rows: int = ROWS) -> pd.DataFrame:
    from toy_package.helpers import bump

    _called("e")
    out = bump(helpers.top(Shift()(a), rows))
    for step in STEPS:
        out = step(out)
    return out.assign(x=out["x"] * FACTOR * helpers.scale())


E = node(step_e, "a", "e", namespace="toy")


class ToyPackagePipeline(PipelineTask):
    """raw -> a -> e."""

    parts = (A, E)
