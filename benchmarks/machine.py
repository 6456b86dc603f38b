"""The machine a run was measured on: CPU, cores, memory, load, Python and package versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from benchmarks.generate import REPO

PACKAGES = ("luigi-tasks", "luigi", "tornado", "pandas", "pyarrow", "numpy", "scikit-learn", "fsspec", "PyYAML")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def load() -> str:
    """The 1, 5 and 15 minute load averages (other users of the machine show here)."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def describe() -> list[str]:
    """Markdown bullet lines describing this machine and software."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {_cpu_model()}, {cores} cores usable ({os.cpu_count()} online); memory {_memory_gib()}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        "- Packages: " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        f"- Commit: {_commit()}",
    ]
