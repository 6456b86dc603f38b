"""Task classes whose parameters Luigi finds once per class, not on every call.

Luigi's ``Task.get_params()`` walks ``dir(cls)`` and ``getattr``s every attribute each
time it is called, and Luigi calls it for every task object it makes, every ``repr`` of a
task (each log line naming one), and for every registered class on each of the three
command-line parses of a ``luigi`` command. For a pipeline of 1000 nodes that was about a
third of a no-op rerun and a tenth of a full one (benchmarks/RESULTS.md). The task classes
luigi-tasks makes have parameters fixed when the class is made, so the list is kept.
"""

from __future__ import annotations

from typing import Any

import luigi

_CACHE = "_luigi_tasks_params"


class FixedParams:
    """Mixin for a ``luigi.Task`` subclass: :meth:`get_params` computed once per class.

    Put it before the Luigi base class (``class T(FixedParams, luigi.Task)``). A parameter
    added to such a class after its first use is not seen; luigi-tasks never does that.
    """

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        """Luigi's ``Task.get_params()``, kept in the class's own ``__dict__`` (a subclass
        that adds a parameter computes its own)."""
        params: list[tuple[str, Any]] | None = cls.__dict__.get(_CACHE)
        if params is None:
            params = super().get_params()  # type: ignore[misc]
            setattr(cls, _CACHE, params)
        return list(params)  # a copy: callers may change the list they get
