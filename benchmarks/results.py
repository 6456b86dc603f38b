"""What a row finds, and the markdown that shows it.

A :class:`Finding` compares a subject (luigi-tasks) with a reference run in the same
rounds; its value is computed per round (a ratio, or a difference in seconds), so the
median and range shown are those of paired, interleaved runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.measure import Sample


@dataclass(frozen=True)
class Series:
    """The samples of one contender of a row."""

    name: str
    samples: Sequence[Sample]
    #: Nodes in the pipeline, to show milliseconds per node.
    nodes: int | None = None

    @property
    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    @property
    def cpus(self) -> list[float] | None:
        """CPU seconds of every sample, or ``None`` if one has none (an in-process run)."""
        cpus = [s.cpu for s in self.samples]
        return None if not cpus or None in cpus else cpus  # type: ignore[return-value]

    @property
    def rss(self) -> list[float]:
        return [s.peak_rss_mib for s in self.samples if s.peak_rss_mib is not None]

    def cell(self) -> str:
        text = f"{self.name}: {spread(self.walls, ' s')}"
        if self.nodes:
            text += f"; {spread([1000 * w / self.nodes for w in self.walls], ' ms/node', digits=2)}"
        return text


@dataclass(frozen=True)
class Goal:
    """An upper bound on a finding's median value."""

    limit: float
    unit: str  # "x" (ratio) or " s"

    def __str__(self) -> str:
        return f"<= {self.limit:g}{self.unit}"


@dataclass(frozen=True)
class Finding:
    """One line of the results table."""

    row: str
    comparison: str
    subject: Series | None
    reference: Series | None
    values: Sequence[float]
    unit: str  # "x" or " s"
    goal: Goal | None = None
    #: Set instead of values when the row could not be measured (e.g. a missing feature).
    pending: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def status(self) -> str:
        if self.pending:
            return self.pending
        if self.goal is None:
            return "info"
        return "met" if self.median <= self.goal.limit else "**missed**"

    def cells(self) -> list[str]:
        digits = 3 if self.unit == " s" else 2
        return [
            self.row,
            self.comparison,
            self.subject.cell() if self.subject else "-",
            self.reference.cell() if self.reference else "-",
            spread(self.values, self.unit, digits=digits) if self.values else "-",
            str(self.goal) if self.goal else "-",
            self.status,
        ]


def paired(
    row: str,
    comparison: str,
    subject: Series,
    reference: Series,
    *,
    goal: Goal | None = None,
    how: str = "ratio",
) -> Finding:
    """Compare two series round by round: ``ratio`` (subject / reference) or ``minus``."""
    op: Callable[[float, float], float] = (lambda a, b: a / b) if how == "ratio" else (lambda a, b: a - b)
    values = [op(a, b) for a, b in zip(subject.walls, reference.walls, strict=True)]
    return Finding(row, comparison, subject, reference, values, "x" if how == "ratio" else " s", goal)


def spread(values: Sequence[float], unit: str, *, digits: int = 2) -> str:
    """``median (min-max)`` of ``values``, e.g. ``1.07x (1.02-1.11)``."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    med = statistics.median(values)
    return f"{med:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


HEADER = ["row", "comparison", "luigi-tasks", "reference", "result", "goal", "status"]


def table(findings: Sequence[Finding]) -> str:
    """The results as a markdown table (median and min-max of the rounds in each cell)."""
    lines = [_line(HEADER), _line(["---"] * len(HEADER))]
    lines += [_line(f.cells()) for f in findings]
    return "\n".join(lines)


def memory_table(findings: Sequence[Finding], rows: Sequence[str]) -> str:
    """Peak RSS of every contender of ``rows`` (each series once)."""
    lines = [_line(["row", "contender", "peak RSS, MiB"]), _line(["---"] * 3)]
    seen: set[tuple[str, str]] = set()
    for f in findings:
        for series in (f.subject, f.reference):
            if f.row in rows and series and series.rss and (f.row, series.name) not in seen:
                seen.add((f.row, series.name))
                lines.append(_line([f.row, series.name, spread(series.rss, "", digits=0)]))
    return "\n".join(lines)


def cpu_table(findings: Sequence[Finding], rows: Sequence[str]) -> str:
    """CPU time (user + system) of the ratio findings of ``rows`` whose both sides are
    processes: each side's seconds, and the ratio per round."""
    lines = [_line(["row", "comparison", "luigi-tasks", "reference", "CPU ratio"]), _line(["---"] * 5)]
    for f in findings:
        if f.row not in rows or f.unit != "x" or not (f.subject and f.reference):
            continue
        subject, reference = f.subject.cpus, f.reference.cpus
        if subject is None or reference is None:
            continue
        ratios = [a / b for a, b in zip(subject, reference, strict=True) if b > 0]
        lines.append(_line([
            f.row, f.comparison, f"{f.subject.name}: {spread(subject, ' s')}",
            f"{f.reference.name}: {spread(reference, ' s')}", spread(ratios, "x") if ratios else "-",
        ]))
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
