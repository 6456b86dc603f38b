"""The benchmark suite runs end to end at toy sizes, so it cannot rot. Times are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks.results import HEADER

REPO = Path(__file__).resolve().parents[1]
ROWS = {"small", "large", "many nodes", "no-op rerun", "recovery", "reuse", "scheduler", "I/O"}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _table(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    end = next(i for i, r in enumerate(rows[1:], 1) if r[0] == "row")  # the memory table's header
    return rows[:end]


def test_quick_suite_writes_a_complete_table(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out), "--work-dir", str(tmp_path / "work")],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = out.read_text()
    assert "## Machine" in text and "## Peak memory (RSS)" in text
    header, rule, *rows = _table(text)
    assert header == HEADER and set(rule) == {"---"}
    assert {r[0] for r in rows} == ROWS
    for row, _, subject, reference, result, goal, status in rows:
        if status.startswith("pending"):
            assert row == "reuse"
            continue
        assert status in {"met", "**missed**", "info"}, (row, status)
        assert (status == "info") == (goal == "-"), (row, goal, status)  # a goal decides met/missed
        for cell in (subject, reference):
            values = [float(x) for x in NUMBER.findall(cell.split(":", 1)[1])]
            assert values and all(v > 0 for v in values), (row, cell)
        value = float(NUMBER.findall(result)[0])
        assert result.endswith("s") or value > 0, (row, result)
    cpu_text = text.split("## CPU time (user + system)")[1].split("\n## ")[0]
    cpu = [[c.strip() for c in line.strip("|").split(" | ")] for line in cpu_text.splitlines() if line.startswith("| ")]
    assert cpu[0] == ["row", "comparison", "luigi-tasks", "reference", "CPU ratio"]
    assert {r[0] for r in cpu[2:]} == {"small", "large", "many nodes", "scheduler"}
    for _, _, subject, reference, ratio in cpu[2:]:
        assert all(float(NUMBER.findall(cell.split(":", 1)[1])[0]) > 0 for cell in (subject, reference))
        assert float(NUMBER.findall(ratio)[0]) > 0
    memory_text = text.split("## Peak memory (RSS)")[1].split("\n## ")[0]
    memory = [line for line in memory_text.splitlines() if line.startswith(("| small", "| large"))]
    assert {line.split(" | ")[0].strip("| ") for line in memory} == {"small", "large"}
    assert all(float(line.split(" | ")[2].split()[0]) > 0 for line in memory)
